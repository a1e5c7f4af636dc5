"""BibTeX (`.bib`, as Zotero, Mendeley, JabRef, Google Scholar and arXiv export it), with bibtexparser 2.

bibtexparser splits the file into blocks and reports the ones it could not read (with their line);
its LaTeX-decoding middleware turns `{\\"u}`, `\\'e`, `{\\ss}` and braces into plain text. What it
leaves to us is string concatenation (`cvpr # " 2021"`), which its resolver skips, and the month
macros BibTeX predefines: `_Interpolate` does both before anything is decoded, within bounds (an
`@string` doubling bomb is refused, not expanded). URL, DOI and eprint are read as written
(decoding would take `~` for a space and `%` for a comment). A bare `%` inside a field is text, as
BibTeX reads it (`reaching 78.3% top-1`): it is escaped before the LaTeX decoder, which would take
it for a comment and drop the rest of the line. Only the fields a paper is made of are decoded, in
pieces, so a long field costs linear time (pylatexenc alone is superlinear: 1 MB took 26 s).
"""

from __future__ import annotations

import logging
import re

import bibtexparser
from bibtexparser import middlewares
from bibtexparser.library import Library
from bibtexparser.model import DuplicateBlockKeyBlock, Entry

from store.collection.importers.common import LIMITS, FormatError, Record
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
# The fields a record is made of: the only ones decoded (a long `file` or `annote` is skipped).
_DECODED = ("title", "abstract", "author", "keywords", "date", "year", "month", "day", *_ID_FIELDS)
# Fields capped before decoding, as written (LIMITS names the field's limit); the others read
# here are short by nature and capped at the largest limit.
_CAPPED = {"title": "title", "abstract": "abstract", "author": "authors", "keywords": "keywords"}
_FIELD_CAP = max(LIMITS.values())
# Text one file's @string macros and `#` concatenations may produce in all (its fields together).
EXPANSION_BUDGET = 64 * 1024 * 1024
_PIECE = 4096  # characters the LaTeX decoder is given at a time
# What the decoder changes; a piece without any of it is already plain text (and skips it).
_LATEX = re.compile(r"[\\{}$%~&]|--|``|''|[!?]`")

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
            _Decode(keep_math_mode=False),
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
        budget = [EXPANSION_BUDGET]
        for string in library.strings:
            where = f"line {string.start_line + 1}: @string {string.key}"
            macros[string.key.lower()] = _expand(string.value, macros, where, _FIELD_CAP, budget)
            string.value = macros[string.key.lower()]
        for entry in library.entries:
            for field in entry.fields:
                key = field.key.lower()
                where = f"entry {entry.key!r} (line {entry.start_line + 1})"
                used = key in _DECODED or key in VERBATIM  # the rest only count to the budget
                limit = LIMITS.get(_CAPPED.get(key, ""), _FIELD_CAP if used else EXPANSION_BUDGET)
                name = field.key if used else None
                field.value = _expand(field.value, macros, where, limit, budget, name)
                if key in _DECODED:
                    field.value = _escape_percent(field.value)
            entry.parser_metadata[_METADATA] = {
                f.key.lower(): f.value for f in entry.fields if f.key.lower() in VERBATIM
            }
        return library


def _escape_percent(text: str) -> str:
    """`%` not already escaped as `\\%` becomes `\\%`: text, as BibTeX reads it, not a comment."""
    return re.sub(r"(?<!\\)((?:\\\\)*)%", r"\1\\%", text) if "%" in text else text


class _Decode(middlewares.LatexDecodingMiddleware):
    """bibtexparser's LaTeX decoding, for the fields a record is made of only, a piece at a time
    (cut at spaces outside braces and math, never after a control word), so its cost is linear."""

    @classmethod
    def metadata_key(cls) -> str:
        return "paperbot_latex_decoding"

    def transform_entry(self, entry, library):
        kept = [f for f in entry.fields if f.key.lower() not in _DECODED]
        for field in kept:
            entry.fields.remove(field)
        block = super().transform_entry(entry, library)
        for field in kept:
            entry.fields.append(field)
        return block

    def transform_string(self, string, library):
        return string  # already expanded into the fields that use it

    def _transform_python_value_string(self, python_string: str) -> tuple[str, str]:
        out = []
        for piece in _pieces(python_string):
            if not _LATEX.search(piece):
                out.append(piece)
                continue
            text, error = super()._transform_python_value_string(piece)
            if error:
                return python_string, error
            out.append(text)
        return "".join(out), ""


def _pieces(text: str) -> list[str]:
    """`text` cut into pieces of about `_PIECE` characters, each ending with a space that stands
    outside braces and `$...$` and not right after a control word (which would eat it)."""
    if len(text) <= _PIECE:
        return [text]
    pieces, start, depth, math, i = [], 0, 0, False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        elif ch == "$":
            math = not math
        elif (
            ch == " "
            and not depth
            and not math
            and i - start >= _PIECE
            and not re.search(r"\\[A-Za-z]+$", text[max(start, i - 40) : i])
        ):
            pieces.append(text[start : i + 1])
            start = i + 1
        i += 1
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _expand(
    value: str,
    macros: dict[str, str],
    where: str,
    limit: int,
    budget: list[int],
    name: str | None = None,
) -> str:
    """The text a BibTeX value stands for: pieces joined by `#`, each `{...}`, `"..."`, a number
    or a macro name (an undefined macro is empty, as in BibTeX). A value longer than `limit` (a
    field named `name`), or a file whose values together pass the budget, is refused."""
    out, size = [], 0
    for piece in _top_level_pieces(value) if "#" in value else [value.strip()]:
        if len(piece) >= 2 and (piece[0], piece[-1]) in (("{", "}"), ('"', '"')):
            piece = piece[1:-1]
        elif not piece.isdigit():
            piece = macros.get(piece.lower(), "")
        size += len(piece)
        if size > limit:
            what = f"{name} is over" if name else "expands past"
            raise FormatError(f"{where}: {what} the {limit:,}-character limit")
        out.append(piece)
    budget[0] -= size
    if budget[0] < 0:
        raise FormatError(
            f"{where}: @string macros expand past {EXPANSION_BUDGET // (1024 * 1024)} MB of text"
        )
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
