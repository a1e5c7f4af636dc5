"""Real processes for tests: the `paperbot` command, and writers that hold SQLite's write lock.

`python -m tests.processes hold DB SECONDS` holds the lock as `paperbot fetch` would (one paper
written, then SECONDS inside the transaction); `... bot DB SECONDS` makes the bot's small writes
(subscriptions, ledger) over SECONDS. Each prints "ready" once it has begun writing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def paperbot(db_path: Path, *args: str, input: str | None = None, timeout: float = 120):
    """`paperbot --db DB ARGS` in a new process; the CompletedProcess (text)."""
    cmd = [sys.executable, "-m", "bot.cli", "--db", str(db_path), *args]
    return subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def start(*args: str, **kwargs) -> subprocess.Popen:
    """A process running `python ARGS` from the repository root."""
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, text=True, stdout=subprocess.PIPE, **kwargs
    )


def start_writer(mode: str, db_path: Path, seconds: float) -> subprocess.Popen:
    """A `hold` or `bot` writer (see the module docstring), returned once it is writing."""
    proc = start("-m", "tests.processes", mode, str(db_path), str(seconds))
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _hold(db_path: str, seconds: float) -> None:
    from store.collection import db as store_db
    from store.collection.importers import parse_text

    db = store_db.open_db(db_path)
    store_db.set_writer("paperbot fetch")
    record = {"id": "held", "title": "A paper the holder wrote", "abstract": "Held for a while."}
    with store_db.writing(db, "importing hf daily papers"):
        store_db.upsert_papers(db, parse_text(json.dumps(record)), name="holder")
        print("ready", flush=True)
        time.sleep(seconds)


def _bot(db_path: str, seconds: float) -> None:
    from store.collection import db as store_db

    db = store_db.open_db(db_path)
    store_db.set_writer("the bot (paperbot run)")
    print("ready", flush=True)
    end, chat = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        chat += 1
        store_db.subscribe(db, chat, "chat", "")
        store_db.ledger_mark(db, chat, ["p1", "p2"], "pending")
        store_db.ledger_mark(db, chat, ["p1", "p2"], "sent")
        time.sleep(0.01)
    print(f"wrote {chat}", flush=True)


if __name__ == "__main__":
    {"hold": _hold, "bot": _bot}[sys.argv[1]](sys.argv[2], float(sys.argv[3]))
