"""BibTeX (`.bib`, as Zotero, Mendeley, JabRef, Google Scholar and arXiv export it), with bibtexparser 2.

bibtexparser splits the file into blocks and reports the ones it could not read (with their line);
its LaTeX-decoding middleware turns `{\\"u}`, `\\'e`, `{\\ss}` and braces into plain text. What it
leaves to us is string concatenation (`cvpr # " 2021"`), which its resolver skips, and the month
macros BibTeX predefines: `_Interpolate` does both before anything is decoded. URL, DOI and eprint
are read as written (decoding would take `~` for a space and `%` for a comment).
"""

from __future__ import annotations

import logging
import re

import bibtexparser
from bibtexparser import middlewares
from bibtexparser.library import Library
from bibtexparser.model import DuplicateBlockKeyBlock, Entry

from store.collection.importers.common import FormatError, Record
from store.collection.importers.library import (
    MONTHS,
    first_name_first,
    library_record,
    partial_date,
    split_keywords,
)

VERBATIM = ("url", "doi", "eprint", "archiveprefix", "eprinttype")
_METADATA = "paperbot_verbatim"
_MONTH_NAMES = (
    "January February March April May June July August September October November December".split()
)
# Fields that may name the arXiv paper besides eprint ("arXiv preprint arXiv:2103.00020").
_ID_FIELDS = ("journal", "journaltitle", "booktitle", "note", "howpublished", "number")

logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # its errors reach us as blocks


def looks_like_bibtex(text: str) -> bool:
    """An `@type{` or `@type(` at the start of a line: every BibTeX file has one."""
    return re.search(r"(?m)^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", text[:200_000]) is not None


def parse(text: str) -> list[Record]:
    """Records for every entry; a block bibtexparser cannot read refuses the whole file."""
    library = bibtexparser.parse_string(
        text,
        parse_stack=[
            _Interpolate(),
            middlewares.LatexDecodingMiddleware(keep_math_mode=False),
            middlewares.SeparateCoAuthors(),
        ],
    )
    if library.failed_blocks:
        raise FormatError(_failure(library.failed_blocks[0]))
    if not library.entries:
        raise FormatError("no BibTeX entries found")
    return [_record(entry) for entry in library.entries]


def _failure(block) -> str:
    """One line: where the first unreadable block starts, and why."""
    where = f"line {(block.start_line or 0) + 1}"
    if isinstance(block, DuplicateBlockKeyBlock):
        return f"{where}: entry key {block.key!r} used twice"
    error = block.error
    text = getattr(error, "abort_reason", None) or getattr(error, "message", None) or str(error)
    reason = text.split(". Note:")[0].strip().splitlines()
    return f"{where}: unreadable entry ({reason[0] if reason else type(error).__name__})"


def _record(entry: Entry) -> Record:
    fields = {f.key.lower(): f.value for f in entry.fields}
    raw = entry.parser_metadata.get(_METADATA, {})
    where = f"entry {entry.key!r} (line {entry.start_line + 1})"
    prefix = (raw.get("archiveprefix") or raw.get("eprinttype") or "arxiv").strip().lower()
    eprint = f"arXiv:{raw.get('eprint', '')}" if prefix == "arxiv" else ""
    authors = fields.get("author", [])
    return library_record(
        title=fields.get("title"),
        abstract=fields.get("abstract"),
        source="bibtex",
        where=where,
        authors=[first_name_first(a) for a in (authors if isinstance(authors, list) else [])],
        published=_date(fields, where),
        keywords=split_keywords(fields.get("keywords")),
        urls=_unescape(raw.get("url", "")).split(),
        doi=raw.get("doi"),
        id_texts=[eprint, *(str(fields.get(k, "")) for k in _ID_FIELDS)],
    )


def _unescape(url: str) -> str:
    """`https://github.com/a\\_b` as BibTeX files escape it, back to the address."""
    return re.sub(r"\\([_%&#~$])", r"\1", url)


def _date(fields: dict, where: str) -> str | None:
    """biblatex's `date` (ISO) wins; else BibTeX's year and month."""
    date = str(fields.get("date") or "").strip()
    if re.fullmatch(r"\d{4}(-\d{2}){0,2}", date):
        return date
    return partial_date(fields.get("year") or None, fields.get("month"), fields.get("day"), where)


class _Interpolate(middlewares.LibraryMiddleware):
    """Resolve @string macros, `#` concatenation and month macros, and drop the outer braces or
    quotes, for strings and fields alike; keep URL, DOI and eprint verbatim for later."""

    @classmethod
    def metadata_key(cls) -> str:
        return "paperbot_interpolate"

    def transform(self, library: Library) -> Library:
        macros = {m: name for m, name in zip(MONTHS, _MONTH_NAMES, strict=True)}
        for string in library.strings:
            macros[string.key.lower()] = _expand(string.value, macros)
            string.value = macros[string.key.lower()]
        for entry in library.entries:
            for field in entry.fields:
                field.value = _expand(field.value, macros)
            entry.parser_metadata[_METADATA] = {
                f.key.lower(): f.value for f in entry.fields if f.key.lower() in VERBATIM
            }
        return library


def _expand(value: str, macros: dict[str, str]) -> str:
    """The text a BibTeX value stands for: pieces joined by `#`, each `{...}`, `"..."`, a number
    or a macro name (an undefined macro is empty, as in BibTeX)."""
    out = []
    for piece in _top_level_pieces(value):
        if len(piece) >= 2 and (piece[0], piece[-1]) in (("{", "}"), ('"', '"')):
            out.append(piece[1:-1])
        elif piece.isdigit():
            out.append(piece)
        else:
            out.append(macros.get(piece.lower(), ""))
    return "".join(out)


def _top_level_pieces(value: str) -> list[str]:
    """`value` split at each `#` outside braces and quotes, each piece stripped."""
    pieces, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == "{" and (i == 0 or value[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or value[i - 1] != "\\"):
            depth -= 1
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif ch == "#" and depth == 0 and not quoted:
            pieces.append(value[start:i].strip())
            start = i + 1
    pieces.append(value[start:].strip())
    return pieces
