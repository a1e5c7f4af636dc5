"""The schema: `ensure_schema` creates and upgrades the tables (`pragma user_version`)."""

from __future__ import annotations

import uuid

import sqlite_utils

from store.collection.db.connection import writing
from store.collection.db.ledger import CHAT_SETTINGS
from store.collection.db.team import _mark_old_demo, ensure_deleted_table, ensure_team_table

# 2: the `demo` table; 3: team_papers (which papers the team added); 4: `deleted` (removals the
# index and vectors replay) and the chat settings `scope` and `taste` on subscriptions
SCHEMA_VERSION = 4


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables and indexes this version needs (idempotent)."""
    with writing(db, "schema upgrade"):
        if db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # another process upgraded it while this one waited for the lock
        _create_tables(db)
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


def _create_tables(db: sqlite_utils.Database) -> None:
    """The papers, their links, the import log, subscriptions and the push ledger (if missing)."""
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
