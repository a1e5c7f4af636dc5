"""Subscriptions (one row per chat, with its settings) and the push ledger that makes the daily
digest exactly-once."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from store.collection.db.connection import in_chunks, now_utc, writing

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


def undelivered(db, chat_id: int, since_rowid: int, limit: int | None = None) -> list[str]:
    """Ids of papers added after the chat subscribed that the ledger has no row for, oldest
    first; every one unless `limit` (papers a chat's filter skipped have a "skipped" row, so
    they are not read again)."""
    sql = (
        "select p.id from papers p where p.rowid > ? and not exists "
        "(select 1 from ledger l where l.chat_id = ? and l.paper_id = p.id) order by p.rowid limit ?"
    )
    return [
        row[0] for row in db.execute(sql, [since_rowid, chat_id, -1 if limit is None else limit])
    ]


def ledger_mark(
    db, chat_id: int, paper_ids: list[str], status: str, message_id: int | None = None
) -> None:
    """Record (commit) the state of papers for a chat: pending, sent, summarized, skipped (the
    chat's keywords or taste left it out: never considered again)."""
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


# ---------------------------------------------------------------- leases
#
# A lease serializes a job across processes (two `paperbot push` at once, or one beside the bot's
# daily job): the holder writes its name and an expiry, renews it as it goes, and drops it at the
# end. A holder that died leaves a lease the next taker may take once it expires, or at once when
# the holder was a process on this machine that no longer exists.


def _ensure_leases(db) -> None:
    db.execute(
        "create table if not exists leases (name text primary key, holder text not null, "
        "expires_at real not null)"
    )


def take_lease(db, name: str, holder: str, seconds: float, now: float) -> str | None:
    """Take (or renew) the lease `name` for `seconds`; None when held now, else who holds it."""
    with writing(db, f"taking the {name} lease"):
        _ensure_leases(db)
        row = db.execute("select holder, expires_at from leases where name = ?", [name]).fetchone()
        if row and row[0] != holder and row[1] > now and _alive(row[0]):
            return row[0]
        db.execute(
            "insert or replace into leases (name, holder, expires_at) values (?, ?, ?)",
            [name, holder, now + seconds],
        )
    return None


def drop_lease(db, name: str, holder: str) -> None:
    """Give the lease back (only if this holder still has it)."""
    with writing(db, f"dropping the {name} lease"):
        _ensure_leases(db)
        db.execute("delete from leases where name = ? and holder = ?", [name, holder])


def lease_holder_name() -> str:
    """This process as a lease holder: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(holder: str) -> bool:
    """False when the holder was a process on this machine that is gone (killed mid-push)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's: trust its expiry
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
