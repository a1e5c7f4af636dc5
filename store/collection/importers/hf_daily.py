"""Hugging Face daily papers: the `/api/daily_papers` array and the single `/api/papers/{id}` object."""

from __future__ import annotations

import json
from typing import Any

from store.collection.clean import classify_link, parse_arxiv_id
from store.collection.importers.common import FormatError, Record, make_record, text_field


def parse(text: str) -> list[Record]:
    """Records from a daily-papers array (items with a `paper`) or one flat paper object."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"broken JSON: {exc}") from None
    if isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise FormatError("expected a JSON array of papers or one paper object")
    return [paper_record(item, f"item {i}") for i, item in enumerate(items, 1)]


def paper_record(item: Any, where: str) -> Record:
    """One daily-papers item (or a flat paper object) as a record."""
    if not isinstance(item, dict):
        raise FormatError(f"{where}: expected an object")
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise FormatError(f"{where}: paper must be an object")
    raw_id = text_field(paper.get("id"), "id", where)
    parsed = parse_arxiv_id(raw_id)
    authors = paper.get("authors")
    if authors is not None:
        if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
            raise FormatError(f"{where}: authors must be a list of objects")
        authors = [a.get("name") for a in authors if not a.get("hidden")]
    extra = []
    for field in ("githubRepo", "projectPage"):
        url = text_field(paper.get(field), field, where)
        if url:
            kind = "code" if field == "githubRepo" else classify_link(url)
            extra.append({"url": url, "kind": kind if kind != "other" else "project"})
    return make_record(
        title=paper.get("title", item.get("title")),
        abstract=paper.get("summary", item.get("summary")),
        source="hf",
        where=where,
        arxiv_id=parsed[0] if parsed else None,
        version=parsed[1] if parsed else None,
        authors=authors,
        keywords=paper.get("ai_keywords"),
        published=paper.get("publishedAt"),
        listed=paper.get("submittedOnDailyAt") or item.get("publishedAt"),
        ai_summary=paper.get("ai_summary"),
        extra_links=extra,
    )
