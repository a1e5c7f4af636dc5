"""Papers and their links: the upsert and its merge rules (one transaction per file), the reads
the index and the answers use, the export."""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from store.collection.clean import ABSTRACT_LIMIT, normalize_title, title_id
from store.collection.db.connection import (
    ConflictError,
    StoreError,
    in_chunks,
    now_utc,
    writing,
)

CHUNK = 5000
SAME_TITLE = 0.6  # normalized titles less alike than this are two different papers


@dataclass
class ImportResult:
    """What an import changed: counts a maintainer reads after `paperbot import`."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"


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


# ---------------------------------------------------------------- writes

_MERGED = ("title", "abstract", "raw", "authors", "keywords", "published", "listed", "ai_summary")
_DATES = ("published", "listed")


def _merge(old: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """The incoming record is the newer one and wins every field it has a value for (a corrected
    export, a new arXiv version), even an abstract that is the stored one cut short (a correction
    that drops a sentence lands), with two exceptions: two sources' keywords are joined, and a
    date that says less ("2025-04" against "2025-04-11") keeps the stored one. A record of an
    older arXiv version than the stored one only fills empty fields."""
    older = (rec.get("version") or 0) < (old.get("version") or 0) and bool(rec.get("version"))
    merged = dict(old)
    for field in _MERGED:
        value = rec.get(field)
        if value in (None, "", "[]"):
            continue
        if field == "keywords" and not older:
            merged[field] = _union_json(old.get(field), value)
        elif field in _DATES and _less_precise(old.get(field), value):
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
            row.update(added_at=rec.get("added_at") or now, updated_at=now, seq=seq)
            for index, key in ((by_id, "id"), (by_arxiv, "arxiv_id"), (by_title, "title_norm")):
                if row[key]:
                    index[row[key]] = row
            status[row["id"]] = "new"
            batch[row["id"]] = row
            links[row["id"]] = list(rec["links"])
            continue
        # A demo paper an import names is the collection's now, changed or not (an export read
        # back names every paper it holds): `remove --demo` keeps it.
        claimed.append(old["id"])
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


def _unmark_demo(db: sqlite_utils.Database, ids: list[str]) -> None:
    """Demo papers that an import names are the team's now: `remove --demo` keeps them."""
    if not ids or not db.execute("select 1 from demo limit 1").fetchone():
        return
    for marks, part in in_chunks(ids):
        db.execute(f"delete from demo where paper_id in ({marks})", part)


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
    """Full papers (with links) by id, abstracts read as questions read them (the export gives
    them whole); unknown ids are left out."""
    out: dict[str, dict[str, Any]] = {}
    for marks, part in in_chunks(ids):
        for row in db.query(f"select * from papers where id in ({marks})", part):
            out[row["id"]] = paper = _decode(row)
            for field in ("abstract", "raw"):  # as questions read it (see `_ABSTRACT`)
                if paper[field] and len(paper[field]) > ABSTRACT_LIMIT:
                    paper[field] = paper[field][:ABSTRACT_LIMIT]
    all_links = links_for(db, list(out))
    for pid, paper in out.items():
        paper["links"] = all_links[pid]
    return out


def get_paper(db: sqlite_utils.Database, paper_id: str) -> dict[str, Any] | None:
    """One paper by id or arXiv id (with or without version), or None."""
    from store.collection.clean import parse_arxiv_id

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


# The abstract as questions read it (the index, the vectors, snippets): at most ABSTRACT_LIMIT
# characters, so a huge one stored by an older version cannot make a question take seconds.
_ABSTRACT = f"substr(p.abstract, 1, {ABSTRACT_LIMIT})"


def iter_for_index(
    db: sqlite_utils.Database | sqlite3.Connection, after_seq: int = 0, until_seq: int | None = None
) -> Iterator[tuple[str, int, str, str, str]]:
    """(id, seq, title, abstract, link urls) of papers changed after `after_seq` (up to `until_seq`
    included, when given), in seq order."""
    sql = (
        f"select p.id, p.seq, p.title, {_ABSTRACT}, "
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
            f"select p.id, p.title, {_ABSTRACT}, "
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


def count_changed_since(db: sqlite_utils.Database | sqlite3.Connection, seq: int) -> int:
    """How many papers changed after change number `seq`."""
    return db.execute("select count(*) from papers where seq > ?", [seq]).fetchone()[0]


def seqs_changed_since(db: sqlite_utils.Database | sqlite3.Connection, seq: int) -> list[int]:
    """The change numbers after `seq`, ascending (one per changed paper)."""
    return [r[0] for r in db.execute("select seq from papers where seq > ? order by seq", [seq])]
