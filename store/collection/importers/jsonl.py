"""JSON Lines in the project's own export format (`paperbot export`), for round trips and bulk loads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from store.collection.clean import classify_link
from store.collection.importers.common import FormatError, Record, check_length, make_record
from store.collection.importers.library import LIBRARY_SOURCES


def parse(text: str) -> list[Record]:
    """One record per non-empty line; a bad line refuses the file, naming the line."""
    return list(iter_records(text.splitlines()))


def iter_records(lines: Iterable[str], first_no: int = 1) -> Iterator[Record]:
    """Records from lines as they are read, so a million-paper export never sits in memory whole.
    `first_no` is the number of the first line (for error messages)."""
    for no, line in enumerate(lines, first_no):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise FormatError(f"line {no}: broken JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(obj, dict):
            raise FormatError(f"line {no}: expected a JSON object")
        yield line_record(obj, f"line {no}")


def _library_entry(obj: dict) -> bool:
    """An exported reference-library entry (its abstract may be empty)."""
    source = obj.get("source")
    return isinstance(source, str) and source in LIBRARY_SOURCES


def line_record(obj: dict, where: str) -> Record:
    """An exported paper back into a record, keeping its links and raw text (a library entry's
    abstract may be empty: it was imported by its title, and the export must re-import)."""
    links = obj.get("links") or []
    if not isinstance(links, list) or not all(
        isinstance(x, dict) and isinstance(x.get("url"), str) for x in links
    ):
        raise FormatError(f"{where}: links must be a list of {{url, kind}} objects")
    version = obj.get("version")
    if version is not None and not isinstance(version, int):
        raise FormatError(f"{where}: version must be a whole number")
    exported = [
        {
            "url": x["url"],
            "kind": x.get("kind")
            if x.get("kind") in ("code", "model", "demo", "project", "other")
            else classify_link(x["url"]),
        }
        for x in links
    ]
    record = make_record(
        title=obj.get("title"),
        abstract=obj.get("raw") or obj.get("abstract"),
        source=obj.get("source") if isinstance(obj.get("source"), str) else "jsonl",
        where=where,
        arxiv_id=obj.get("arxiv_id") if isinstance(obj.get("arxiv_id"), str) else None,
        version=version,
        authors=obj.get("authors"),
        keywords=obj.get("keywords"),
        published=obj.get("published"),
        listed=obj.get("listed"),
        ai_summary=obj.get("ai_summary"),
        abstract_required=not _library_entry(obj),
        extra_links=exported,
    )
    # The export's links come first, in its order and with its kinds (a round trip changes
    # nothing); links found in the abstract that it lacks (a hand edit) follow.
    ours = {link["url"].lower(): link for link in exported}
    found = [link for link in record["links"] if link["url"].lower() not in ours]
    record["links"] = [*ours.values(), *found]
    if isinstance(obj.get("id"), str) and obj["id"]:
        record["id"] = obj["id"]
    if isinstance(obj.get("abstract"), str) and obj.get("raw"):
        check_length(obj["abstract"], "abstract", where)
        record["abstract"] = obj["abstract"]
    if isinstance(obj.get("added_at"), str) and _TIMESTAMP.fullmatch(obj["added_at"]):
        record["added_at"] = obj["added_at"]  # a restored collection keeps when papers came
    return record


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
