"""The SQL behind follow-ups and metadata questions: which papers each answer showed (so a reply
to it is read with them, after a restart too), and the reads by author, year and link.

`answer_papers` holds one row per answer message: `key` names the message ("chat:message" for
Telegram, "cli:SESSION" for `paperbot ask --follow`), `thread` who asked where ("chat:user"), so
a follow-up that is not a reply finds the asker's last answer. Rows older than KEEP_DAYS go.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from store.collection.db.connection import now_utc, writing

KEEP_DAYS = 30


def ensure_answer_table(db: sqlite_utils.Database) -> None:
    """The table of answers and their papers (created on the first answer, no schema bump)."""
    db.execute(
        "create table if not exists answer_papers (key text primary key, thread text, "
        "query text, paper_ids text not null, at text not null)"
    )
    db.execute("create index if not exists answer_papers_thread on answer_papers (thread, at)")


def remember_answer(
    db: sqlite_utils.Database, keys: list[str], thread: str | None, query: str, ids: list[str]
) -> None:
    """Record the papers an answer showed under each of its message keys; old rows are dropped."""
    if not keys:
        return
    now = now_utc()
    cutoff = (datetime.now(UTC) - timedelta(days=KEEP_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with writing(db, "remembering an answer"):
        ensure_answer_table(db)
        db.execute("delete from answer_papers where at < ?", [cutoff])
        for key in keys:
            db.execute(
                "insert or replace into answer_papers (key, thread, query, paper_ids, at) "
                "values (?, ?, ?, ?, ?)",
                [key, thread, query, json.dumps(ids), now],
            )


def _answer_table_exists(db: sqlite_utils.Database) -> bool:
    sql = "select 1 from sqlite_master where type = 'table' and name = 'answer_papers'"
    return db.execute(sql).fetchone() is not None


def answer_for(db: sqlite_utils.Database, key: str) -> list[str] | None:
    """The papers the answer stored under `key` showed, or None when it is unknown."""
    if not _answer_table_exists(db):
        return None
    row = db.execute("select paper_ids from answer_papers where key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else None


def last_answer(db: sqlite_utils.Database, thread: str) -> list[str] | None:
    """The papers of the latest answer in a thread, or None."""
    if not _answer_table_exists(db):
        return None
    sql = (
        "select paper_ids from answer_papers where thread = ? order by at desc, rowid desc limit 1"
    )
    row = db.execute(sql, [thread]).fetchone()
    return json.loads(row[0]) if row else None


# ---------------------------------------------------------------- metadata reads


# Letters NFKD does not take apart: a name typed without them still matches ("Søren Østergaard",
# "Weiß", "Małgorzata" as "soren ostergaard", "weiss", "malgorzata").
_UNDECOMPOSED = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ß": "ss",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "þ": "th",
        "ı": "i",
    }
)


def fold(text: str | None) -> str:
    """Lower case without accents ("Hervé Jégou" -> "herve jegou"): how names are compared."""
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_UNDECOMPOSED))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def ids_by_author(db: sqlite_utils.Database, tokens: list[str]) -> list[str]:
    """Papers with an author whose folded name holds every token, newest first (a scan of the
    papers that have authors: a metadata question is rare, a table of names is not worth it)."""
    if not tokens:
        return []
    sql = (
        "select id, authors from papers where authors is not null and authors != '[]' "
        "and fold_text(authors) like ? order by coalesce(published, listed, added_at) desc, seq desc"
    )
    db.conn.create_function("fold_text", 1, fold, deterministic=True)
    out = []
    for pid, authors in db.execute(sql, [f"%{tokens[-1]}%"]):
        for name in json.loads(authors):
            words = set(fold(name).replace(",", " ").replace(".", " ").split())
            if all(t in words for t in tokens):
                out.append(pid)
                break
    return out


def ids_by_year(db: sqlite_utils.Database, year: str) -> tuple[list[str], int]:
    """Papers published (else listed) in `year`, newest first; and how many have no date."""
    sql = (
        "select id from papers where substr(coalesce(published, listed), 1, 4) = ? "
        "order by coalesce(published, listed) desc, seq desc"
    )
    ids = [row[0] for row in db.execute(sql, [year])]
    undated = db.execute(
        "select count(*) from papers where coalesce(published, listed) is null"
    ).fetchone()[0]
    return ids, undated


def ids_with_link(db: sqlite_utils.Database, kind: str | None, host: str | None) -> list[str]:
    """Papers with a link of this kind and/or on this host, in the order they were stored."""
    where, args = [], []
    if kind:
        where.append("l.kind = ?")
        args.append(kind)
    if host:
        where.append("(l.url like ? or l.url like ?)")  # www.github.com is GitHub too
        args += [f"%://{host}/%", f"%://www.{host}/%"]
    sql = (
        "select distinct p.id from papers p join links l on l.paper_id = p.id "
        f"where {' and '.join(where) or '1'} order by p.seq"
    )
    return [row[0] for row in db.execute(sql, args)]


def ids_titled(db: sqlite_utils.Database, words: str, limit: int = 5) -> list[str]:
    """Papers whose normalized title holds `words` (already normalized) as a phrase."""
    if len(words) < 3:
        return []
    sql = "select id from papers where (' ' || title_norm || ' ') like ? order by seq limit ?"
    return [row[0] for row in db.execute(sql, [f"% {words} %", limit])]


def paper_facts(db: sqlite_utils.Database, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Authors and dates of these papers (what a metadata answer says about each)."""
    out: dict[str, dict[str, Any]] = {}
    for pid in ids:
        row = db.execute(
            "select authors, published, listed, added_at from papers where id = ?", [pid]
        ).fetchone()
        if row:
            authors = json.loads(row[0]) if row[0] else []
            out[pid] = {"authors": authors, "published": row[1], "listed": row[2], "added": row[3]}
    return out
