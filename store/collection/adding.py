"""The team adds papers by arXiv id or link (`paperbot add`, the bot's `/add`), and fills the
abstracts a reference library lacked, from the arXiv API.

Plain functions over an open database and a `Fetcher`: no printing, no Telegram. The caller brings
the index up to date afterwards (`Answers.refresh()` in the bot, `sync_index` on the command line),
as after any import. Every lookup is one `id_list` request per 100 ids (the API's advice for
many papers), paced and retried by the fetcher like `paperbot fetch`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from store.collection import db as store_db
from store.collection.importers import FormatError, Record
from store.collection.importers.arxiv_atom import parse_lookup
from store.collection.importers.arxiv_ids import parse_ref
from store.collection.importers.fetch import ARXIV_URL, FeedError, Fetcher
from store.collection.importers.library import LIBRARY_SOURCES

BATCH = 100  # ids per arXiv request, when adding and when filling abstracts

# What happened to one argument of an add.
ADDED, PRESENT, UPDATED, NOT_FOUND, UNRECOGNISED, FAILED = (
    "added",
    "present",
    "updated",
    "not_found",
    "unrecognised",
    "failed",
)


@dataclass
class AddOutcome:
    """One argument of `/add` or `paperbot add`, and what became of it (one reply line)."""

    ref: str  # the argument as the user wrote it
    status: str  # ADDED, PRESENT, UPDATED, NOT_FOUND, UNRECOGNISED or FAILED
    arxiv_id: str | None = None
    paper_id: str | None = None  # the stored paper, for the reply's card
    title: str | None = None
    version: int | None = None  # the stored version after the add
    previous_version: int | None = None  # before it, for UPDATED
    reason: str | None = None  # why NOT_FOUND or FAILED, when arXiv said

    def __str__(self) -> str:
        name = self.arxiv_id or self.ref
        if self.status == ADDED:
            return f"added: {self.title} [{name}]"
        if self.status == UPDATED:
            return (
                f"already in the collection, updated to v{self.version} "
                f"(was v{self.previous_version or 1}): {self.title} [{name}]"
            )
        if self.status == PRESENT:
            return f"already in the collection: {self.title} [{name}]"
        if self.status == UNRECOGNISED:
            return f"not an arXiv id, arXiv/HF link or arXiv DOI: {self.ref}"
        tail = f" ({self.reason})" if self.reason else ""
        if self.status == NOT_FOUND:
            return f"not found on arXiv: {name}{tail}"
        return f"could not ask arXiv for {name}{tail}"


@dataclass
class AddReport:
    """Every argument's outcome, in the order given."""

    outcomes: list[AddOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def changed(self) -> bool:
        """Something was written: the index needs to catch up."""
        return any(o.status in (ADDED, UPDATED) for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """Every argument named a paper that is now in the collection."""
        return all(o.status in (ADDED, PRESENT, UPDATED) for o in self.outcomes)

    def lines(self) -> list[str]:
        return [str(o) for o in self.outcomes]

    def to_json(self) -> dict[str, Any]:
        return {"results": [asdict(o) for o in self.outcomes]}


def add_papers(
    db,
    refs: Iterable[str],
    *,
    added_by: str,
    added_in: str,
    fetcher: Fetcher | None = None,
    arxiv_url: str | None = None,
) -> AddReport:
    """Add the papers named by `refs` (ids, arXiv/HF URLs, arXiv DOIs) from the arXiv API, in one
    request per 100 ids and one transaction, and mark them as the team's: `added_by` is who asked (a chat
    user's name or id, the OS user on the command line), `added_in` where (a chat id, or "cli").

    A paper already stored (by arXiv id, or by title for a library entry without one) is merged:
    a newer version updates it, an empty abstract is filled. Network and arXiv errors become
    outcomes, never exceptions, so a chat reply can always say what happened; a database that
    cannot be written raises `store.collection.db.StoreError`.
    """
    return store_found(db, look_up(refs, fetcher, arxiv_url), added_by, added_in)


@dataclass
class Lookup:
    """What arXiv said about an add's arguments, before anything is stored: the network half of
    `add_papers`, so the bot asks arXiv without holding the engine's lock."""

    args: list[tuple[str, str | None]]  # (argument, arXiv id it names)
    wanted: dict[str, AddOutcome]  # arXiv id -> its outcome, asked once however often named
    records: list[Record] = field(default_factory=list)


def look_up(
    refs: Iterable[str], fetcher: Fetcher | None = None, arxiv_url: str | None = None
) -> Lookup:
    """Parse the arguments and ask arXiv for the papers they name: one request per BATCH ids (the
    bot's /add names 20 at most: one request), so a long `paperbot add` is looked up whole."""
    lookup = Lookup([], {})
    asked: list[tuple[str, str]] = []  # (arXiv id, as asked: with its version)
    for text in refs:
        ref = parse_ref(text)
        lookup.args.append((text, ref.id if ref else None))
        if ref is not None and ref.id not in lookup.wanted:
            lookup.wanted[ref.id] = AddOutcome(text, NOT_FOUND, arxiv_id=ref.id)
            asked.append((ref.id, str(ref)))
    for start in range(0, len(asked), BATCH):
        batch = asked[start : start + BATCH]
        outcomes = [lookup.wanted[aid] for aid, _ in batch]
        try:
            records, problems = _lookup(fetcher, arxiv_url, [name for _, name in batch])
        except (FeedError, FormatError) as exc:
            for outcome in outcomes:
                outcome.status, outcome.reason = FAILED, str(exc)
            continue
        mine = {aid for aid, _ in batch}
        lookup.records += [r for r in records if r["arxiv_id"] in mine]
        for outcome in outcomes:
            outcome.reason = "; ".join(problems)[:200] or None
    return lookup


def store_found(db, lookup: Lookup, added_by: str, added_in: str) -> AddReport:
    """Store what a lookup found (marked as the team's) in one transaction, and settle each
    argument's outcome (no network)."""
    found = lookup.records
    before = {r["arxiv_id"]: _stored(db, store_db.stored_id(db, r)) for r in found}

    def mark(db) -> None:
        ids = [store_db.stored_id(db, r) for r in found]
        store_db.mark_team(db, [i for i in ids if i], added_by, added_in, via="add")

    if found:
        store_db.upsert_papers(db, found, name=f"add ({added_in})", then=mark)
    for record in found:
        _settle(db, lookup.wanted[record["arxiv_id"]], record, before[record["arxiv_id"]])
    return AddReport(
        [
            replace(lookup.wanted[aid], ref=text) if aid else AddOutcome(text, UNRECOGNISED)
            for text, aid in lookup.args
        ]
    )


def _lookup(
    fetcher: Fetcher | None, arxiv_url: str | None, ids: list[str]
) -> tuple[list[Record], list[str]]:
    """One `id_list` request: the papers arXiv knows, and its complaints about the others."""
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    try:
        return parse_lookup(fetcher.arxiv_ids(arxiv_url or ARXIV_URL, ids))
    finally:
        if own:
            fetcher.close()


def _stored(db, paper_id: str | None) -> dict[str, Any] | None:
    return store_db.get_papers(db, [paper_id]).get(paper_id) if paper_id else None


def _settle(db, outcome: AddOutcome, record: Record, before: dict[str, Any] | None) -> None:
    """Fill an outcome from the paper as stored now, against how it was before."""
    paper = _stored(db, store_db.stored_id(db, record))
    if paper is None:  # cannot happen after a committed upsert; say so rather than guess
        outcome.status, outcome.reason = FAILED, "not stored"
        return
    outcome.paper_id, outcome.title, outcome.version = paper["id"], paper["title"], paper["version"]
    outcome.reason = None
    if before is None:
        outcome.status = ADDED
    elif (paper["version"] or 0) > (before["version"] or 0) and before["version"]:
        outcome.status, outcome.previous_version = UPDATED, before["version"]
    else:
        outcome.status = PRESENT


@dataclass
class FillReport:
    """What `fill_missing_abstracts` did: abstracts filled, ids arXiv did not know, errors."""

    filled: int = 0
    not_found: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"abstracts filled from arXiv: {self.filled}"
        if self.not_found:
            text += f", not found: {len(self.not_found)} ({', '.join(self.not_found[:10])})"
        if self.errors:
            text += f", failed requests: {len(self.errors)} ({self.errors[0]})"
        return text


def fill_missing_abstracts(
    db,
    paper_ids: list[str] | None = None,
    *,
    fetcher: Fetcher | None = None,
    arxiv_url: str | None = None,
) -> FillReport:
    """Fetch the abstracts of stored papers that have an arXiv id and none (library entries
    imported by title): all of them, or those among `paper_ids`. One request and one transaction
    per 100 papers, so a failed request leaves the others' abstracts in place."""
    todo = {pid: aid for pid, aid in store_db.without_abstract(db, paper_ids).items() if aid}
    report = FillReport()
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    try:
        arxiv_ids = list(dict.fromkeys(todo.values()))
        for start in range(0, len(arxiv_ids), BATCH):
            _fill_batch(db, fetcher, arxiv_url, arxiv_ids[start : start + BATCH], report)
    finally:
        if own:
            fetcher.close()
    return report


def _fill_batch(
    db, fetcher: Fetcher, arxiv_url: str | None, arxiv_ids: list[str], report: FillReport
) -> None:
    try:
        records, _ = _lookup(fetcher, arxiv_url, arxiv_ids)
    except (FeedError, FormatError) as exc:
        report.errors.append(str(exc))
        return
    found = [r for r in records if r["arxiv_id"] in arxiv_ids and r["abstract"]]
    if found:
        store_db.upsert_papers(db, found, name="abstracts from arXiv")
    known = {r["arxiv_id"] for r in found}
    report.filled += len(known)
    report.not_found += [i for i in arxiv_ids if i not in known]


class LibraryImport:
    """Watches one file's records on their way into `upsert_papers`: the reference-library entries
    among them (BibTeX, CSL JSON, RIS) are marked as the team's inside the file's transaction, and
    afterwards it tells which of their papers still have no abstract."""

    def __init__(self, added_by: str, added_in: str = "cli") -> None:
        self.added_by, self.added_in = added_by, added_in
        self.records: list[Record] = []
        self.paper_ids: list[str] = []

    def watch(self, records: Iterable[Record]) -> Iterable[Record]:
        """The same records, remembering the library entries (feeds and exports pass through)."""
        for record in records:
            if record.get("source") in LIBRARY_SOURCES:
                self.records.append(record)
            yield record

    def mark(self, db) -> None:
        """`upsert_papers(then=...)`: mark the entries' papers as the team's."""
        ids = [store_db.stored_id(db, r) for r in self.records]
        self.paper_ids = list(dict.fromkeys(i for i in ids if i))
        store_db.mark_team(db, self.paper_ids, self.added_by, self.added_in, via="library")

    def without_abstract(self, db) -> list[str]:
        """The entries' papers stored with no abstract (after the commit)."""
        return list(store_db.without_abstract(db, self.paper_ids)) if self.paper_ids else []
