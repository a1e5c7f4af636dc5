"""arXiv API Atom feeds. Parsed with defusedxml: entity expansion (billion laughs) is refused."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from store.collection.clean import parse_arxiv_id
from store.collection.importers.common import FormatError, Record, make_record

NS = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def parse(text: str) -> list[Record]:
    """Records for every entry; an arXiv error feed or broken XML refuses the whole feed."""
    records: list[Record] = []
    for i, entry in enumerate(_entries(text), 1):
        _raise_if_error(entry)
        records.append(_entry_record(entry, f"entry {i}"))
    return records


def parse_lookup(text: str) -> tuple[list[Record], list[str]]:
    """An `id_list` answer: the records of the entries that are papers, and one line for each that
    is not (an error entry, or one without id or title: what arXiv sends for an id it does not
    know), so the papers found are still added. Broken XML still refuses the whole answer."""
    records: list[Record] = []
    problems: list[str] = []
    for i, entry in enumerate(_entries(text), 1):
        try:
            _raise_if_error(entry)
            records.append(_entry_record(entry, f"entry {i}"))
        except FormatError as exc:
            problems.append(str(exc))
    return records, problems


def _entries(text: str) -> list[Element]:
    """The feed's <entry> elements, or FormatError for unsafe, broken or non-Atom XML."""
    try:
        root = SafeET.fromstring(text)
    except DefusedXmlException as exc:
        raise FormatError(f"unsafe XML refused ({type(exc).__name__})") from None
    except ParseError as exc:
        raise FormatError(f"broken XML at line {exc.position[0]}") from None
    if root.tag != f"{{{NS['a']}}}feed":
        raise FormatError("XML is not an Atom feed")
    return root.findall("a:entry", NS)


def _raise_if_error(entry: Element) -> None:
    if _text(entry, "a:title").strip().lower() == "error":
        raise FormatError(f"arXiv answered an error: {_text(entry, 'a:summary')[:200]}")


def _text(entry: Element, path: str) -> str:
    node = entry.find(path, NS)
    return (node.text or "") if node is not None else ""


def _entry_record(entry: Element, where: str) -> Record:
    parsed = parse_arxiv_id(_text(entry, "a:id"))
    if not parsed:
        raise FormatError(f"{where}: no arXiv id in <id>")
    authors = [_text(a, "a:name") for a in entry.findall("a:author", NS)]
    categories = [c.get("term", "") for c in entry.findall("a:category", NS)]
    return make_record(
        title=_text(entry, "a:title"),
        abstract=_text(entry, "a:summary"),
        source="arxiv",
        where=where,
        arxiv_id=parsed[0],
        version=parsed[1],
        authors=authors,
        keywords=[c for c in categories if c],
        published=_text(entry, "a:published") or None,
        link_text=_text(entry, "arxiv:comment"),
    )
