"""RIS (`.ris`, as Zotero, Mendeley, EndNote and publishers export it): `TY  - ` ... `ER  - ` records.

A small parser of our own rather than rispy: rispy silently drops a last record without `ER`, folds
a record missing its `ER` into the next one and reports no line numbers, while a library file must
be refused whole with the line that is wrong. The format itself is a tag per line, which is all
this reads.
"""

from __future__ import annotations

import re

from store.collection.importers.common import LIMITS, FormatError, Record
from store.collection.importers.library import (
    first_name_first,
    library_record,
    partial_date,
    split_keywords,
)

_TAG = re.compile(r"([A-Z][A-Z0-9])  -(?: (.*))?")
# Fields that may name the arXiv paper ("arXiv preprint arXiv:2103.00020", "arXiv:2103.00020 [cs]").
_ID_TAGS = ("M1", "T2", "JO", "JF", "J2", "AN", "N1")

Fields = dict[str, list[str]]
_LONGEST = max(LIMITS.values())  # a field's limit; make_record then applies its own


def looks_like_ris(text: str) -> bool:
    """The first non-empty line opens a record (`TY  - `)."""
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            return _TAG.fullmatch(line.rstrip()) is not None and line.startswith("TY")
    return False


def parse(text: str) -> list[Record]:
    """Records for every `TY`...`ER` record; a line out of place refuses the file, naming it."""
    records: list[Record] = []
    start, fields, last = 0, None, None
    for no, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = line.rstrip()
        if not line.strip():
            continue
        match = _TAG.fullmatch(line)
        if match is None:
            if fields is None or last is None:
                raise FormatError(f"line {no}: expected a tag line like 'TY  - JOUR'")
            fields[last][-1] += " " + line.strip()  # a long value wrapped onto the next line
            if len(fields[last][-1]) > _LONGEST:  # refused before the joins grow quadratic
                raise FormatError(f"line {no}: {last} is over the {_LONGEST:,}-character limit")
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if fields is not None:
                raise FormatError(f"line {no}: TY before the ER of the record at line {start}")
            start, fields, last = no, {}, None
        elif fields is None:
            raise FormatError(f"line {no}: {tag} outside a record (records start with TY)")
        if tag == "ER":
            records.append(_record(fields, f"record at line {start}"))
            fields = None
            continue
        fields.setdefault(tag, []).append(value)
        last = tag
    if fields is not None:
        raise FormatError(f"line {start}: record without an ER line")
    if not records:
        raise FormatError("no RIS records found")
    return records


def _first(fields: Fields, *tags: str) -> str | None:
    return next((fields[t][0] for t in tags if fields.get(t)), None)


def _record(fields: Fields, where: str) -> Record:
    return library_record(
        title=_first(fields, "TI", "T1", "CT", "BT"),
        abstract=_first(fields, "AB", "N2"),
        source="ris",
        where=where,
        authors=[first_name_first(a) for a in fields.get("AU", []) + fields.get("A1", [])],
        published=_date(_first(fields, "DA", "PY", "Y1"), where),
        keywords=split_keywords(fields.get("KW", [])),
        urls=[u for value in fields.get("UR", []) for u in re.split(r"[;\s]+", value) if u],
        doi=_first(fields, "DO"),
        id_texts=[v for tag in _ID_TAGS for v in fields.get(tag, [])],
    )


def _date(value: str | None, where: str) -> str | None:
    """RIS dates: "2021", "2021///", "2021/02/26/", or ISO "2021-02-26"."""
    if not value:
        return None
    pieces = [*re.split(r"[/-]", value.strip()), None, None]
    return partial_date(pieces[0], pieces[1], pieces[2], where)
