"""Chats: subscriptions, the push ledger, and the bot's inbox of received updates.

`Chats` is how the bot reads and writes a chat's subscription and the ledger. It shares the
engine's SQLite connection and lock (one connection per process, used from worker threads), and
each call holds the lock for its own statements only, never across a network request: the push
marks a paper pending, lets go, sends, then takes the lock again to mark it sent. The SQL lives in
store/collection/db/ (ledger.py).

`Inbox` keeps every Telegram update the bot received until it was handled, so a stop (SIGTERM, a
crash) loses no question: what is still there at the next start is handled then, and an update
Telegram delivers again is recognised and dropped. It is a file of its own, so no other process's
write lock (an import of minutes) ever holds up the intake.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from store.collection import db as store_db
from store.collection.db.ledger import drop_lease, take_lease

T = TypeVar("T")

# Handled updates are kept this long as tombstones (Telegram keeps an unconfirmed update for 24 h).
INBOX_KEEP_SECONDS = 2 * 24 * 3600
MEMORY_TIMEOUT = 1.0  # seconds remembering an answer's papers waits for another writer


class Chats:
    """Subscriptions and the ledger, each call a short locked step on the engine's connection."""

    def __init__(self, db, lock: threading.RLock) -> None:
        self.db = db
        self._lock = lock
        self._memory_db = None
        self._memory_lock = threading.Lock()

    def _locked(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return func(self.db, *args, **kwargs)

    def subscribe(self, chat_id: int, title: str = "", keywords: str = "") -> dict[str, Any]:
        """Subscribe or re-activate a chat; it receives papers added from now on."""
        return self._locked(store_db.subscribe, chat_id, title, keywords)

    def unsubscribe(self, chat_id: int) -> bool:
        """Stop a chat's digest; whether it was subscribed."""
        return self._locked(store_db.unsubscribe, chat_id)

    def get(self, chat_id: int) -> dict[str, Any] | None:
        """A chat's subscription row (active or not), or None."""
        return self._locked(store_db.subscription, chat_id)

    def change(self, chat_id: int, **fields: Any) -> dict[str, Any] | None:
        """Change push_time, timezone, keywords or title; the row after, or None if unknown."""
        return self._locked(store_db.update_subscription, chat_id, **fields)

    def set_setting(self, chat_id: int, field: str, value: str) -> dict[str, Any]:
        """Set a chat's `scope` or `taste`, subscribed or not; the chat's row after."""
        return self._locked(store_db.set_chat_setting, chat_id, field, value)

    def active(self) -> list[dict[str, Any]]:
        """Every chat that receives the digest."""
        return self._locked(store_db.active_subscriptions)

    def undelivered(self, chat_id: int, since_rowid: int, limit: int | None = None) -> list[str]:
        """Papers added since the chat subscribed that the ledger has no row for (all of them,
        unless `limit`)."""
        return self._locked(store_db.undelivered, chat_id, since_rowid, limit)

    def take_lease(self, name: str, holder: str, seconds: float) -> str | None:
        """Take or renew a lease (see store/collection/db/ledger.py); None, or who holds it."""
        return self._locked(take_lease, name, holder, seconds, time.time())

    def drop_lease(self, name: str, holder: str) -> None:
        """Give a lease back."""
        self._locked(drop_lease, name, holder)

    def mark(
        self, chat_id: int, paper_ids: list[str], status: str, message_id: int | None = None
    ) -> None:
        """Commit papers' ledger state for a chat (pending, sent, summarized, uncertain)."""
        self._locked(store_db.ledger_mark, chat_id, paper_ids, status, message_id)

    def forget(self, chat_id: int, paper_ids: list[str]) -> None:
        """A send surely failed: drop its pending rows so the next run sends those papers."""
        self._locked(store_db.ledger_forget, chat_id, paper_ids)

    def deactivate(self, chat_id: int, paper_ids: list[str]) -> None:
        """The chat removed or blocked the bot: forget the pending send, stop its digest."""
        with self._lock:
            store_db.ledger_forget(self.db, chat_id, paper_ids)
            store_db.update_subscription(self.db, chat_id, active=0)

    def settle_crashed(self) -> int:
        """Rows a dead run left pending become uncertain (never resent); how many."""
        return self._locked(store_db.ledger_settle_crashed)

    def mark_pushed(self, chat_id: int) -> None:
        """Remember when the chat last received a digest."""
        self._locked(store_db.mark_pushed, chat_id)

    def ledger(self, chat_id: int) -> dict[str, str]:
        """paper id -> ledger status for one chat."""
        return self._locked(store_db.ledger, chat_id)

    # Which papers each answer showed, on a connection of their own that waits at most
    # MEMORY_TIMEOUT for SQLite's write lock: remembering an answer never holds the engine's
    # lock, so an import holding the write lock cannot stall the questions that follow.

    def _remembered(self, func: Callable[..., T], *args: Any) -> T:
        """Run `func` on the memory's connection (opened on first use), under its own lock."""
        with self._memory_lock:
            if self._memory_db is None:
                with self._lock:  # the engine's connection, once: where the file is
                    path = self.db.execute("pragma database_list").fetchone()[2]
                self._memory_db = (
                    store_db.open_db(path, timeout=MEMORY_TIMEOUT) if path else self.db
                )
            return func(self._memory_db, *args)

    def remember_answer(
        self, keys: list[str], thread: str | None, query: str, paper_ids: list[str]
    ) -> None:
        """Which papers an answer showed, under each of its message keys: what a reply to it
        ("does the second one need training?") is read with, after a restart too."""
        self._remembered(store_db.remember_answer, keys, thread, query, paper_ids)

    def answer_for(self, key: str) -> list[str] | None:
        """The papers of the answer stored under `key` ("chat:message", "cli:SESSION")."""
        return self._remembered(store_db.answer_for, key)

    def last_answer(self, thread: str) -> list[str] | None:
        """The papers of the latest answer in a thread ("chat:user")."""
        return self._remembered(store_db.last_answer, thread)


class Inbox:
    """Updates received and not yet handled, in a SQLite file of their own beside the papers
    (`<database>.inbox`, table `updates`).

    Its own file, because the papers' file is written by other processes (`paperbot import`,
    `fetch`, `embed`) for minutes at a time: the intake must never wait for their write lock. An
    update is keyed by (bot id, update id, a digest of its content), so a Bot API endpoint whose
    ids start again (a local Bot API server, a new bot behind the same database) drops nothing,
    while an update Telegram delivers again (the same content) is recognised.
    """

    def __init__(self, db_path: Path | str, bot_id: int = 0, timeout: float = 2.0) -> None:
        self.path = inbox_path(db_path)
        self.bot_id = bot_id
        self.conn = sqlite3.connect(str(self.path), timeout=timeout, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self.conn:
            self.conn.execute("pragma journal_mode = wal")
            self.conn.execute(
                "create table if not exists updates (bot_id integer not null, "
                "update_id integer not null, stamp text not null, payload text not null, "
                "received_at real not null, handled_at real, "
                "primary key (bot_id, update_id, stamp))"
            )
        self._adopt_old(db_path)

    def _adopt_old(self, db_path: Path | str) -> None:
        """Updates an older paperbot left unhandled in the papers' own `inbox` table: read (never
        written: that would need the papers' write lock) and recorded here, once."""
        try:
            uri = Path(db_path).resolve().as_uri() + "?mode=ro"
            old = sqlite3.connect(uri, uri=True, timeout=1.0)
            try:
                rows = old.execute(
                    "select update_id, payload, received_at from inbox where handled_at is null"
                ).fetchall()
            finally:
                old.close()
        except sqlite3.Error:  # no such table (a new database), or unreadable: nothing to adopt
            return
        for update_id, payload, received_at in rows:
            self.add(update_id, json.loads(payload), received_at)

    def add(self, update_id: int, payload: dict[str, Any], now: float) -> bool:
        """Record a received update; False when it was received before (handled or pending)."""
        text = json.dumps(payload, sort_keys=True)
        stamp = hashlib.sha1(text.encode()).hexdigest()[:16]
        with self._lock, self.conn:
            cur = self.conn.execute(
                "insert or ignore into updates (bot_id, update_id, stamp, payload, received_at) "
                "values (?, ?, ?, ?, ?)",
                [self.bot_id, update_id, stamp, text, now],
            )
        return cur.rowcount == 1

    def done(self, update_id: int, now: float) -> None:
        """The update was handled (answered, or failed with the apology): never replay it."""
        with self._lock, self.conn:
            self.conn.execute(
                "update updates set handled_at = ? where bot_id = ? and update_id = ? "
                "and handled_at is null",
                [now, self.bot_id, update_id],
            )

    def pending(self) -> list[dict[str, Any]]:
        """Updates received but not handled (the last run stopped first), oldest first."""
        with self._lock:
            rows = self.conn.execute(
                "select payload from updates where handled_at is null and bot_id = ? "
                "order by received_at, rowid",
                [self.bot_id],
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def prune(self, now: float, keep: float = INBOX_KEEP_SECONDS) -> int:
        """Forget handled updates older than `keep` seconds (Telegram no longer resends them)."""
        with self._lock, self.conn:
            cur = self.conn.execute(
                "delete from updates where handled_at is not null and handled_at < ?",
                [now - keep],
            )
        return cur.rowcount

    def close(self) -> None:
        self.conn.close()


def inbox_path(db_path: Path | str) -> Path:
    """The inbox's file: beside the database, named after it."""
    path = Path(db_path)
    return path.with_name(path.name + ".inbox")
