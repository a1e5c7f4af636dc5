"""The store under faults: read-only files, a full disk, another writer's lock, kill -9, backups."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import FormatError, iter_file, parse_text, read_file
from tests.conftest import FIXTURES


def write_jsonl(path: Path, n: int, start: int = 0) -> Path:
    with path.open("w") as out:
        for i in range(start, start + n):
            abstract = (
                f"We study widget {i} for vision-language grounding with lightweight adapters. " * 6
            )
            out.write(
                json.dumps({"id": f"w{i}", "title": f"Widget study {i}", "abstract": abstract})
                + "\n"
            )
    return path


def test_read_only_database_answers_and_refuses_writes_clearly(seeded_db, db_path):
    seeded_db.close()
    ro = store_db.open_db(db_path, read_only=True)
    answers = Answers(ro, None)
    assert answers.ask("remote sensing image captioning").results
    with pytest.raises(store_db.StoreError, match="nothing was imported.*readonly"):
        store_db.upsert_papers(ro, parse_text(read_file(FIXTURES / "hf_daily.json")))
    assert store_db.paper_count(ro) == 91


def test_full_disk_rolls_back_the_whole_import(seeded_db, tmp_path):
    pages = seeded_db.execute("pragma page_count").fetchone()[0]
    seeded_db.execute(f"pragma max_page_count = {pages + 5}")  # the disk fills up mid-import
    with pytest.raises(store_db.StoreError, match="full"):
        store_db.upsert_papers(seeded_db, iter_file(write_jsonl(tmp_path / "big.jsonl", 2000)))
    assert store_db.paper_count(seeded_db) == 91
    assert store_db.integrity_ok(seeded_db)


def test_locked_by_another_writer_is_a_clear_error(seeded_db, db_path):
    other = sqlite3.connect(db_path)
    other.execute("begin immediate")
    try:
        impatient = store_db.open_db(db_path, timeout=0.2)
        with pytest.raises(store_db.StoreError, match="locked"):
            store_db.upsert_papers(impatient, parse_text(read_file(FIXTURES / "hf_daily.json")))
    finally:
        other.rollback()
        other.close()
    assert store_db.paper_count(seeded_db) == 91


def test_deeply_nested_json_is_refused():
    with pytest.raises(FormatError):
        parse_text("[" * 100_000 + "]" * 100_000)


def test_billion_laughs_is_refused_without_expanding():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
            for i in range(9)
        )
        + ']><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol8;</title></entry></feed>'
    )
    with pytest.raises(FormatError, match="unsafe XML"):
        parse_text(bomb)


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr("store.collection.importers.MAX_BYTES", 1024)
    path = tmp_path / "huge.json"
    path.write_text("[" + " " * 5000 + "]")
    with pytest.raises(FormatError, match="over the"):
        read_file(path)


def test_backup_is_a_consistent_copy_of_a_live_database(seeded_db, tmp_path):
    target = store_db.backup(seeded_db, tmp_path / "backups" / "copy.db")
    copy = store_db.open_db(target)
    assert store_db.paper_count(copy) == 91 and store_db.integrity_ok(copy)
    assert list(store_db.iter_export(copy)) == list(store_db.iter_export(seeded_db))


def test_kill_9_mid_import_leaves_a_sound_database_and_the_import_reruns(tmp_path):
    db_path = tmp_path / "papers.db"
    big = write_jsonl(tmp_path / "big.jsonl", 15_000)
    cmd = [sys.executable, "-m", "bot.cli", "--db", str(db_path), "import", str(big)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not Path(str(db_path) + "-wal").exists():
        time.sleep(0.02)
    time.sleep(0.3)  # well inside the write transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = store_db.open_db(db_path)
    assert store_db.integrity_ok(db)
    assert store_db.paper_count(db) in (0, 15_000)  # all or nothing, never half
    db.close()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    db = store_db.open_db(db_path)
    assert store_db.paper_count(db) == 15_000 and store_db.integrity_ok(db)
