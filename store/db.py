"""The paper store: the only module that touches SQLite (through sqlite-utils).

It owns the database path, the schema and every write. Importers hand it records; the index and the
answers read papers back through the functions here.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import sqlite_utils

from store.clean import normalize_title, title_id

# 2: the `demo` table; 3: team_papers (which papers the team added); 4: `deleted` (removals the
# index and vectors replay) and the chat settings `scope` and `taste` on subscriptions
SCHEMA_VERSION = 4
SEED_RESOURCE = "seed_listing.txt"
SEED_NAME = "bundled listing"
CHUNK = 5000
LOCK_TIMEOUT = 10.0  # seconds a write waits for another writer (README promises it)
SAME_TITLE = 0.6  # normalized titles less alike than this are two different papers
IN_CHUNK = 900  # values per `in (...)` list
T = TypeVar("T")


class StoreError(RuntimeError):
    """The database cannot be opened or written (read-only, locked, full, corrupt)."""


class ConflictError(StoreError):
    """A record names a stored paper's id but is clearly another paper: the file is refused."""


@dataclass
class ImportResult:
    """What an import changed: counts a maintainer reads after `paperbot import`."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"


def default_db_path() -> Path:
    """`PAPERBOT_DB`, else the per-user data directory (XDG on Linux)."""
    env = os.environ.get("PAPERBOT_DB")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("paperbot")) / "papers.db"


def open_db(
    path: str | Path | None = None, read_only: bool = False, timeout: float = LOCK_TIMEOUT
) -> sqlite_utils.Database:
    """Open (creating if needed) the database in WAL mode with the current schema.

    A file this process may not write is opened read-only: questions still work, writes fail with
    a clear StoreError instead of corrupting anything. `timeout` is how long a write waits for
    another writer's lock.
    """
    path = Path(path) if path else default_db_path()
    read_only = read_only or (path.exists() and not _writable(path))
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        db = sqlite_utils.Database(conn)
        if not read_only and db.execute("pragma user_version").fetchone()[0] != SCHEMA_VERSION:
            db.enable_wal()
            ensure_schema(db)
        else:
            db.execute("select count(*) from papers").fetchone()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    return db


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK)


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables and indexes this version needs (idempotent)."""
    with writing(db, "schema upgrade"):
        if db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # another process upgraded it while this one waited for the lock
        db["papers"].create(
            {
                "id": str,
                "arxiv_id": str,
                "version": int,
                "title": str,
                "title_norm": str,
                "abstract": str,
                "raw": str,
                "authors": str,
                "keywords": str,
                "published": str,
                "listed": str,
                "ai_summary": str,
                "source": str,
                "added_at": str,
                "updated_at": str,
                "seq": int,
            },
            pk="id",
            not_null={"title", "abstract"},
            if_not_exists=True,
        )
        db["links"].create(
            {"paper_id": str, "url": str, "kind": str, "pos": int},
            pk=("paper_id", "url"),
            foreign_keys=[("paper_id", "papers", "id")],
            if_not_exists=True,
        )
        db["imports"].create(
            {"id": int, "at": str, "name": str, "new": int, "updated": int, "unchanged": int},
            pk="id",
            if_not_exists=True,
        )
        db["subscriptions"].create(
            {
                "chat_id": int,
                "title": str,
                "active": int,
                "keywords": str,
                "push_time": str,
                "timezone": str,
                "since_rowid": int,
                "subscribed_at": str,
                "last_push_at": str,
            },
            pk="chat_id",
            if_not_exists=True,
        )
        db["ledger"].create(
            {"chat_id": int, "paper_id": str, "status": str, "at": str, "message_id": int},
            pk=("chat_id", "paper_id"),
            if_not_exists=True,
        )
        db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        ensure_team_table(db)
        ensure_deleted_table(db)
        for column in CHAT_SETTINGS:
            if column not in db["subscriptions"].columns_dict:
                db["subscriptions"].add_column(column, str)
        db["meta"].insert({"key": "uuid", "value": uuid.uuid4().hex}, ignore=True)
        if "demo" not in db.table_names():
            db["demo"].create({"paper_id": str}, pk="paper_id")
            _mark_old_demo(db)
        for table, cols in [
            ("papers", ["arxiv_id"]),
            ("papers", ["title_norm"]),
            ("papers", ["seq"]),
            ("papers", ["added_at"]),
        ]:
            db[table].create_index(cols, if_not_exists=True)
        db.execute(f"pragma user_version = {SCHEMA_VERSION}")


def backup(db: sqlite_utils.Database, target: str | Path) -> Path:
    """A consistent copy of a live database (SQLite's online backup API), written then renamed."""
    is_folder = str(target).endswith(("/", os.sep))
    target = Path(target)
    if is_folder or target.is_dir():
        target = target / f"papers-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
    tmp = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(str(tmp)) as out:
            db.conn.backup(out)
        out.close()
        os.replace(tmp, target)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"backup to {target} failed: {exc}") from None
    return target


def integrity_ok(db: sqlite_utils.Database) -> bool:
    """PRAGMA integrity_check says ok."""
    return db.execute("pragma integrity_check").fetchone()[0] == "ok"


def now_utc() -> str:
    """The current time as an ISO UTC timestamp (seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def db_uuid(db: sqlite_utils.Database) -> str:
    """This database's identity, so an index saved for another database is never reused."""
    row = db.execute("select value from meta where key = 'uuid'").fetchone()
    return row[0] if row else ""


def paper_count(db: sqlite_utils.Database) -> int:
    """How many papers the collection holds."""
    return db.execute("select count(*) from papers").fetchone()[0]


def max_seq(db: sqlite_utils.Database) -> int:
    """The change counter: every insert, content change or removal of a paper takes the next
    value (a removal's lives in `deleted`, so a number is never given twice)."""
    sql = "select coalesce(max(seq), 0) from papers"
    if "deleted" in db.table_names():
        sql = f"select max(({sql}), (select coalesce(max(seq), 0) from deleted))"
    return db.execute(sql).fetchone()[0]


# ---------------------------------------------------------------- the write lock
#
# Every write transaction starts with BEGIN IMMEDIATE: it takes SQLite's write lock first, so the
# busy timeout applies. A deferred BEGIN that reads and then writes gets SQLITE_BUSY on the upgrade
# at once, without waiting (what made imports fail after 0.4-2.6 s). While it holds the lock, the
# writer names its kind of work in a note file beside the database (a row would be invisible to the
# other processes until commit); whoever times out reads it to say what it waited for.

_writer = "a paperbot process"  # this process's kind of work, set by the command that runs it


def set_writer(kind: str) -> None:
    """Name this process in lock notes ("paperbot import", "the bot", ...): what a write that
    timed out waiting for it tells the operator."""
    global _writer
    _writer = kind


def lock_note_path(db: sqlite_utils.Database) -> Path | None:
    """`<database>-writer`, beside the file (None for an in-memory database)."""
    row = db.execute("pragma database_list").fetchone()
    return Path(row[2] + "-writer") if row and row[2] else None


@contextlib.contextmanager
def writing(db: sqlite_utils.Database, action: str = "") -> Iterator[None]:
    """One write transaction that waits up to the busy timeout for the lock, then commits (or
    rolls back on any exception). Inside another transaction it is a savepoint of it."""
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    _begin_immediate(db)
    note = _write_note(db, action)
    try:
        yield
    except BaseException:
        _drop_note(note)
        db.conn.rollback()
        raise
    _drop_note(note)  # before COMMIT: after it, the next writer's note may already be there
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        db.conn.rollback()
        raise


def _begin_immediate(db: sqlite_utils.Database) -> None:
    """BEGIN IMMEDIATE, turning a lock that stayed held past the timeout into a clear StoreError."""
    started = time.monotonic()
    try:
        db.conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        waited = time.monotonic() - started
        raise StoreError(
            f"database is locked: {lock_holder(db)} held the write lock for the {waited:.0f} s "
            "this write waited; nothing was written, try again when it is done"
        ) from None


def _write_note(db: sqlite_utils.Database, action: str) -> Path | None:
    """Record who holds the lock (best effort: a read-only folder just gets no note)."""
    path = lock_note_path(db)
    if path is None:
        return None
    started = datetime.now(UTC).strftime("%H:%M:%SZ")
    note = {"pid": os.getpid(), "who": _writer, "what": action, "since": started}
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(note))
        return path
    return None


def _drop_note(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def lock_holder(db: sqlite_utils.Database) -> str:
    """Who holds the write lock, from its note: "paperbot import (importing a.jsonl, pid 12, since
    08:00:01Z)"; a writer without a live note (another tool, one killed mid-write) is "another
    process"."""
    path = lock_note_path(db)
    try:
        note = json.loads(path.read_text()) if path else {}
        pid, who, what, since = int(note["pid"]), note["who"], note["what"], note["since"]
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
    if not _alive(pid):
        return "another process"  # a note left by a killed writer names nobody
    doing = f"{what}, " if what else ""
    return f"{who} ({doing}pid {pid}, since {since})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


# ---------------------------------------------------------------- writes


_MERGED = ("title", "abstract", "raw", "authors", "keywords", "published", "listed", "ai_summary")


def _merge(old: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """The incoming record is the newer one and wins every field it has a value for (a corrected
    export, a new arXiv version), keywords excepted: two sources' keywords are joined. A record of
    an older arXiv version than the stored one only fills empty fields."""
    older = (rec.get("version") or 0) < (old.get("version") or 0) and bool(rec.get("version"))
    merged = dict(old)
    for field in _MERGED:
        value = rec.get(field)
        if value in (None, "", "[]"):
            continue
        if field == "keywords" and not older:
            merged[field] = _union_json(old.get(field), value)
        elif _less_precise(old.get(field), value):
            continue  # "2025-04" from a reference library says less than the feed's "2025-04-11"
        elif not older or _empty(old, field):
            merged[field] = value
    if not older and rec.get("abstract"):
        merged["raw"] = rec.get("raw")  # None: the same as the new abstract
    if rec.get("arxiv_id") and not old.get("arxiv_id"):
        merged["arxiv_id"] = rec["arxiv_id"]
    if not older and rec.get("version"):
        merged["version"] = rec["version"]
    merged["title_norm"] = normalize_title(merged["title"])
    return merged


def _less_precise(stored: Any, incoming: Any) -> bool:
    """The incoming value is a shorter prefix of the stored one (a date with less detail)."""
    return (
        isinstance(stored, str)
        and isinstance(incoming, str)
        and len(incoming) < len(stored)
        and stored.startswith(incoming)
    )


def _check_same_paper(old: dict[str, Any], row: dict[str, Any]) -> None:
    """A record that names a stored id (not an arXiv id both share) with a clearly different
    title is another paper: refuse the file rather than overwrite or silently drop either."""
    if row["id"] != old["id"] or (row["arxiv_id"] and row["arxiv_id"] == old.get("arxiv_id")):
        return
    alike = difflib.SequenceMatcher(None, old["title_norm"], row["title_norm"]).ratio()
    if alike < SAME_TITLE:
        raise ConflictError(
            f'id {row["id"]} is stored as "{old["title"]}" but this record is titled '
            f'"{row["title"]}": the whole file is refused (an import is all or nothing)'
        )


def _empty(row: dict[str, Any], field: str) -> bool:
    """A stored field with nothing in it (a None raw text is the abstract itself: not empty)."""
    if field == "raw" and row.get(field) is None:
        return not row.get("abstract")
    return row.get(field) in (None, "", "[]")


def _union_json(old: str | None, new: str) -> str:
    """Two JSON lists of strings as one, order kept, no repeats."""
    items = json.loads(old) if old else []
    items += [x for x in json.loads(new) if x not in items]
    return _json_list(items)


# One encoder for every row: `json.dumps(..., ensure_ascii=False)` builds a new one per call.
_json_list = json.JSONEncoder(ensure_ascii=False).encode


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    """A record's columns as stored (lists as JSON text)."""
    row = {k: rec.get(k) for k in ("arxiv_id", "version", *_MERGED, "source")}
    row["authors"] = _json_list(rec.get("authors") or [])
    row["keywords"] = _json_list(rec.get("keywords") or [])
    row["title_norm"] = normalize_title(rec["title"])
    row["id"] = rec.get("id") or rec.get("arxiv_id") or title_id(rec["title"])
    if row["raw"] == row["abstract"]:
        row["raw"] = None  # the text as imported is kept only when cleaning changed it
    return row


def upsert_papers(
    db: sqlite_utils.Database,
    records: Iterable[dict[str, Any]],
    name: str = "",
    progress: Callable[[int], None] | None = None,
    then: Callable[[sqlite_utils.Database], None] | None = None,
) -> ImportResult:
    """Insert or merge records in ONE transaction: either all of them are stored or none.

    Dedup is by arXiv id, then by normalized title. A paper's id never changes once stored.
    `progress` is called with the number of records done after each chunk. `then` runs inside the
    same transaction once every record is written (marking the team's papers, say), so a failure
    there rolls the papers back too.
    """
    try:
        with writing(db, f"importing {name}" if name else "importing"):
            return _upsert_all(db, records, name, progress, then)
    except sqlite3.Error as exc:
        raise StoreError(f"database write failed, nothing was imported: {exc}") from None


def _upsert_all(
    db: sqlite_utils.Database,
    records: Iterable[dict[str, Any]],
    name: str,
    progress: Callable[[int], None] | None,
    then: Callable[[sqlite_utils.Database], None] | None = None,
) -> ImportResult:
    """`upsert_papers` inside the caller's transaction; the file is recorded in `imports`."""
    result = ImportResult()
    done = 0
    seq = max_seq(db)
    for chunk in _chunks(records, CHUNK):
        seq = _upsert_chunk(db, chunk, result, seq)
        done += len(chunk)
        if progress:
            progress(done)
    if then:
        then(db)
    db["imports"].insert(
        {
            "at": now_utc(),
            "name": name,
            "new": result.new,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }
    )
    return result


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to `size` items, without holding the whole stream."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def in_chunks(values: Sequence[T]) -> Iterator[tuple[str, list[T]]]:
    """(placeholders, values) for `... in ({marks})` statements, IN_CHUNK values at a time:
    SQLite caps the variables of one statement (999 before 3.32)."""
    for i in range(0, len(values), IN_CHUNK):
        part = list(values[i : i + IN_CHUNK])
        yield ",".join("?" * len(part)), part


def _existing(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> tuple[dict, dict, dict]:
    """Stored papers matching these rows by id, arXiv id or normalized title."""
    keys = {
        "id": {r["id"] for r in rows},
        "arxiv_id": {r["arxiv_id"] for r in rows if r["arxiv_id"]},
        "title_norm": {r["title_norm"] for r in rows},
    }
    found: tuple[dict, dict, dict] = ({}, {}, {})
    for slot, (col, values) in zip(found, keys.items(), strict=True):
        for marks, part in in_chunks(list(values)):
            for row in db.query(f"select * from papers where {col} in ({marks})", part):
                slot[row[col]] = row
    return found


def _upsert_chunk(db, records: list[dict[str, Any]], result: ImportResult, seq: int) -> int:
    rows = [_row(r) for r in records]
    by_id, by_arxiv, by_title = _existing(db, rows)
    now = now_utc()
    status: dict[str, str] = {}  # stored id -> "new" | "updated", counted once per paper
    claimed: list[str] = []  # stored papers this file names: no longer only the demo's
    batch: dict[str, dict[str, Any]] = {}
    links: dict[str, list[dict[str, str]]] = {}
    for rec, row in zip(records, rows, strict=True):
        old = (
            by_id.get(row["id"])
            or (by_arxiv.get(row["arxiv_id"]) if row["arxiv_id"] else None)
            or by_title.get(row["title_norm"])
        )
        if old is not None:
            _check_same_paper(old, row)
        if old is None:
            seq += 1
            row.update(added_at=now, updated_at=now, seq=seq)
            for index, key in ((by_id, "id"), (by_arxiv, "arxiv_id"), (by_title, "title_norm")):
                if row[key]:
                    index[row[key]] = row
            status[row["id"]] = "new"
            batch[row["id"]] = row
            links[row["id"]] = list(rec["links"])
            continue
        merged = _merge(old, row)
        new_links = _new_links(db, old["id"], rec["links"], links)
        if merged == old and not new_links:
            if old["id"] not in status:
                result.unchanged += 1
            continue
        # Changed fields or new links (the index reads those too): a new seq, so it is re-indexed.
        # A demo paper an import changes is the team's now (an unchanged one, as an export read
        # back, stays demo: `remove --demo` still takes it).
        claimed.append(old["id"])
        seq += 1
        merged.update(updated_at=now, seq=seq)
        old.update(merged)
        status.setdefault(old["id"], "updated")
        batch[old["id"]] = old
        links.setdefault(old["id"], []).extend(new_links)
    result.new += sum(1 for s in status.values() if s == "new")
    result.updated += sum(1 for s in status.values() if s == "updated")
    _write_rows(db, [row for pid, row in batch.items() if status[pid] == "new"], insert=True)
    _write_rows(db, [row for pid, row in batch.items() if status[pid] != "new"], insert=False)
    link_rows = [
        (pid, link["url"], link["kind"], pos)
        for pid, items in links.items()
        for pos, link in enumerate(items)
    ]
    if link_rows:
        db.conn.executemany(
            "insert or ignore into links (paper_id, url, kind, pos) values (?, ?, ?, ?)", link_rows
        )
    _unmark_demo(db, claimed)
    return seq


def _write_rows(db, rows: list[dict[str, Any]], insert: bool) -> None:
    """Plain executemany inside the caller's transaction: new papers are inserted (their ids are
    surely new: `_upsert_chunk` looked them up), changed ones updated in place (rowid kept)."""
    by_cols: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_cols.setdefault(tuple(row), []).append(row)
    for cols, group in by_cols.items():
        if insert:
            sql = f"insert into papers ({', '.join(cols)}) values ({', '.join('?' * len(cols))})"
            db.conn.executemany(sql, [tuple(r.values()) for r in group])
        else:
            rest = [c for c in cols if c != "id"]
            sql = f"update papers set {', '.join(c + ' = ?' for c in rest)} where id = ?"
            db.conn.executemany(sql, [(*(r[c] for c in rest), r["id"]) for r in group])


def _new_links(db, paper_id: str, incoming: list[dict[str, str]], pending: dict) -> list[dict]:
    """Links of `incoming` that the stored paper does not have yet."""
    have = {
        r[0].lower() for r in db.execute("select url from links where paper_id = ?", [paper_id])
    }
    have |= {link["url"].lower() for link in pending.get(paper_id, [])}
    return [link for link in incoming if link["url"].lower() not in have]


def bundled_listing() -> str:
    """The seed listing shipped inside the package: the default collection."""
    return resources.files("store").joinpath("data", SEED_RESOURCE).read_text("utf-8")


def ensure_seeded(db: sqlite_utils.Database) -> ImportResult | None:
    """Import the bundled demo collection into a database that is empty and never had an import,
    so a fresh install can answer; a team's database never gets it unasked. Decided inside the
    write transaction, so two first starts at once seed it once."""
    if paper_count(db) or db.execute("select count(*) from imports").fetchone()[0]:
        return None  # the common case, without taking the write lock
    from store.importers import listing  # local: importers sit above the store's read side

    try:
        with writing(db, "loading the demo collection"):
            if paper_count(db) or db.execute("select count(*) from imports").fetchone()[0]:
                return None
            result = _upsert_all(db, listing.parse(bundled_listing()), SEED_NAME, None)
            db.execute("insert or ignore into demo (paper_id) select id from papers")
    except sqlite3.Error as exc:
        raise StoreError(f"database write failed, the demo was not loaded: {exc}") from None
    return result


def _unmark_demo(db: sqlite_utils.Database, ids: list[str]) -> None:
    """Demo papers that an import names are the team's now: `remove --demo` keeps them."""
    if not ids or not db.execute("select 1 from demo limit 1").fetchone():
        return
    for marks, part in in_chunks(ids):
        db.execute(f"delete from demo where paper_id in ({marks})", part)


def _mark_old_demo(db: sqlite_utils.Database) -> None:
    """Schema upgrade: papers an earlier version seeded (the bundled ones, never changed since:
    `updated_at` still `added_at`) become the demo, so `remove --demo` can take them out too."""
    if not db.execute("select 1 from imports where name = ?", [SEED_NAME]).fetchone():
        return
    from store.importers import listing

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
    ids = [row[0] for row in db.execute("select paper_id from demo")]
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


# ---------------------------------------------------------------- reads


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    if "raw" in row and row["raw"] is None:
        row["raw"] = row.get("abstract")  # stored only when it differs (see `_row`)
    for field in ("authors", "keywords"):
        row[field] = json.loads(row[field]) if row.get(field) else []
    return row


def links_for(db: sqlite_utils.Database, ids: list[str]) -> dict[str, list[dict[str, str]]]:
    """Links of these papers, in the order they were written, as `{id: [{"url", "kind"}]}`."""
    out: dict[str, list[dict[str, str]]] = {pid: [] for pid in ids}
    for marks, part in in_chunks(ids):
        sql = f"select paper_id, url, kind from links where paper_id in ({marks}) order by paper_id, pos"
        for pid, url, kind in db.execute(sql, part):
            out[pid].append({"url": url, "kind": kind})
    return out


def get_papers(db: sqlite_utils.Database, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Full papers (with links) by id; unknown ids are left out."""
    out: dict[str, dict[str, Any]] = {}
    for marks, part in in_chunks(ids):
        for row in db.query(f"select * from papers where id in ({marks})", part):
            out[row["id"]] = _decode(row)
    all_links = links_for(db, list(out))
    for pid, paper in out.items():
        paper["links"] = all_links[pid]
    return out


def get_paper(db: sqlite_utils.Database, paper_id: str) -> dict[str, Any] | None:
    """One paper by id or arXiv id (with or without version), or None."""
    from store.clean import parse_arxiv_id

    key = paper_id.strip()
    parsed = parse_arxiv_id(key)
    candidates = [key] + ([parsed[0]] if parsed else [])
    for cand in candidates:
        found = get_papers(db, [cand])
        if found:
            return found[cand]
        row = db.execute("select id from papers where arxiv_id = ?", [cand]).fetchone()
        if row:
            return get_papers(db, [row[0]])[row[0]]
    return None


def titles_since(db: sqlite_utils.Database, after_seq: int = 0) -> list[tuple[str, str]]:
    """(id, title) of the papers stored or changed after `after_seq`, in seq order."""
    sql = "select id, title from papers where seq > ? order by seq"
    return [(row[0], row[1]) for row in db.execute(sql, [after_seq])]


def iter_for_index(
    db: sqlite_utils.Database | sqlite3.Connection, after_seq: int = 0, until_seq: int | None = None
) -> Iterator[tuple[str, int, str, str, str]]:
    """(id, seq, title, abstract, link urls) of papers changed after `after_seq` (up to `until_seq`
    included, when given), in seq order."""
    sql = (
        "select p.id, p.seq, p.title, p.abstract, "
        "(select group_concat(url, ' ') from links l where l.paper_id = p.id) "
        "from papers p where p.seq > ? and p.seq <= ? order by p.seq"
    )
    for row in db.execute(sql, [after_seq, until_seq if until_seq is not None else 2**62]):
        abstract = row[3]
        extra = " ".join(u for u in (row[4] or "").split() if u not in abstract)
        yield row[0], row[1], row[2], abstract, extra


def count_changed(db: sqlite_utils.Database, after_seq: int) -> int:
    """How many papers changed after `after_seq` (waiting for derived data to catch up)."""
    return db.execute("select count(*) from papers where seq > ?", [after_seq]).fetchone()[0]


def index_texts(db: sqlite_utils.Database, ids: list[str]) -> dict[str, tuple[str, str, str]]:
    """(title, abstract, link urls) of these papers exactly as `iter_for_index` gives them."""
    out: dict[str, tuple[str, str, str]] = {}
    for marks, part in in_chunks(ids):
        sql = (
            "select p.id, p.title, p.abstract, "
            "(select group_concat(url, ' ') from links l where l.paper_id = p.id) "
            f"from papers p where p.id in ({marks})"
        )
        for pid, title, abstract, urls in db.execute(sql, part):
            extra = " ".join(u for u in (urls or "").split() if u not in abstract)
            out[pid] = (title, abstract, extra)
    return out


def iter_export(db: sqlite_utils.Database) -> Iterator[dict[str, Any]]:
    """Every paper in export form (JSON Lines fields), oldest first."""
    cols = "id, arxiv_id, version, title, abstract, raw, authors, keywords, published, listed, ai_summary, added_at, source"
    rows = db.execute(f"select {cols} from papers order by seq")
    names = [c.strip() for c in cols.split(",")]
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(_decode(dict(zip(names, row, strict=True))))
        if len(batch) >= 2000:
            yield from _with_links(db, batch)
            batch = []
    yield from _with_links(db, batch)


def _with_links(db, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    links = links_for(db, [p["id"] for p in batch])
    for paper in batch:
        paper["links"] = links[paper["id"]]
        yield paper


def latest(db: sqlite_utils.Database, limit: int = 10) -> list[dict[str, Any]]:
    """The most recently added papers, newest first."""
    ids = [
        r[0]
        for r in db.execute(
            "select id from papers order by added_at desc, seq desc limit ?", [limit]
        )
    ]
    found = get_papers(db, ids)
    return [found[i] for i in ids]


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


# ---------------------------------------------------------------- subscriptions and the push ledger
#
# The ledger is what makes the daily push exactly-once: a paper is written as "pending" for a chat
# (committed) before the message leaves, and "sent" once Telegram confirmed it. A send that failed
# for sure deletes its pending rows, so the next run sends them again. Rows still pending at the
# start of a run belong to a run that died mid-send: Telegram may have delivered them, so they become
# "uncertain" and are never sent again (never twice wins over maybe-once in that one-request window).


CHAT_SETTINGS = ("scope", "taste")  # per chat, kept whether or not it is subscribed


def subscribe(db, chat_id: int, title: str = "", keywords: str = "") -> dict[str, Any]:
    """Subscribe (or re-activate) a chat; new papers are those imported after this moment."""
    with writing(db, "subscribing a chat"):
        since = db.execute("select coalesce(max(rowid), 0) from papers").fetchone()[0]
        old = subscription(db, chat_id)
        if old and old["active"]:
            db["subscriptions"].update(
                chat_id, {"keywords": keywords, "title": title or old["title"]}
            )
        else:
            db["subscriptions"].upsert(
                {
                    "chat_id": chat_id,
                    "title": title,
                    "active": 1,
                    "keywords": keywords,
                    "since_rowid": since,
                    "subscribed_at": now_utc(),
                    "push_time": (old or {}).get("push_time"),
                    "timezone": (old or {}).get("timezone"),
                },
                pk="chat_id",
            )
    return subscription(db, chat_id)


def unsubscribe(db, chat_id: int) -> bool:
    """Stop the push for a chat; returns whether it was subscribed."""
    with writing(db, "unsubscribing a chat"):
        old = subscription(db, chat_id)
        if not old or not old["active"]:
            return False
        db["subscriptions"].update(chat_id, {"active": 0})
    return True


def update_subscription(db, chat_id: int, **fields: Any) -> dict[str, Any] | None:
    """Change a subscription's push_time, timezone, keywords or title."""
    with writing(db, "changing a subscription"):
        if not subscription(db, chat_id):
            return None
        db["subscriptions"].update(chat_id, fields)
    return subscription(db, chat_id)


def set_chat_setting(db, chat_id: int, field: str, value: str) -> dict[str, Any]:
    """Set one of a chat's CHAT_SETTINGS (an unsubscribed chat gets an inactive row to keep it
    in); returns the chat's row."""
    if field not in CHAT_SETTINGS:
        raise ValueError(f"not a chat setting: {field}")
    with writing(db, "changing a chat's settings"):
        db.execute(
            "insert or ignore into subscriptions (chat_id, title, active, keywords, since_rowid) "
            "values (?, '', 0, '', 0)",
            [chat_id],
        )
        db.execute(f"update subscriptions set {field} = ? where chat_id = ?", [value, chat_id])
    return subscription(db, chat_id)


def subscription(db, chat_id: int) -> dict[str, Any] | None:
    """A chat's subscription row, or None."""
    rows = list(db.query("select * from subscriptions where chat_id = ?", [chat_id]))
    return rows[0] if rows else None


def active_subscriptions(db) -> list[dict[str, Any]]:
    """Every chat that receives the push."""
    return list(db.query("select * from subscriptions where active = 1 order by chat_id"))


def undelivered(db, chat_id: int, since_rowid: int, limit: int = 1000) -> list[str]:
    """Ids of papers added after the chat subscribed that the ledger has no row for, oldest first."""
    sql = (
        "select p.id from papers p where p.rowid > ? and not exists "
        "(select 1 from ledger l where l.chat_id = ? and l.paper_id = p.id) order by p.rowid limit ?"
    )
    return [row[0] for row in db.execute(sql, [since_rowid, chat_id, limit])]


def ledger_mark(
    db, chat_id: int, paper_ids: list[str], status: str, message_id: int | None = None
) -> None:
    """Record (commit) the state of papers for a chat: pending, sent, summarized."""
    now = now_utc()
    with writing(db, "recording a push"):
        db["ledger"].upsert_all(
            [
                {
                    "chat_id": chat_id,
                    "paper_id": pid,
                    "status": status,
                    "at": now,
                    "message_id": message_id,
                }
                for pid in paper_ids
            ],
            pk=("chat_id", "paper_id"),
        )


def ledger_forget(db, chat_id: int, paper_ids: list[str]) -> None:
    """Drop pending rows of a send that surely failed, so the next run sends them."""
    with writing(db, "recording a failed push"):
        for marks, part in in_chunks(paper_ids):
            db.execute(
                f"delete from ledger where chat_id = ? and status = 'pending' and paper_id in ({marks})",
                [chat_id, *part],
            )


def ledger_settle_crashed(db) -> int:
    """Pending rows left by a run that died mid-send become "uncertain" (never resent)."""
    with writing(db, "settling a crashed push"):
        cur = db.execute("update ledger set status = 'uncertain' where status = 'pending'")
    return cur.rowcount


def ledger(db, chat_id: int) -> dict[str, str]:
    """paper id -> status for one chat."""
    return {
        r[0]: r[1]
        for r in db.execute("select paper_id, status from ledger where chat_id = ?", [chat_id])
    }


def mark_pushed(db, chat_id: int) -> None:
    """Remember when a chat last received a digest."""
    with writing(db, "recording a push"):
        db["subscriptions"].update(chat_id, {"last_push_at": now_utc()})


# ---------------------------------------------------------------- the index's catching up


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A plain read-only connection (a counting worker's): no schema check, nothing written."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def count_changed_since(db: sqlite_utils.Database | sqlite3.Connection, seq: int) -> int:
    """How many papers changed after change number `seq`."""
    return db.execute("select count(*) from papers where seq > ?", [seq]).fetchone()[0]


def seqs_changed_since(db: sqlite_utils.Database | sqlite3.Connection, seq: int) -> list[int]:
    """The change numbers after `seq`, ascending (one per changed paper)."""
    return [r[0] for r in db.execute("select seq from papers where seq > ? order by seq", [seq])]
