"""Buttons: their callback data, decoded presses, and the keyboards under answers.

Callback data (at most 64 bytes, so an old button still means something after a restart):
  m|t|<offset>|<key>   "More"/"Back" on a /topic page: edit that page in place
  m|a|<offset>|<key>   "More" under an answer: send the next results as a /topic page
  s|<paper id>         "Similar": papers like this one
  a|<arXiv id>         "Add": add a paper a question linked to (as /add <arXiv id> would)
  r|<paper id>         "Remove": confirm a /remove
`<key>` is the query itself when it fits, else `~` + a hash the bot remembers until a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit

from bot.formatting.markup import is_safe_url
from store.answers.engine import Hit

MAX_DATA = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64 bytes


MAX_OFFSET = 9999  # keeps "m|t|<offset>|" at most 9 bytes


MAX_LITERAL = MAX_DATA - len("m|t|9999|")  # bytes of a query carried as itself


HASH_PREFIX = "~"


@dataclass(frozen=True)
class Callback:
    """A decoded button press."""

    action: str  # "more", "similar", "add" or "remove"
    mode: str = ""  # for "more": "t" (edit the page) or "a" (send a new page)
    offset: int = 0
    key: str = ""  # "more": query or hashed key; "similar", "remove": paper id; "add": arXiv id


def query_key(query: str) -> str:
    """The query itself when it fits a button (restart-safe), else a short stable hash."""
    if len(query.encode("utf-8")) <= MAX_LITERAL and not query.startswith(HASH_PREFIX):
        return query
    return HASH_PREFIX + hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]


def is_hashed(key: str) -> bool:
    """True when the key needs the bot's memory of recent queries."""
    return key.startswith(HASH_PREFIX)


def more_data(mode: str, offset: int, query: str) -> str:
    """Callback data for a More/Back button."""
    return f"m|{mode}|{offset}|{query_key(query)}"


def similar_data(paper_id: str) -> str | None:
    """Callback data for a Similar button, or None when the id is too long for one."""
    return _id_data("s", paper_id)


def add_data(arxiv_id: str) -> str | None:
    """Callback data for an Add button: the arXiv id itself, so it works after a restart."""
    return _id_data("a", arxiv_id)


def remove_data(paper_id: str) -> str | None:
    """Callback data for the Remove button that confirms a /remove."""
    return _id_data("r", paper_id)


def _id_data(prefix: str, key: str) -> str | None:
    data = f"{prefix}|{key}"
    return data if len(data.encode("utf-8")) <= MAX_DATA else None


ID_ACTIONS = {"s": "similar", "a": "add", "r": "remove"}  # buttons that carry one id


def parse_callback(data: str | None) -> Callback | None:
    """Decode callback data; None for anything malformed or from another version."""
    parts = (data or "").split("|", 3)
    if parts[0] in ID_ACTIONS and len(parts) >= 2 and (data or "")[2:]:  # an id may hold "|"
        return Callback(ID_ACTIONS[parts[0]], key=(data or "")[2:])
    if parts[0] == "m" and len(parts) == 4 and parts[1] in ("t", "a") and parts[3]:
        offset = parts[2]  # ASCII digits only: "²".isdigit() holds, but int("²") fails
        if offset.isascii() and offset.isdigit():
            return Callback("more", mode=parts[1], offset=int(offset), key=parts[3])
    return None


def hit_rows(hits: Sequence[Hit], first: int = 1) -> list[list[InlineKeyboardButton]]:
    """Per result: a URL button to its code (when it has a usable link) and a Similar button."""
    rows = []
    for number, hit in enumerate(hits, first):
        row = []
        code = [u for u in hit.links_by_kind().get("code", []) if is_safe_url(u)]
        if code:
            row.append(InlineKeyboardButton(f"Code {number}", url=code[0]))
        data = similar_data(hit.id)
        if data:
            row.append(InlineKeyboardButton(f"Similar {number}", callback_data=data))
        if row:
            rows.append(row)
    return rows


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    """A markup, or None rather than an empty keyboard."""
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None
