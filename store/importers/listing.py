"""The listing text the collection started from: title line, blank line, abstract line, repeated.

Page header lines before the first title ("Subscribe", a date...) are not papers: the first paper is
the first short line followed by a long one.
"""

from __future__ import annotations

from store.importers.common import FormatError, Record, make_record

MIN_ABSTRACT_CHARS = 200
MAX_TITLE_CHARS = 400


def _blocks(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based line numbers."""
    return [(no, line.strip()) for no, line in enumerate(text.splitlines(), 1) if line.strip()]


def _is_abstract(line: str) -> bool:
    return len(line) >= MIN_ABSTRACT_CHARS


def _first_title(lines: list[tuple[int, str]]) -> int | None:
    for i in range(len(lines) - 1):
        if not _is_abstract(lines[i][1]) and _is_abstract(lines[i + 1][1]):
            return i
    return None


def looks_like_listing(text: str) -> bool:
    """True when some short line is followed by an abstract-length line."""
    return _first_title(_blocks(text)) is not None


def parse(text: str) -> list[Record]:
    """All (title, abstract) pairs after the header; a title without abstract refuses the file."""
    lines = _blocks(text)
    start = _first_title(lines)
    if start is None:
        raise FormatError("no title/abstract pairs found")
    records: list[Record] = []
    body = lines[start:]
    for i in range(0, len(body), 2):
        title_no, title = body[i]
        if _is_abstract(title) or len(title) > MAX_TITLE_CHARS:
            raise FormatError(f"line {title_no}: expected a title line, found a paragraph")
        if i + 1 >= len(body) or not _is_abstract(body[i + 1][1]):
            raise FormatError(f"line {title_no}: title without an abstract")
        _, abstract = body[i + 1]
        records.append(
            make_record(title=title, abstract=abstract, source="listing", where=f"line {title_no}")
        )
    return records
