"""The team's papers, the bundled demo collection (seeding, removal), removals (`deleted`), the
stored paper a record is, and the collection's figures (`stats`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from importlib import resources
from typing import Any

import sqlite_utils

from store.collection.db.connection import StoreError, in_chunks, now_utc, writing
from store.collection.db.papers import (
    ImportResult,
    _row,
    _upsert_all,
    max_seq,
    paper_count,
)

SEED_RESOURCE = "seed_listing.txt"
SEED_NAME = "bundled listing"


def bundled_listing() -> str:
    """The seed listing shipped inside the package: the default collection."""
    return resources.files("store").joinpath("data", SEED_RESOURCE).read_text("utf-8")


def ensure_seeded(db: sqlite_utils.Database) -> ImportResult | None:
    """Import the bundled demo collection into a database that is empty and never had an import,
    so a fresh install can answer; a team's database never gets it unasked. Decided inside the
    write transaction, so two first starts at once seed it once."""
    if paper_count(db) or db.execute("select count(*) from imports").fetchone()[0]:
        return None  # the common case, without taking the write lock
    from store.collection.importers import (
        listing,  # local: importers sit above the store's read side
    )

    try:
        with writing(db, "loading the demo collection"):
            if paper_count(db) or db.execute("select count(*) from imports").fetchone()[0]:
                return None
            result = _upsert_all(db, listing.parse(bundled_listing()), SEED_NAME, None)
            db.execute("insert or ignore into demo (paper_id) select id from papers")
    except sqlite3.Error as exc:
        raise StoreError(f"database write failed, the demo was not loaded: {exc}") from None
    return result


def _mark_old_demo(db: sqlite_utils.Database) -> None:
    """Schema upgrade: papers an earlier version seeded (the bundled ones, never changed since:
    `updated_at` still `added_at`) become the demo, so `remove --demo` can take them out too."""
    if not db.execute("select 1 from imports where name = ?", [SEED_NAME]).fetchone():
        return
    from store.collection.importers import listing

    ids = [_row(r)["id"] for r in listing.parse(bundled_listing())]
    marks = ",".join("?" * len(ids))
    db.execute(
        "insert or ignore into demo (paper_id) select id from papers where source = 'listing' "
        f"and updated_at = added_at and id in ({marks})",
        ids,
    )


def demo_count(db: sqlite_utils.Database) -> int:
    """How many papers of the bundled demo collection the database holds."""
    if "demo" not in db.table_names():
        return 0
    return db.execute("select count(*) from demo").fetchone()[0]


def remove_demo(db: sqlite_utils.Database) -> int:
    """Delete the demo papers (with their links and ledger rows) by `delete_papers`: the index
    and the vectors retire them at their next catch-up. Returns how many."""
    if not demo_count(db):
        return 0
    ids = [  # a demo paper the team added is the team's (as `stats` counts it), never removed here
        row[0]
        for row in db.execute(
            "select paper_id from demo where paper_id not in (select paper_id from team_papers)"
        )
    ]
    return len(delete_papers(db, ids, "removing the demo collection"))


# ---------------------------------------------------------------- removals
#
# A removed paper leaves a row in `deleted` with the next change number: the index and the vectors
# follow the database by change number, and a removal is one more change they replay (retire the
# paper) when they catch up, so nothing needs a rebuild. A paper added again later gets a newer
# number than its removal, so replaying in order leaves it in.


def ensure_deleted_table(db: sqlite_utils.Database) -> None:
    """Create `deleted` if missing (schema 4; idempotent)."""
    db["deleted"].create({"seq": int, "paper_id": str, "at": str}, pk="seq", if_not_exists=True)


def delete_papers(
    db: sqlite_utils.Database, paper_ids: Iterable[str], action: str = ""
) -> list[str]:
    """Delete these papers (ids or arXiv ids; unknown ones are skipped) with their links, ledger,
    team and demo rows, recording each removal in `deleted`, in one transaction. Returns the
    stored ids removed."""
    try:
        with writing(db, action or "removing papers"):
            ids = list(dict.fromkeys(paper_ids_named(db, paper_ids).values()))
            seq = max_seq(db)
            now = now_utc()
            db.conn.executemany(
                "insert into deleted (seq, paper_id, at) values (?, ?, ?)",
                [(seq + n, pid, now) for n, pid in enumerate(ids, 1)],
            )
            for marks, part in in_chunks(ids):
                for table, col in _PAPER_ROWS:
                    db.execute(f"delete from {table} where {col} in ({marks})", part)
    except sqlite3.Error as exc:
        raise StoreError(f"database write failed, nothing was removed: {exc}") from None
    return ids


_PAPER_ROWS = (
    ("links", "paper_id"),
    ("ledger", "paper_id"),
    ("team_papers", "paper_id"),
    ("demo", "paper_id"),
    ("papers", "id"),
)


def paper_ids_named(db: sqlite_utils.Database, refs: Iterable[str]) -> dict[str, str]:
    """{reference: stored id} for the references (ids or arXiv ids) that name a stored paper."""
    out: dict[str, str] = {}
    for ref in refs:
        row = db.execute(
            "select id from papers where id = ? or arxiv_id = ? order by id = ? desc limit 1",
            [ref, ref, ref],
        ).fetchone()
        if row:
            out[ref] = row[0]
    return out


def deleted_since(
    db: sqlite_utils.Database | sqlite3.Connection, after_seq: int
) -> list[tuple[int, str]]:
    """(seq, paper id) of the removals after change number `after_seq`, in order."""
    try:
        rows = db.execute(
            "select seq, paper_id from deleted where seq > ? order by seq", [after_seq]
        )
    except sqlite3.OperationalError:  # a read-only database from before schema 4
        return []
    return [(row[0], row[1]) for row in rows]


# ---------------------------------------------------------------- the collection's figures


def stats(db: sqlite_utils.Database) -> dict[str, Any]:
    """Collection figures for `paperbot stats` and /stats."""
    last = db.execute("select at, name from imports order by id desc limit 1").fetchone()
    out = {
        "papers": paper_count(db),
        "papers_with_links": db.execute("select count(distinct paper_id) from links").fetchone()[0],
        "links": db.execute("select count(*) from links").fetchone()[0],
        "last_import": {"at": last[0], "name": last[1]} if last else None,
    }
    team = len(team_paper_ids(db))
    demo = db.execute(  # a demo paper the team added is the team's
        "select count(*) from demo where paper_id not in (select paper_id from team_papers)"
    ).fetchone()[0]
    out["team_papers"] = team
    out["demo_papers"] = demo
    out["feed_papers"] = out["papers"] - team - demo
    out["papers_without_abstract"] = db.execute(
        "select count(*) from papers where abstract = ''"
    ).fetchone()[0]
    if "subscriptions" in db.table_names():
        out["subscribed_chats"] = db.execute(
            "select count(*) from subscriptions where active = 1"
        ).fetchone()[0]
    return out


# ---------------------------------------------------------------- the team's papers
#
# Papers the team added itself (`/add` in a chat, `paperbot add`, a reference-library import) are
# listed in `team_papers` with who added them, where (a chat id, or "cli") and when; every other
# paper came from the feeds (or the bundled listing). A side table rather than columns of `papers`:
# the mark survives any re-import or newer version of the paper, and older databases gain it by
# creating one table.


def ensure_team_table(db: sqlite_utils.Database) -> None:
    """Create `team_papers` if missing (schema 2; idempotent)."""
    db["team_papers"].create(
        {"paper_id": str, "added_by": str, "added_in": str, "added_at": str, "via": str},
        pk="paper_id",
        if_not_exists=True,
    )
    db["team_papers"].create_index(["added_at"], if_not_exists=True)


def mark_team(
    db: sqlite_utils.Database, paper_ids: Iterable[str], added_by: str, added_in: str, via: str
) -> int:
    """Mark papers as the team's; the first adder is kept (a paper added twice was still found
    first by the first). `via` is "add" or "library". Returns how many were newly marked."""
    now = now_utc()
    rows = [(pid, added_by, added_in, now, via) for pid in dict.fromkeys(paper_ids)]
    with writing(db, "marking the team's papers"):
        before = db.execute("select count(*) from team_papers").fetchone()[0]
        db.conn.executemany(
            "insert or ignore into team_papers (paper_id, added_by, added_in, added_at, via) "
            "values (?, ?, ?, ?, ?)",
            rows,
        )
        return db.execute("select count(*) from team_papers").fetchone()[0] - before


def team_paper_ids(
    db: sqlite_utils.Database,
    added_in: str | None = None,
    added_by: str | None = None,
    since: str | None = None,
) -> list[str]:
    """Ids of the team's papers, oldest addition first; narrowed to one chat (`added_in`), one
    person, or additions at or after an ISO time. For /mine, `/settings scope team` and a digest
    ranked by the team's taste."""
    if "team_papers" not in db.table_names():  # a read-only database from before schema 2
        return []
    sql = "select t.paper_id from team_papers t join papers p on p.id = t.paper_id where 1 = 1"
    args: list[Any] = []
    for clause, value in (("t.added_in = ?", added_in), ("t.added_by = ?", added_by)):
        if value is not None:
            sql += f" and {clause}"
            args.append(value)
    if since is not None:
        sql += " and t.added_at >= ?"
        args.append(since)
    return [row[0] for row in db.execute(sql + " order by t.added_at, p.seq", args)]


def team_provenance(db: sqlite_utils.Database, paper_id: str) -> dict[str, Any] | None:
    """Who added a paper, where and when (`{"added_by", "added_in", "added_at", "via"}`), or None
    for a feed paper: what /paper shows."""
    if "team_papers" not in db.table_names():
        return None
    rows = list(db.query("select * from team_papers where paper_id = ?", [paper_id]))
    return {k: v for k, v in rows[0].items() if k != "paper_id"} if rows else None


def stored_id(db: sqlite_utils.Database, record: dict[str, Any]) -> str | None:
    """The id of the stored paper a record is (or would be merged into), by the upsert's rules:
    its id, else its arXiv id, else its normalized title."""
    row = _row(record)
    for col in ("id", "arxiv_id", "title_norm"):
        if row[col]:
            hit = db.execute(f"select id from papers where {col} = ?", [row[col]]).fetchone()
            if hit:
                return hit[0]
    return None


def without_abstract(
    db: sqlite_utils.Database, ids: list[str] | None = None
) -> dict[str, str | None]:
    """{paper id: arXiv id or None} of stored papers without an abstract (library entries
    imported by title), all of them or those among `ids`."""
    sql = "select id, arxiv_id from papers where abstract = ''"
    if ids is None:
        return dict(db.execute(sql + " order by seq").fetchall())
    out: dict[str, str] = {}
    for marks, part in in_chunks(ids):
        out.update(db.execute(f"{sql} and id in ({marks})", part).fetchall())
    return out
