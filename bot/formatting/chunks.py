"""Messages within Telegram's limit: blocks packed into chunks, a block too long cut at a word."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.formatting.markup import _TAG_RE, MAX_TEXT, esc, utf16_len
from store.text import shorten


@dataclass(frozen=True)
class Reply:
    """One message to send: HTML text within the limit, and maybe a keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def chunk(blocks: Sequence[str], limit: int = MAX_TEXT, sep: str = "\n\n") -> list[str]:
    """Pack blocks into as few messages as fit `limit`; a block never straddles two messages."""
    return [text for text, _ in pack(blocks, limit, sep)]


def pack(
    blocks: Sequence[str], limit: int = MAX_TEXT, sep: str = "\n\n"
) -> list[tuple[str, list[int]]]:
    """`chunk`, also saying which blocks (by index) each message carries (the push's ledger needs it)."""
    messages: list[tuple[str, list[int]]] = []
    current, members = "", []
    for i, block in enumerate(blocks):
        if utf16_len(block) > limit:
            block = fit_block(block, limit)
        candidate = f"{current}{sep}{block}" if current else block
        if utf16_len(candidate) <= limit:
            current, members = candidate, [*members, i]
        else:
            messages.append((current, members))
            current, members = block, [i]
    if current:
        messages.append((current, members))
    return messages


def fit_block(block: str, limit: int) -> str:
    """An over-long block as plain escaped text cut to fit (tags are ours, so stripping is safe)."""
    plain = html.unescape(_TAG_RE.sub("", block))
    size = limit
    while True:
        text = esc(shorten(plain, size))
        if utf16_len(text) <= limit:
            return text
        size = max(1, min(size - 1, size * limit // utf16_len(text)))


def split_plain(text: str, limit: int) -> list[str]:
    """Long plain text (a full abstract) as escaped pieces of at most `limit`, cut between words."""
    pieces, rest = [], text.strip()
    while rest:
        size = min(len(rest), limit)
        while utf16_len(esc(rest[:size])) > limit:
            size = max(1, size * 9 // 10)
        if size < len(rest) and " " in rest[:size]:
            size = rest[:size].rindex(" ") + 1
        pieces.append(esc(rest[:size].strip()))
        rest = rest[size:].strip()
    return pieces


def replies(blocks: Sequence[str], keyboard: InlineKeyboardMarkup | None = None) -> list[Reply]:
    """Chunked messages; the keyboard goes under the last one, next to the results it serves."""
    texts = chunk([b for b in blocks if b])
    return [Reply(text, keyboard if i == len(texts) - 1 else None) for i, text in enumerate(texts)]
