"""CSL JSON, the array of items Zotero ("Export Library... > CSL JSON") and Mendeley write.

Plain `json`: the format is a list of objects with well-known keys, nothing a library would add.
"""

from __future__ import annotations

import json
import re
from typing import Any

from store.collection.importers.common import FormatError, Record, text_field
from store.collection.importers.library import library_record, partial_date, split_keywords

# Keys only CSL items carry; an HF daily item has "paper", an exported paper "abstract" and "raw".
_CSL_KEYS = frozenset({"type", "issued", "container-title", "DOI", "URL", "citation-key"})
# The rich-text markup CSL allows in titles and abstracts.
_MARKUP = re.compile(r"</?(?:i|b|sup|sub|span|sc)(?:\s[^>]*)?>", re.IGNORECASE)


def looks_like_csl(data: Any) -> bool:
    """A JSON array whose first item is an object with a `type` and another CSL key."""
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return False
    item = data[0]
    return "type" in item and len(_CSL_KEYS & item.keys()) >= 2 and "paper" not in item


def parse(text: str) -> list[Record]:
    """Records for every item; one malformed item refuses the file, naming it."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"broken JSON: {exc}") from None
    if not isinstance(data, list):
        raise FormatError("expected a CSL JSON array of items")
    return [_record(item, i) for i, item in enumerate(data, 1)]


def _record(item: Any, number: int) -> Record:
    if not isinstance(item, dict):
        raise FormatError(f"item {number}: expected an object")
    where = f"item {number}" + (f" ({item['id']})" if isinstance(item.get("id"), str) else "")
    return library_record(
        title=_markup_free(text_field(item.get("title"), "title", where)),
        abstract=_markup_free(text_field(item.get("abstract"), "abstract", where)),
        source="csl",
        where=where,
        authors=_names(item.get("author"), where),
        published=_issued(item.get("issued"), where),
        keywords=split_keywords(item.get("keyword")),
        urls=text_field(item.get("URL"), "URL", where).split(),
        doi=text_field(item.get("DOI"), "DOI", where),
        id_texts=[
            _as_text(item.get(k)) for k in ("number", "container-title", "archive_location", "note")
        ],
    )


def _markup_free(text: str) -> str:
    return _MARKUP.sub("", text)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _names(value: Any, where: str) -> list[str]:
    """CSL names ({"given", "family"} or {"literal"}) as "Given Family"."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(n, dict) for n in value):
        raise FormatError(f"{where}: author must be a list of name objects")
    names = []
    for name in value:
        if isinstance(name.get("literal"), str):
            names.append(name["literal"])
            continue
        parts = [name.get(k) for k in ("given", "non-dropping-particle", "family", "suffix")]
        names.append(" ".join(p for p in parts if isinstance(p, str) and p.strip()))
    return names


def _issued(value: Any, where: str) -> str | None:
    """`{"date-parts": [[2021, 2, 26]]}` or `{"raw": "2021-02-26"}` as YYYY[-MM[-DD]]."""
    if not isinstance(value, dict):
        return None
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        first = [*parts[0], None, None][:3]
        return partial_date(first[0], first[1], first[2], where)
    raw = value.get("raw")
    if isinstance(raw, str) and re.match(r"\d{4}", raw.strip()):
        pieces = re.split(r"[-/]", raw.strip()[:10]) + [None, None]
        return partial_date(pieces[0], pieces[1], pieces[2], where)
    return None
