"""Telegram HTML pieces: escaping, quoting a user back, highlighted snippets, safe links.

Everything that comes from a paper or a user goes through `esc`; the only tags are ours."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from telegram.constants import MessageLimit

from store.answers.engine import clean_query
from store.text import shorten, word_cut

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096


TITLE_CHARS = 250


SNIPPET_CHARS = 1200


ECHO_CHARS = 120  # how much of a user's text a reply quotes back


LINK_KINDS = ("model", "demo", "project", "other")


_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s<>\"]*)?$")


_TAG_RE = re.compile(r"<[^>]*>")


def esc(text: str) -> str:
    """Escape text for Telegram HTML: `<`, `>` and `&` (quotes only matter inside attributes)."""
    return html.escape(text or "", quote=False)


def echo(text: str) -> str:
    """A user's text quoted back in a reply: printable characters only, short, escaped."""
    return esc(shorten(clean_query(text), ECHO_CHARS))


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def highlight(text: str, marks: Iterable[tuple[int, int]], limit: int = SNIPPET_CHARS) -> str:
    """Escaped `text` (cut to `limit`) with the marked spans in bold; bad spans are skipped."""
    text = text or ""
    cut, tail = text, ""
    if len(text) > limit:
        cut, tail = word_cut(text, limit), "…"
    out, pos = [], 0
    for start, end in sorted(marks):
        if start < pos or end > len(cut) or start >= end:
            continue
        out += [esc(cut[pos:start]), "<b>", esc(cut[start:end]), "</b>"]
        pos = end
    out += [esc(cut[pos:]), tail]
    return "".join(out)


def is_safe_url(url: str | None) -> bool:
    """Only plain http(s) URLs become links or buttons: Telegram rejects a whole message with a bad one."""
    return bool(url) and len(url) <= 2000 and bool(_URL_RE.match(url))


def display_url(url: str) -> str:
    """A URL as people read it: no scheme, no www, not too long."""
    return shorten(re.sub(r"^https?://(www\.)?", "", url).rstrip("/"), 60)


def link(url: str | None, label: str) -> str:
    """`<a href>` around the escaped label, or just the label when the URL is unusable."""
    if not is_safe_url(url):
        return esc(label)
    return f'<a href="{html.escape(url, quote=True)}">{esc(label)}</a>'
