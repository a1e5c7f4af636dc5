"""What the reference-library formats (BibTeX, CSL JSON, RIS) share once a format is read.

A library entry differs from a feed item in three ways handled here once: it may have no abstract
(stored by its title, filled later from arXiv), it names its arXiv paper in any of several fields
(eprint, URL, DOI, "arXiv preprint arXiv:..." journal lines), and its dates are often a year or a
month. The arXiv id is what lets an entry merge with the same paper from the feeds.
"""

from __future__ import annotations

import re
from typing import Any

from store.collection.clean import classify_link
from store.collection.importers.arxiv_ids import find_refs
from store.collection.importers.common import FormatError, Record, make_record

# Sources the library importers write: `paperbot import` marks these papers as the team's.
LIBRARY_SOURCES = frozenset({"bibtex", "csl", "ris"})

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def library_record(
    *,
    title: str | None,
    abstract: str | None,
    source: str,
    where: str,
    authors: list[str],
    published: str | None,
    keywords: list[str],
    urls: list[str],
    doi: str | None,
    id_texts: list[str],
) -> Record:
    """One library entry as a record. `id_texts` are fields that may name the arXiv paper, most
    telling first (eprint before a journal line); one counts only if it says "arXiv" (a note's
    "see also 2103.00020" is another paper). The DOI and the URLs are tried after them."""
    doi = (doi or "").strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
    named = [text for text in id_texts if "arxiv" in (text or "").lower()]
    refs = [ref for text in [*named, doi, *urls] for ref in find_refs(text or "")]
    links = [
        {"url": url, "kind": classify_link(url)}
        for url in urls
        if url.startswith(("http://", "https://")) and not find_refs(url)
    ]
    if doi and not find_refs(doi):
        links.append({"url": f"https://doi.org/{doi}", "kind": "other"})
    return make_record(
        title=title,
        abstract=abstract,
        source=source,
        where=where,
        arxiv_id=refs[0].id if refs else None,
        version=max((r.version or 0 for r in refs if r.id == refs[0].id), default=0) or None,
        authors=[a for a in authors if a.strip()],
        keywords=keywords,
        published=published,
        extra_links=links,
        abstract_required=False,
    )


def first_name_first(name: str) -> str:
    """ "Radford, Alec" -> "Alec Radford"; "King, Jr, Martin" -> "Martin King Jr": libraries write
    names family first, feeds given name first, and the two should read alike."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}".strip()
    if len(parts) == 3:
        return f"{parts[2]} {parts[0]} {parts[1]}".strip()
    return name.strip()


def split_keywords(value: Any) -> list[str]:
    """Keywords given as one text ("a, b; c") or as a list of texts."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out += [k.strip() for k in re.split(r"[;,]", item) if k.strip()]
    return list(dict.fromkeys(out))


def partial_date(year: Any, month: Any = None, day: Any = None, where: str = "") -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD from a library's year/month/day, as precise as it is known.
    A month may be a number or a name ("feb", "February"); an unreadable year refuses the entry."""
    if year in (None, ""):
        return None
    text = str(year).strip()
    if not re.fullmatch(r"\d{4}", text):
        raise FormatError(f"{where}: year must be four digits, not {text[:20]!r}")
    mm = month_number(month)
    if mm is None:
        return text
    text += f"-{mm:02d}"
    try:
        dd = int(str(day).strip()) if day not in (None, "") else 0
    except ValueError:
        dd = 0
    return text + (f"-{dd:02d}" if 1 <= dd <= 31 else "")


def month_number(month: Any) -> int | None:
    """1-12 for "2", "02", "feb", "February"; None when it is missing or unreadable."""
    text = str(month).strip().lower() if month not in (None, "") else ""
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else None
    return MONTHS.index(text[:3]) + 1 if text[:3] in MONTHS else None
