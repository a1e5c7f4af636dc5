"""`paperbot backup` never replaces a file, and never writes where an engine's upkeep deletes it.

Through real `paperbot` processes on real SQLite files: another team's live database named as the
target stays as it was (main replaced it, and the bot running on it lost its writes); a target
inside a database's `.index` / `.vectors` folder, or an empty path, is refused with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT, paperbot


def made(db_path: Path) -> Path:
    """A database made and seeded by `paperbot stats`."""
    assert paperbot(db_path, "stats").returncode == 0
    return db_path


def one_line_error(result, code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    return result.stderr.strip()


def test_backup_onto_another_live_database_is_refused_and_leaves_it(tmp_path):
    a, b = made(tmp_path / "a.db"), made(tmp_path / "b.db")
    assert paperbot(b, "subscriptions", "add", "12345").returncode == 0
    before = b.read_bytes()
    err = one_line_error(paperbot(a, "backup", str(b)))
    assert err == f"Error: {b} exists: name a new file or a folder"
    assert b.read_bytes() == before
    assert "12345" in paperbot(b, "subscriptions", "list").stdout
    assert not list(tmp_path.glob("*.partial"))


def test_any_existing_file_is_refused_but_a_folder_gets_a_new_name_each_time(tmp_path):
    a = made(tmp_path / "a.db")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    err = one_line_error(paperbot(a, "backup", str(notes)))
    assert err == f"Error: {notes} exists: name a new file or a folder"
    assert notes.read_text() == "mine"
    folder = tmp_path / "backups"
    for _ in range(3):  # within one second: the timestamped name is taken, the next gets -2, -3
        assert paperbot(a, "backup", str(folder) + "/").returncode == 0
    assert len(list(folder.iterdir())) == 3


def test_a_target_inside_a_databases_derived_folder_is_refused(tmp_path):
    a, b = made(tmp_path / "a.db"), made(tmp_path / "b.db")
    assert paperbot(b, "ask", "clip").returncode in (0, 1)  # makes b.db.index/
    renamed = tmp_path / "old-index"
    renamed.mkdir()
    (renamed / "meta.json").write_text(json.dumps({"format": 6, "db_uuid": "x"}))
    for folder in (tmp_path / "b.db.index", tmp_path / "b.db.vectors", renamed):
        folder.mkdir(exist_ok=True)
        for target in (folder / "copy.db", folder / "sub" / "copy.db", folder):
            err = one_line_error(paperbot(a, "backup", str(target)))
            assert "is a database's derived folder" in err, err
    assert not (tmp_path / "b.db.index" / "copy.db").exists()
    assert not (tmp_path / "b.db.vectors" / "sub").exists()


def test_an_empty_path_is_refused_rather_than_writing_into_the_current_folder(tmp_path):
    """Run from inside tmp_path (main wrote papers-*.db into the current folder)."""
    a = made(tmp_path / "a.db")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for path in ("", "  "):
        cmd = [sys.executable, "-m", "bot.cli", "--db", str(a), "backup", path]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
        err = one_line_error(result)
        assert err == "Error: backup refused: the path is empty; name a new file or a folder"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["a.db"]
