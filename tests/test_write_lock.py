"""Writes wait their turn: a second process holding SQLite's write lock, for real."""

from __future__ import annotations

import json
import time

from store.collection import db as store_db
from tests.processes import paperbot, start, start_writer


def write_jsonl(path, n: int, prefix: str):
    """n distinct papers as JSON Lines."""
    with path.open("w") as out:
        for i in range(n):
            abstract = f"We study {prefix} gadget {i} for grounding captions in images. " * 4
            paper = {
                "id": f"{prefix}{i}",
                "title": f"{prefix} gadget study {i}",
                "abstract": abstract,
            }
            out.write(json.dumps(paper) + "\n")
    return path


def count(db_path) -> int:
    db = store_db.open_db(db_path)
    try:
        return store_db.paper_count(db)
    finally:
        db.close()


def collection(tmp_path, n: int):
    """A database of n imported papers."""
    db_path = tmp_path / "papers.db"
    first = paperbot(db_path, "import", str(write_jsonl(tmp_path / "a.jsonl", n, "a")))
    assert first.returncode == 0, first.stderr
    return db_path


def import_while_held(db_path, held: float, n: int):
    """Import n papers while another process holds the write lock for `held` seconds:
    (the holder, the import's result, how long the import took)."""
    holder = start_writer("hold", db_path, held)
    started = time.monotonic()
    result = paperbot(db_path, "import", str(write_jsonl(db_path.parent / "b.jsonl", n, "b")))
    return holder, result, time.monotonic() - started


def test_import_waits_for_a_writer_holding_the_lock_and_succeeds(tmp_path):
    db_path = collection(tmp_path, 50)
    holder, result, waited = import_while_held(db_path, 2.0, 200)
    assert holder.wait(timeout=30) == 0
    assert result.returncode == 0, result.stderr
    assert "200 new" in result.stdout
    assert waited >= 1.5  # it waited for the holder's commit instead of failing
    assert count(db_path) == 50 + 1 + 200


def test_two_imports_and_the_bot_writing_at_once_all_succeed(tmp_path):
    db_path = collection(tmp_path, 10)
    files = [write_jsonl(tmp_path / f"{p}.jsonl", 3000, p) for p in ("x", "y")]
    bot = start_writer("bot", db_path, 4.0)
    imports = [
        start("-m", "bot.cli", "--db", str(db_path), "import", str(f), stderr=-1) for f in files
    ]
    outputs = [proc.communicate(timeout=120) for proc in imports]
    bot_out, _ = bot.communicate(timeout=60)
    assert [p.returncode for p in imports] == [0, 0], [err for _, err in outputs]
    assert bot.returncode == 0 and bot_out.startswith("wrote")
    assert all("3000 new" in out for out, _ in outputs)
    assert count(db_path) == 10 + 6000


def test_a_holder_longer_than_the_timeout_gives_one_clear_line_and_writes_nothing(tmp_path):
    db_path = collection(tmp_path, 20)
    holder, result, waited = import_while_held(db_path, 13.0, 100)
    assert result.returncode == 1
    refusal = [line for line in result.stderr.splitlines() if "refused" in line]
    assert len(refusal) == 1 and "Traceback" not in result.stderr
    assert "database is locked: paperbot fetch (importing hf daily papers, pid" in refusal[0]
    assert f"pid {holder.pid}," in refusal[0] and "nothing was written" in refusal[0]
    assert 9.5 <= waited < 12.5  # the 10 s busy timeout, honoured
    assert holder.wait(timeout=30) == 0
    db = store_db.open_db(db_path)
    assert store_db.paper_count(db) == 20 + 1  # the holder's paper, none of the refused file's
    assert [r[0] for r in db.execute("select name from imports order by id")] == [
        "a.jsonl",
        "holder",
    ]
    assert store_db.integrity_ok(db)
