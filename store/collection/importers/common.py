"""What every importer produces, and the checks they share."""

from __future__ import annotations

import re
from typing import Any

from store.collection.clean import ABSTRACT_LIMIT, clean_abstract, collapse_spaces, extract_links

Record = dict[str, Any]


class FormatError(ValueError):
    """A file or feed that cannot be imported; the message is one line naming what is wrong."""


# The longest text a field may hold, in characters: far above any real paper's (arXiv caps an
# abstract at 1,920 characters, a 3,000-author physics paper lists ~80,000 characters of names),
# far below what would make a question slow (a question reads and scores a shown paper's whole
# abstract). A longer field refuses the file with one line naming the field.
LIMITS = {
    "title": 2_000,
    "abstract": ABSTRACT_LIMIT,
    "ai_summary": ABSTRACT_LIMIT,
    "authors": 300_000,  # all the names together
    "keywords": 20_000,  # all the keywords together
    "url": 4_000,
}


def check_length(value: str, name: str, where: str, limit_name: str | None = None) -> None:
    """Refuse a field longer than its limit in `LIMITS`, naming it and both sizes."""
    limit = LIMITS[limit_name or name]
    if len(value) > limit:
        raise FormatError(
            f"{where}: {name} is {len(value):,} characters, over the {limit:,}-character limit"
        )


def make_record(
    *,
    title: Any,
    abstract: Any,
    source: str,
    where: str,
    raw: str | None = None,
    arxiv_id: str | None = None,
    version: int | None = None,
    authors: Any = None,
    keywords: Any = None,
    published: Any = None,
    listed: Any = None,
    ai_summary: Any = None,
    extra_links: list[dict[str, str]] | None = None,
    link_text: str = "",
    abstract_required: bool = True,
) -> Record:
    """Validate one paper's fields and build its record (clean abstract, extracted links).

    `where` names the item for error messages ("line 7", "item 3"). Feeds must give an abstract
    (one without is a broken item); a reference library's entry often has none, and is still the
    team's paper, so library importers pass `abstract_required=False` and it is stored by title.
    """
    title = text_field(title, "title", where, required=True)
    abstract_raw = text_field(abstract, "abstract", where, required=abstract_required)
    check_length(title, "title", where)
    check_length(abstract_raw, "abstract", where)
    check_length(raw or "", "abstract", where)
    title = collapse_spaces(title)
    abstract = clean_abstract(abstract_raw, title)
    for name, value in (("title", title), ("abstract", abstract)):
        if not value and (name == "title" or abstract_required):  # only control characters
            raise FormatError(f"{where}: missing {name}")
    links = extract_links(abstract_raw + " " + link_text)
    seen = {link["url"].lower() for link in links}
    for link in extra_links or []:
        check_length(link["url"], "link", where, "url")
        if link["url"].lower() not in seen:
            seen.add(link["url"].lower())
            links.append(link)
    summary = text_field(ai_summary, "ai_summary", where) or None
    check_length(summary or "", "ai_summary", where)
    return {
        "arxiv_id": arxiv_id,
        "version": version,
        "title": title,
        "abstract": abstract,
        "raw": raw if raw is not None else abstract_raw,
        "authors": str_list(authors, "authors", where),
        "keywords": str_list(keywords, "keywords", where),
        "published": date_field(published, "published", where),
        "listed": date_field(listed, "listed", where),
        "ai_summary": summary,
        "source": source,
        "links": links,
    }


def text_field(value: Any, name: str, where: str, required: bool = False) -> str:
    """A string field; None is empty, anything else but a string is a format error."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FormatError(f"{where}: {name} must be text, not {type(value).__name__}")
    value = value.replace("\x00", "")
    if required and not value.strip():
        raise FormatError(f"{where}: missing {name}")
    return value.strip()


def str_list(value: Any, name: str, where: str) -> list[str]:
    """A list of strings (None is empty); a wrong type is a format error."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"{where}: {name} must be a list of text")
    check_length("".join(value), name, where)
    return [collapse_spaces(v) for v in value if v.strip()]


def date_field(value: Any, name: str, where: str) -> str | None:
    """An ISO date or timestamp, kept as YYYY-MM-DD; a reference library often knows only the
    year or the month, kept as YYYY or YYYY-MM rather than a made-up day."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and len(value) >= 10 and value[:4].isdigit():
        return value[:10]
    if isinstance(value, str) and _PARTIAL_DATE.fullmatch(value):
        return value
    raise FormatError(f"{where}: {name} must be an ISO date")


_PARTIAL_DATE = re.compile(r"\d{4}(?:-(?:0[1-9]|1[0-2]))?")
