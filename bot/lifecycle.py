"""Stopping without losing a question: the inbox of received updates, and a stop with a deadline.

python-telegram-bot confirms fetched updates to Telegram (the next getUpdates offset, and once
more when the updater stops) before their handlers have run, so holding back the acknowledgement
cannot keep a question safe across a stop. Instead every update is written to the inbox (a
file of its own beside the papers, store/collection/chats.py) before it is queued, marked handled when its handler returns, and whatever is
still unhandled at the next start is handled then. An update Telegram delivers a second time is
recognised by its bot, id and content, and dropped. Should the polling task end by itself, the
process stops with a non-zero exit so systemd (Restart=on-failure) starts it again.

A stop (SIGTERM, Ctrl-C) gives the handlers in progress STOP_GRACE seconds; then the ones still
waiting (typically on Telegram's flood limit in the rate limiter) are cancelled and stay in the
inbox for the next start. A handler cancelled while its request to Telegram was on the wire may
or may not have been answered; like the digest ledger, it is marked handled (never twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import signal
import sys
import time
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, Application

from store.collection.chats import Inbox

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds handlers in progress get to finish after a stop signal
REACH_RETRIES = (5, 10, 20, 40, 60)  # seconds between tries to reach Telegram at start
POLLING_TASK = "_Updater__polling_task"  # python-telegram-bot 22's (private) polling task
INBOX_RETRIES = (
    0.2,
    1.0,
    3.0,
)  # pauses between tries of an inbox write (its own file, rarely busy)
_UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("update_id", default=None)


class InboxQueue(asyncio.Queue):
    """The Application's update queue: an update is in the inbox before it is queued, so
    Telegram's acknowledgement (which follows) never covers an update only held in memory.

    `put` never raises: python-telegram-bot's polling task dies on any exception from it (the
    bot would go deaf). A write that keeps failing is retried, logged, and the update is handled
    anyway, from memory only (a stop at that moment could lose it; silence surely would).
    """

    def __init__(self, inbox: Inbox | None) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: Any) -> None:
        """Record a new update, then queue it; one received before is dropped."""
        if isinstance(item, Update) and self.inbox is not None:
            new = await self._record(item)
            if not new:
                log.info("update %s was received before: not handled again", item.update_id)
                return
        await super().put(item)

    async def _record(self, update: Update) -> bool:
        """Whether the update is new; True (handle it) when the inbox cannot be written."""
        payload = update.to_dict()
        for attempt, pause in enumerate((*INBOX_RETRIES, None), start=1):
            try:
                return await asyncio.to_thread(
                    self.inbox.add, update.update_id, payload, time.time()
                )
            except Exception as exc:
                if pause is None:
                    log.error(
                        "update %s: the inbox could not be written after %d tries (%s); it is "
                        "handled from memory",
                        update.update_id,
                        attempt,
                        exc,
                    )
                    return True
                log.warning(
                    "update %s: inbox write failed (%s); retrying in %.1f s",
                    update.update_id,
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)
        return True


class TrackingRateLimiter(AIORateLimiter):
    """AIORateLimiter that remembers which updates had a request on the wire when cancelled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uncertain: set[int] = set()

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        """Run the request; a cancellation that lands while it is on the wire is noted."""

        async def on_the_wire(*a: Any, **kw: Any) -> Any:
            try:
                return await callback(*a, **kw)
            except asyncio.CancelledError:
                update_id = _UPDATE.get()
                if update_id is not None:
                    self.uncertain.add(update_id)
                raise

        return await super().process_request(
            on_the_wire, args, kwargs, endpoint, data, rate_limit_args
        )


class PaperbotApplication(Application):
    """PTB's Application with the inbox (handled updates are marked) and a bounded stop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inbox: Inbox | None = None
        self.handling: set[asyncio.Task] = set()
        self.past_deadline = False
        self.polling_died: str | None = None  # why, when polling ended by itself: exit non-zero
        self.polling_error: BaseException | None = None

    async def start(self) -> None:
        """PTB's start, and a watch on the polling task (run_polling starts it just before): if it
        ends while the bot runs, the bot stops so the service manager restarts it."""
        await super().start()
        task = getattr(self.updater, POLLING_TASK, None) if self.updater else None
        if task is not None:
            task.add_done_callback(self._polling_ended)

    def _polling_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or not self.running or self.updater is None:
            return
        if not self.updater.running:  # a stop in progress
            return
        exc = task.exception()
        self.polling_died = f"{type(exc).__name__}: {exc}" if exc else "it returned"
        self.polling_error = exc
        log.error("polling stopped by itself (%s): stopping, to be restarted", self.polling_died)
        # The Updater's stop awaits this task and would raise its error again, cutting short
        # run_polling's orderly stop (handlers, inbox, vectors): it is handled here instead.
        if getattr(self.updater, POLLING_TASK, None) is task:
            setattr(self.updater, POLLING_TASK, None)
        self.stop_running()

    async def process_update(self, update: object) -> None:
        """Handle an update; mark it handled unless the stop cancelled it first."""
        if not isinstance(update, Update) or self.inbox is None:
            await super().process_update(update)
            return
        if self.past_deadline:
            return  # stopping: left in the inbox for the next start
        task = asyncio.current_task()
        self.handling.add(task)
        token = _UPDATE.set(update.update_id)
        try:
            await super().process_update(update)
        except asyncio.CancelledError:
            if self._was_on_the_wire(update.update_id):
                await self._mark_handled(update.update_id)
                log.warning(
                    "update %s: its reply was on its way at the stop deadline; Telegram may "
                    "have delivered it, so it is not answered again",
                    update.update_id,
                )
            raise
        finally:
            _UPDATE.reset(token)
            self.handling.discard(task)
        await self._mark_handled(update.update_id)

    def _was_on_the_wire(self, update_id: int) -> bool:
        limiter = self.bot.rate_limiter
        return isinstance(limiter, TrackingRateLimiter) and update_id in limiter.uncertain

    async def _mark_handled(self, update_id: int) -> None:
        with contextlib.suppress(Exception):  # a failed mark replays it: better than a crash
            await asyncio.to_thread(self.inbox.done, update_id, time.time())

    async def stop(self) -> None:
        """PTB's stop, but handlers still running STOP_GRACE seconds in are cancelled."""
        stopping = asyncio.ensure_future(super().stop())
        done, _ = await asyncio.wait({stopping}, timeout=STOP_GRACE)
        if not done:
            self.past_deadline = True
            log.warning(
                "stopping: %d updates still in progress after %.0f s are left for the next start",
                len(self.handling),
                STOP_GRACE,
            )
            while not stopping.done():
                for task in list(self.handling):
                    task.cancel()
                await asyncio.wait({stopping}, timeout=0.1)
        await stopping

    def replay_inbox(self) -> int:
        """Queue the updates a previous run received but did not handle; how many."""
        if self.inbox is None:
            return 0
        self.inbox.prune(time.time())
        pending = self.inbox.pending()
        for payload in pending:
            self.update_queue.put_nowait(Update.de_json(payload, self.bot))
        return len(pending)


def open_inbox(db_path: Any, bot_id: int = 0) -> Inbox | None:
    """The inbox beside the papers, or None (logged) when its file cannot be written."""
    if db_path is None:
        return None
    try:
        return Inbox(db_path, bot_id)
    except Exception as exc:  # read-only database: questions still work, stops may lose some
        log.warning("no inbox (%s): questions received just before a stop may be lost", exc)
        return None


def wait_for_telegram(token: str, base_url: str | None) -> None:
    """Before the Application starts: reach Telegram, retrying on network failures with one line
    each (its plan in it) instead of a traceback and an exit. InvalidToken is raised as before;
    SIGTERM meanwhile exits quietly (nothing has started yet)."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    async def reach() -> None:
        async with Bot(token, **({"base_url": base_url} if base_url else {})):
            pass  # initialize() asks Telegram who the bot is

    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for attempt in itertools.count():
            try:
                asyncio.run(reach())
                if attempt:
                    log.info("Telegram reached after %d failed tries", attempt)
                return
            except InvalidToken:
                raise
            except NetworkError as exc:
                pause = REACH_RETRIES[min(attempt, len(REACH_RETRIES) - 1)]
                log.warning(
                    "Telegram is unreachable (%s); retrying in %d s, then every %d s at most, "
                    "until it answers (SIGTERM or Ctrl-C stops)",
                    exc.message,
                    pause,
                    REACH_RETRIES[-1],
                )
                time.sleep(pause)
    finally:
        signal.signal(signal.SIGTERM, previous)
