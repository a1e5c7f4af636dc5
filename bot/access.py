"""Who may use the bot: allowed chats, maintainers, group administrators, and a per-user rate limit.

Plain functions and one small class, so the rules are tested without Telegram; handlers ask them
before doing any work.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from telegram import Bot, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

log = logging.getLogger(__name__)

QUESTIONS_PER_MINUTE = 10
WINDOW_SECONDS = 60.0


def chat_allowed(allowed: frozenset[int], chat_id: int) -> bool:
    """An empty allow-list means no restriction."""
    return not allowed or chat_id in allowed


def is_maintainer(admins: frozenset[int], user_id: int | None) -> bool:
    """PAPERBOT_ADMINS may run maintenance commands (/fetch, /push) from Telegram."""
    return user_id is not None and user_id in admins


async def may_manage_chat(
    bot: Bot, chat_type: str, chat_id: int, user_id: int | None, admins: frozenset[int]
) -> bool:
    """Subscriptions: anyone in a private chat; in groups, chat administrators (and maintainers)."""
    if chat_type == ChatType.PRIVATE or is_maintainer(admins, user_id):
        return True
    if user_id is None:
        return False
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def may_curate(
    bot: Bot, chat_type: str, chat_id: int, user_id: int | None, admins: frozenset[int]
) -> bool:
    """Changing the shared collection (/remove, and /add under PAPERBOT_ADD=admins): maintainers,
    and a group's administrators. A private chat has no administrators but its user, who must
    then be a maintainer: the collection is the whole team's."""
    if is_maintainer(admins, user_id):
        return True
    if chat_type == ChatType.PRIVATE:
        return False
    return await may_manage_chat(bot, chat_type, chat_id, user_id, admins)


async def may_add(
    bot: Bot, policy: str, chat_type: str, chat_id: int, user_id: int | None, admins: frozenset[int]
) -> bool:
    """PAPERBOT_ADD: "members" lets anyone in an allowed chat add papers, "admins" only those who
    may curate."""
    if policy == "members":
        return True
    return await may_curate(bot, chat_type, chat_id, user_id, admins)


class Verdict(Enum):
    """What to do with a user's next question."""

    ANSWER = "answer"
    NOTICE = "notice"  # over the limit: say so once
    SILENT = "silent"  # still over: say nothing until the window passes


class RateLimiter:
    """At most `limit` questions per user per window; one notice when crossed, then silence."""

    def __init__(
        self,
        limit: int = QUESTIONS_PER_MINUTE,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._noticed: set[int] = set()
        self._lock = threading.Lock()

    def check(self, user_id: int) -> Verdict:
        """Count this question and say whether to answer it."""
        if self.limit <= 0:
            return Verdict.ANSWER
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(user_id, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.limit:
                times.append(now)
                self._noticed.discard(user_id)
                return Verdict.ANSWER
            if user_id in self._noticed:
                return Verdict.SILENT
            self._noticed.add(user_id)
            return Verdict.NOTICE

    def retry_in(self, user_id: int) -> int:
        """Seconds until the user's oldest counted question leaves the window."""
        with self._lock:
            times = self._seen.get(user_id)
            if not times:
                return 0
            return max(1, int(times[0] + self.window - self.clock() + 0.999))


# ---------------------------------------------------------------- the rules, applied to updates

RATE_NOTICE = (
    "You're asking faster than I can answer: {limit} questions a minute. Try again in {wait} s."
)


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: in a chat that is not allowed, answer nothing and leave it."""
    settings = context.bot_data["settings"]
    chat = update.effective_chat
    if chat is None:
        if not settings.allowed_chats:
            return
        # No chat to check (a button under an inline message, an inline query): not allowed.
        log.warning(
            "update %s has no chat to check against PAPERBOT_ALLOWED_CHATS: ignored",
            update.update_id,
        )
        if update.callback_query:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()
        raise ApplicationHandlerStop
    if chat_allowed(settings.allowed_chats, chat.id):
        return
    log.warning("update from chat %s, which is not in PAPERBOT_ALLOWED_CHATS: ignored", chat.id)
    if chat.type != ChatType.PRIVATE:
        with contextlib.suppress(TelegramError):
            await context.bot.leave_chat(chat.id)
    if update.callback_query:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    raise ApplicationHandlerStop


async def within_rate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Count a question against its user's limit; over it, one short notice, then silence."""
    user = update.effective_user
    limiter: RateLimiter | None = context.bot_data.get("limiter")
    if user is None or limiter is None:
        return True
    verdict = limiter.check(user.id)
    if verdict is Verdict.NOTICE:
        text = RATE_NOTICE.format(limit=limiter.limit, wait=limiter.retry_in(user.id))
        if update.callback_query:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer(text, show_alert=True)
        elif update.effective_message:
            with contextlib.suppress(TelegramError):
                await update.effective_message.reply_text(text)
    elif verdict is Verdict.SILENT and update.callback_query:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    return verdict is Verdict.ANSWER
