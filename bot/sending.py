"""Sending replies and reading a command's argument: the one way every handler talks back.

Handlers build `Reply` lists with plain functions (bot/formatting.py); this module puts them on
the wire, so the fallbacks (a keyboard Telegram refuses, quoting in groups) hold everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import Message
from telegram.error import BadRequest

from bot.formatting import Reply

log = logging.getLogger(__name__)


@dataclass
class ButtonOutcome:
    """What a button press does: replies to send or to edit in, and the toast to show."""

    replies: list[Reply] = field(default_factory=list)
    edit: bool = False
    alert: str | None = None


async def send(message: Message, replies: Sequence[Reply]) -> list[Message]:
    """Reply in the message's chat (and topic); in groups the first part quotes the question.
    Returns the messages sent (a follow-up replies to one of them)."""
    sent = []
    for i, reply in enumerate(replies):
        quote = None if i == 0 else False  # None: PTB quotes in groups, not in private chats
        try:
            sent.append(
                await message.reply_text(reply.text, reply_markup=reply.keyboard, do_quote=quote)
            )
        except BadRequest as exc:
            if reply.keyboard is None or "button" not in str(exc).lower():
                raise
            log.warning("keyboard refused (%s); sending without it", exc)
            sent.append(await message.reply_text(reply.text, do_quote=quote))
    return sent


def argument(message: Message) -> str:
    """Everything after the command, spacing kept (context.args would split it on whitespace)."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""
