"""Opening the database: `open_db` (WAL, busy timeout, read-only fallback) brings it to the
current schema. It sits above schema.py, which sits above the tables' owners (team.py, ledger.py)
and connection.py: every import in store/collection/db points down."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from store.collection.db.connection import LOCK_TIMEOUT, StoreError, default_db_path
from store.collection.db.schema import SCHEMA_VERSION, ensure_schema


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
            conn = _connect_read_only(path)
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


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Read-only; in a folder this process cannot write, where SQLite cannot make the WAL's shared
    memory file, as an immutable file (nobody can be writing it there anyway)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        return sqlite3.connect(
            f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK)
