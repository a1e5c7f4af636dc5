"""`paperbot import` under real faults: a full disk under the index, Ctrl-C and SIGTERM mid-import.

Every case runs the real command in a process of its own and then checks what an operator would:
the exit code and the one line it printed, the database's integrity and content, the index folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.collection import db as store_db
from store.search.index import Index, index_dir
from store.search.index.persist import named_files, read_meta
from tests.jsonl_papers import write_papers

ROOT = Path(__file__).resolve().parent.parent


def paperbot(db_path: Path, *args: str, **popen: object) -> subprocess.Popen:
    """`paperbot --db DB ARGS` as a real process (its own session: a terminal's Ctrl-C reaches
    the whole group, as `killpg` does here)."""
    code = "from bot.cli import cli\ncli(prog_name='paperbot')"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--db", str(db_path), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )


def finished(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (skipped where mounting is not allowed)."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)])


def live_in_group(pgid: int, wait: float) -> list[str]:
    """The processes of a group still running after up to `wait` seconds (exited ones waiting
    to be reaped by init do not count)."""
    deadline = time.monotonic() + wait
    while True:
        ps = subprocess.run(["ps", "-o", "stat=,cmd=", "-g", str(pgid)], capture_output=True)
        live = [x for x in ps.stdout.decode().splitlines() if x.strip() and x.split()[0][0] != "Z"]
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.2)


def folder_is_clean(folder: Path) -> bool:
    """Only the files meta.json names (and the lock): no temp or orphan file of a failed save."""
    meta = read_meta(folder)
    named = named_files(meta) if meta else set()
    return {p.name for p in folder.iterdir()} <= named | {".lock"}


def test_a_full_disk_under_the_index_fails_loudly_and_cleanly(tmp_path):
    db_path = tmp_path / "papers.db"
    first = write_papers(tmp_path / "first.jsonl", 0, 3000)
    second = write_papers(tmp_path / "second.jsonl", 3000, 3000)
    with small_disk(tmp_path / "disk", "512k") as disk:
        (disk / "index").mkdir()
        index_dir(db_path).symlink_to(disk / "index")
        code, out, err = finished(paperbot(db_path, "import", str(first)))
        assert code == 1 and "3000 new" in out
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "index not saved" in err and "MB free there" in err
        assert folder_is_clean(index_dir(db_path)) and read_meta(index_dir(db_path)) is None
        db = store_db.open_db(db_path)
        assert store_db.integrity_ok(db) and store_db.paper_count(db) == 3000

        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        code, out, err = finished(paperbot(db_path, "import", str(first)))
        assert code == 0 and "3000 unchanged" in out, err
        assert Index.load(index_dir(db_path), check_now=True).size == 3000  # caught up

        # A later save that fails leaves the previous one whole, and nothing of its own.
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * (free - 300_000))
        code, out, err = finished(paperbot(db_path, "import", str(second)))
        assert code == 1 and "index not saved" in err and "Traceback" not in err
        assert folder_is_clean(index_dir(db_path))
        assert Index.load(index_dir(db_path), check_now=True).size == 3000
        (disk / "filler").unlink()
        code, out, err = finished(paperbot(db_path, "import", str(second)))
        assert code == 0 and "3000 unchanged" in out, err
        index = Index.load(index_dir(db_path), check_now=True)
        assert index.size == 6000 and index.search(["marker5999"], 1)[0][0] == "syn-5999"


@pytest.fixture(scope="module")
def big_files(tmp_path_factory) -> tuple[Path, Path]:
    """A 50,000-paper file (its papers go to the counting pool once committed) and a
    250,000-paper one (parsed by the parse pool) to be stopped in."""
    folder = tmp_path_factory.mktemp("big")
    return (
        write_papers(folder / "first.jsonl", 0, 50_000),
        write_papers(folder / "second.jsonl", 50_000, 250_000),
    )


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_stopped_import_ends_quickly_with_one_line_and_loses_nothing(big_files, tmp_path, how):
    first, second = big_files
    db_path = tmp_path / "papers.db"
    proc = paperbot(db_path, "import", str(first), str(second))
    line = proc.stdout.readline()  # the first file is committed: its papers are being counted
    assert "50000 new" in line, line
    time.sleep(3)  # well into the second file, both pools busy
    assert proc.poll() is None
    sent = time.monotonic()
    if how == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    else:
        proc.send_signal(signal.SIGTERM)  # what systemd or kill does: the main process
    code, _out, err = finished(proc, timeout=30)
    assert time.monotonic() - sent < 5
    assert code == (130 if how == "SIGINT" else 143)
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert f"import stopped by {how}" in err and "second.jsonl not imported" in err
    assert not live_in_group(proc.pid, wait=3)  # no worker outlives the command
    db = store_db.open_db(db_path)
    assert store_db.integrity_ok(db)
    assert store_db.paper_count(db) in (50_000, 300_000)  # the file being written: all or nothing
