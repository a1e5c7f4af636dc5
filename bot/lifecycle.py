"""Stopping without losing a question: the inbox of received updates, and a stop with a deadline.

python-telegram-bot confirms fetched updates to Telegram (the next getUpdates offset, and once
more when the updater stops) before their handlers have run, so holding back the acknowledgement
cannot keep a question safe across a stop. Instead every update is written to the `inbox` table
(store/collection/chats.py) before it is queued, marked handled when its handler returns, and whatever is
still unhandled at the next start is handled then. An update Telegram delivers a second time is
recognised by its id and dropped.

A stop (SIGTERM, Ctrl-C) gives the handlers in progress STOP_GRACE seconds; then the ones still
waiting (typically on Telegram's flood limit in the rate limiter) are cancelled and stay in the
inbox for the next start. A handler cancelled while its request to Telegram was on the wire may
or may not have been answered; like the digest ledger, it is marked handled (never twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, Application

from store.collection.chats import Inbox

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds handlers in progress get to finish after a stop signal
_UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("update_id", default=None)


class InboxQueue(asyncio.Queue):
    """The Application's update queue: an update is in the inbox before it is queued, so
    Telegram's acknowledgement (which follows) never covers an update only held in memory."""

    def __init__(self, inbox: Inbox | None) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: Any) -> None:
        """Record a new update, then queue it; one received before is dropped."""
        if isinstance(item, Update) and self.inbox is not None:
            payload = item.to_dict()
            new = await asyncio.to_thread(self.inbox.add, item.update_id, payload, time.time())
            if not new:
                log.info("update %s was received before: not handled again", item.update_id)
                return
        await super().put(item)


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


def open_inbox(db_path: Any) -> Inbox | None:
    """The inbox beside the papers, or None (logged) when the database cannot be written."""
    if db_path is None:
        return None
    try:
        return Inbox(db_path)
    except Exception as exc:  # read-only database: questions still work, stops may lose some
        log.warning("no inbox (%s): questions received just before a stop may be lost", exc)
        return None
