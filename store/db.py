"""The paper store: the only module that touches SQLite (through sqlite-utils).

It owns the database path, the schema and every write. Importers hand it records; the index and the
answers read papers back through the functions here.
"""

from __future__ import annotations

import json
import os
import sqlite3
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

SCHEMA_VERSION = 1
SEED_RESOURCE = "seed_listing.txt"
CHUNK = 5000
IN_CHUNK = 900  # values per `in (...)` list
T = TypeVar("T")


class StoreError(RuntimeError):
    """The database cannot be opened or written (read-only, locked, full, corrupt)."""


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
    path: str | Path | None = None, read_only: bool = False, timeout: float = 10.0
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
    with db.atomic():
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
        db["meta"].insert({"key": "uuid", "value": uuid.uuid4().hex}, ignore=True)
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
    """The change counter: every insert or content change of a paper takes the next value."""
    return db.execute("select coalesce(max(seq), 0) from papers").fetchone()[0]


# ---------------------------------------------------------------- writes


_MERGED = ("title", "abstract", "raw", "authors", "keywords", "published", "listed", "ai_summary")


def _merge(old: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """Newer arXiv version wins every field it has; otherwise a record only fills empty fields."""
    newer = (rec.get("version") or 0) > (old.get("version") or 0)
    merged = dict(old)
    for field in _MERGED:
        value = rec.get(field)
        if value in (None, "", "[]"):
            continue
        if field == "keywords" and not newer:
            merged[field] = _union_json(old.get(field), value)
        elif newer or _empty(old, field):
            merged[field] = value
    if newer and rec.get("abstract"):
        merged["raw"] = rec.get("raw")  # None: the same as the new abstract
    if rec.get("arxiv_id") and not old.get("arxiv_id"):
        merged["arxiv_id"] = rec["arxiv_id"]
    if newer:
        merged["version"] = rec["version"]
    merged["title_norm"] = normalize_title(merged["title"])
    return merged


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
) -> ImportResult:
    """Insert or merge records in ONE transaction: either all of them are stored or none.

    Dedup is by arXiv id, then by normalized title. A paper's id never changes once stored.
    `progress` is called with the number of records done after each chunk.
    """
    result = ImportResult()
    done = 0
    try:
        with db.atomic():
            seq = max_seq(db)
            for chunk in _chunks(records, CHUNK):
                seq = _upsert_chunk(db, chunk, result, seq)
                done += len(chunk)
                if progress:
                    progress(done)
            db["imports"].insert(
                {
                    "at": now_utc(),
                    "name": name,
                    "new": result.new,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                }
            )
    except sqlite3.Error as exc:
        raise StoreError(f"database write failed, nothing was imported: {exc}") from None
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
    batch: dict[str, dict[str, Any]] = {}
    links: dict[str, list[dict[str, str]]] = {}
    for rec, row in zip(records, rows, strict=True):
        old = (
            by_id.get(row["id"])
            or (by_arxiv.get(row["arxiv_id"]) if row["arxiv_id"] else None)
            or by_title.get(row["title_norm"])
        )
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
    """Import the bundled collection when the database is empty, so a fresh install can answer."""
    if paper_count(db):
        return None
    from store.importers import listing  # local: importers sit above the store's read side

    return upsert_papers(db, listing.parse(bundled_listing()), name="bundled listing")


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
    if "subscriptions" in db.table_names():
        out["subscribed_chats"] = db.execute(
            "select count(*) from subscriptions where active = 1"
        ).fetchone()[0]
    return out


# ---------------------------------------------------------------- subscriptions and the push ledger
#
# The ledger is what makes the daily push exactly-once: a paper is written as "pending" for a chat
# (committed) before the message leaves, and "sent" once Telegram confirmed it. A send that failed
# for sure deletes its pending rows, so the next run sends them again. Rows still pending at the
# start of a run belong to a run that died mid-send: Telegram may have delivered them, so they become
# "uncertain" and are never sent again (never twice wins over maybe-once in that one-request window).


def subscribe(db, chat_id: int, title: str = "", keywords: str = "") -> dict[str, Any]:
    """Subscribe (or re-activate) a chat; new papers are those imported after this moment."""
    since = db.execute("select coalesce(max(rowid), 0) from papers").fetchone()[0]
    old = subscription(db, chat_id)
    with db.atomic():
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
    old = subscription(db, chat_id)
    if not old or not old["active"]:
        return False
    with db.atomic():
        db["subscriptions"].update(chat_id, {"active": 0})
    return True


def update_subscription(db, chat_id: int, **fields: Any) -> dict[str, Any] | None:
    """Change a subscription's push_time, timezone, keywords or title."""
    if not subscription(db, chat_id):
        return None
    with db.atomic():
        db["subscriptions"].update(chat_id, fields)
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
    with db.atomic():
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
    with db.atomic():
        for marks, part in in_chunks(paper_ids):
            db.execute(
                f"delete from ledger where chat_id = ? and status = 'pending' and paper_id in ({marks})",
                [chat_id, *part],
            )


def ledger_settle_crashed(db) -> int:
    """Pending rows left by a run that died mid-send become "uncertain" (never resent)."""
    with db.atomic():
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
    with db.atomic():
        db["subscriptions"].update(chat_id, {"last_push_at": now_utc()})
