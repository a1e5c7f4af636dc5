"""Reaching the database: its path, the errors, the write transaction `writing` (BEGIN IMMEDIATE)
with its lock note, `in_chunks`, backups. `open_db` is in opening.py, above the schema."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import platformdirs
import sqlite_utils

LOCK_TIMEOUT = 10.0  # seconds a write waits for another writer (README promises it)
IN_CHUNK = 900  # values per `in (...)` list
T = TypeVar("T")


class StoreError(RuntimeError):
    """The database cannot be opened or written (read-only, locked, full, corrupt)."""


class ConflictError(StoreError):
    """A record names a stored paper's id but is clearly another paper: the file is refused."""


def default_db_path() -> Path:
    """`PAPERBOT_DB`, else the per-user data directory (XDG on Linux)."""
    env = os.environ.get("PAPERBOT_DB")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("paperbot")) / "papers.db"


def backup(db: sqlite_utils.Database, target: str | Path) -> Path:
    """A consistent copy of a live database (SQLite's online backup API), written then renamed.

    `target` is a folder (the copy is `papers-YYYYmmdd-HHMMSS.db` inside it) when it ends with
    `/`, is a folder, or does not exist and its name has no extension (`backups/new/deeper`); else
    a file (`copy.db`). Missing folders are made. Refused: an empty path, the live database
    itself (or its -wal, -shm), anything neither a regular file nor a folder (`/dev/full`), any
    existing file (it may be another bot's live database), and a place inside a database's
    derived folder (`x.db.index/`, `x.db.vectors/`: their upkeep deletes files it does not know).
    The copy is linked into place, so a file that appears meanwhile is not replaced either."""
    if not str(target).strip():
        raise StoreError("backup refused: the path is empty; name a new file or a folder")
    target = _backup_target(str(target))
    _refuse_target(db, target)
    tmp = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(str(tmp)) as out:
            db.conn.backup(out)
        out.close()
        _place(tmp, target)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"backup to {target} failed: {exc}") from None
    return target


def _place(tmp: Path, target: Path) -> None:
    """Move the finished copy to `target` without ever replacing a file there (a hard link fails
    when the name exists; a rename would not). Where links are not supported, check then rename."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise StoreError(_exists(target)) from None
    except OSError:
        if os.path.lexists(target):
            tmp.unlink(missing_ok=True)
            raise StoreError(_exists(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _exists(target: Path) -> str:
    """The refusal for an existing file: it may be another bot's live database."""
    return f"{target} exists: name a new file or a folder"


def _backup_target(text: str) -> Path:
    """The file a backup to `text` writes (see `backup`); in a folder, a name not taken yet."""
    path = Path(text)
    folder = text.endswith(("/", os.sep)) or path.is_dir()
    if not folder and not os.path.lexists(path) and not path.suffix:
        folder = True
    if not folder:
        return path
    stem = f"papers-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    target, n = path / f"{stem}.db", 1
    while os.path.lexists(target):
        n += 1
        target = path / f"{stem}-{n}.db"
    return target


def _derived_folder(target: Path) -> Path | None:
    """The database-derived folder (index or vectors) that `target` would land in, if any: one
    named `<x>.index` / `<x>.vectors` beside a file `<x>`, or one holding a meta.json with a
    `db_uuid` (a paperbot index or vectors folder under any name)."""
    for folder in target.resolve().parents:
        for end in (".index", ".vectors"):
            if folder.name.endswith(end) and folder.with_name(folder.name[: -len(end)]).is_file():
                return folder
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads((folder / "meta.json").read_text())
            if isinstance(meta, dict) and "db_uuid" in meta:
                return folder
    return None


def _refuse_target(db: sqlite_utils.Database, target: Path) -> None:
    """StoreError when writing `target` would replace the live database or a device."""
    if os.path.exists(target) and not target.is_file():
        raise StoreError(f"backup to {target} refused: not a regular file or a folder")
    row = db.execute("pragma database_list").fetchone()
    if not row or not row[2]:
        return
    live = Path(row[2])
    for own in (live, *(live.with_name(live.name + end) for end in ("-wal", "-shm", "-journal"))):
        same = target.resolve() == own.resolve()
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(target, own)
        if same:
            what = (
                "database" if own == live else f"database's {own.name[len(live.name) + 1 :]} file"
            )
            raise StoreError(
                f"backup to {target} refused: that is the live {what}; name another file or a folder"
            )
    if os.path.lexists(target):
        raise StoreError(_exists(target))
    derived = _derived_folder(target)
    if derived is not None:
        raise StoreError(
            f"backup to {target} refused: {derived} is a database's derived folder (its upkeep"
            " deletes other files); name a folder of your own"
        )


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


def in_chunks(values: Sequence[T]) -> Iterator[tuple[str, list[T]]]:
    """(placeholders, values) for `... in ({marks})` statements, IN_CHUNK values at a time:
    SQLite caps the variables of one statement (999 before 3.32)."""
    for i in range(0, len(values), IN_CHUNK):
        part = list(values[i : i + IN_CHUNK])
        yield ",".join("?" * len(part)), part


# ---------------------------------------------------------------- the index's catching up


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A plain read-only connection (a counting worker's): no schema check, nothing written."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
