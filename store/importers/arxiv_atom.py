"""arXiv API Atom feeds. Parsed with defusedxml: entity expansion (billion laughs) is refused."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from store.clean import parse_arxiv_id
from store.importers.common import FormatError, Record, make_record

NS = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def parse(text: str) -> list[Record]:
    """Records for every entry; an arXiv error feed or broken XML refuses the whole feed."""
    try:
        root = SafeET.fromstring(text)
    except DefusedXmlException as exc:
        raise FormatError(f"unsafe XML refused ({type(exc).__name__})") from None
    except ParseError as exc:
        raise FormatError(f"broken XML at line {exc.position[0]}") from None
    if root.tag != f"{{{NS['a']}}}feed":
        raise FormatError("XML is not an Atom feed")
    entries = root.findall("a:entry", NS)
    records = []
    for i, entry in enumerate(entries, 1):
        title = _text(entry, "a:title")
        if title.strip().lower() == "error":
            raise FormatError(f"arXiv answered an error: {_text(entry, 'a:summary')[:200]}")
        records.append(_entry_record(entry, f"entry {i}"))
    return records


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
