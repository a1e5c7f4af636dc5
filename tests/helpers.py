"""Helpers shared by test modules: what Telegram accepts as HTML, a reply's buttons, and the dense
BM25 oracle the ranked paths are compared with. Test modules import from here, never from each
other."""

from __future__ import annotations

import re

import numpy as np

from bot import formatting as fmt
from store.search.index import Index

_TAG = re.compile(r'<(/?)(b|i|u|s|code|pre|a)(?: href="([^"<>]*)")?>')
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def assert_telegram_html(text: str) -> None:
    """Fail unless Telegram's HTML parse mode would accept `text` within the length limit.

    Every `<` opens one of the few supported tags, tags nest properly, every `&` is an entity
    Telegram knows: the rules whose violation makes a whole sendMessage fail.
    """
    assert text.strip(), "empty message"
    assert fmt.utf16_len(text) <= fmt.MAX_TEXT, f"{fmt.utf16_len(text)} > {fmt.MAX_TEXT}"
    stack: list[str] = []
    for raw in re.finditer(r"<[^>]*>?", text):
        tag = _TAG.fullmatch(raw.group())
        assert tag, f"stray or unsupported tag {raw.group()!r} at {raw.start()}"
        closing, name, href = tag.groups()
        if closing:
            assert stack and stack.pop() == name, f"unbalanced </{name}> at {raw.start()}"
        else:
            assert (name == "a") == (href is not None), f"bad <{name}> at {raw.start()}"
            stack.append(name)
    assert not stack, f"unclosed tags {stack}"
    assert ">" not in _TAG.sub("", text), "stray >"
    for amp in re.finditer("&", text):
        assert _ENTITY.match(text, amp.start()), f"bare & at {amp.start()}"


def buttons(reply: fmt.Reply) -> list[tuple[str, str]]:
    """(text, callback data or url) of every button, row by row."""
    markup = reply.keyboard
    rows = markup.inline_keyboard if markup else ()
    return [(b.text, b.callback_data or b.url) for row in rows for b in row]


def dense_weighted_scores(index: Index, weights: dict[str, float]) -> np.ndarray:
    """Every paper's score for weighted query terms: the sum of weight x BM25Okapi's score of the
    term alone (with every weight 1 per occurrence, BM25Okapi.get_scores itself)."""
    out = np.zeros(len(index.ids))
    for term, weight in weights.items():
        if weight:
            out += weight * index.scores([term])
    return out
