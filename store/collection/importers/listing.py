"""The listing text the collection started from (docs/formats.md): a title on one line, a
blank line, its abstract (one or more lines, any length), a blank line, the next title...

Blank lines separate paragraphs; the lines of a paragraph are joined with spaces, so an abstract
wrapped over several lines is one abstract. A page header copied along with a listing ("Subscribe",
a date...) is skipped: it is what comes before the first title that is followed by a long (200+
characters) or wrapped abstract, when it cannot pair up into papers (see `_start`).
"""

from __future__ import annotations

from store.collection.importers.common import FormatError, Record, make_record

LONG_ABSTRACT_CHARS = 200  # a paragraph this long is surely an abstract (anchors the header's end)
MAX_TITLE_CHARS = 200  # a longer "title" means the file's pairs are out of step

Paragraph = tuple[int, str, int]  # (first line number, text joined with spaces, number of lines)


def _paragraphs(text: str) -> list[Paragraph]:
    """Blank-line separated paragraphs with their first line's number (1-based)."""
    out: list[Paragraph] = []
    lines: list[str] = []
    first = 0
    for no, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        if line.strip():
            first = first or no
            lines.append(line.strip())
        elif lines:
            out.append((first, " ".join(lines), len(lines)))
            lines, first = [], 0
    if lines:
        out.append((first, " ".join(lines), len(lines)))
    return out


def _is_title(par: Paragraph) -> bool:
    return par[2] == 1 and len(par[1]) < MAX_TITLE_CHARS


def _surely_abstract(par: Paragraph) -> bool:
    return par[2] > 1 or len(par[1]) >= LONG_ABSTRACT_CHARS


def _start(pars: list[Paragraph]) -> int | None:
    """Index of the first title. The first title with a long or wrapped abstract ends a header
    when the paragraphs before it cannot be papers (an odd number of them, or not title first);
    otherwise they are papers too, never dropped. None: no pairs at all."""
    for i in range(len(pars) - 1):
        if _is_title(pars[i]) and _surely_abstract(pars[i + 1]):
            pairs_before = i % 2 == 0 and all(_is_title(pars[j]) for j in range(0, i, 2))
            return 0 if pairs_before else i
    return 0 if len(pars) >= 2 and _is_title(pars[0]) else None


def looks_like_listing(text: str) -> bool:
    """True when the text holds a title paragraph followed by another paragraph."""
    return _start(_paragraphs(text)) is not None


def parse(text: str) -> list[Record]:
    """All (title, abstract) pairs after the header; a title without abstract refuses the file."""
    pars = _paragraphs(text)
    start = _start(pars)
    if start is None:
        raise FormatError("no title/abstract pairs found (see docs/formats.md, Listing format)")
    records: list[Record] = []
    body = pars[start:]
    for i in range(0, len(body), 2):
        title_no, title, _ = body[i]
        if not _is_title(body[i]):
            raise FormatError(
                f"line {title_no}: expected a title (one line, under {MAX_TITLE_CHARS} "
                "characters, then a blank line), found a paragraph"
            )
        if i + 1 >= len(body):
            raise FormatError(f"line {title_no}: title without an abstract")
        _, abstract, _ = body[i + 1]
        records.append(
            make_record(title=title, abstract=abstract, source="listing", where=f"line {title_no}")
        )
    return records
