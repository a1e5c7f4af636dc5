"""The vectors folder under a crash or a full disk in the middle of a save: the last good state
stays loadable (issue 23.2/23.3). Real processes killed with SIGKILL, a real small tmpfs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from store.semantic import saved
from store.semantic import stage as sem
from store.semantic import vectors as vec
from tests.jsonl_papers import write_papers
from tests.processes import ROOT

RS_QUESTION = "remote sensing image captioning"
ENV = {**os.environ, "PAPERBOT_SEMANTIC": "on"}


def paperbot(db: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bot.cli", "--db", str(db), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env or ENV
    )


def embedded(db: Path) -> int:
    """Papers the saved vectors hold, loaded as the next command loads them (0: unloadable)."""
    loaded = vec.Vectors.load(vec.vectors_dir(db), sem.MODEL_NAME)
    return 0 if loaded is None else len(loaded)


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """The demo's 91 papers with their (shipped) vectors saved, and 20 papers waiting."""
    db = tmp_path / "papers.db"
    assert paperbot(db, "ask", RS_QUESTION, "--json").returncode == 0
    assert embedded(db) == 91
    write_papers(tmp_path / "new.jsonl", 0, 20, words=30)
    assert paperbot(db, "import", str(tmp_path / "new.jsonl")).returncode == 0
    return db


STEPS = [
    "wrote paper.f16",
    "wrote windows.f16",
    "wrote ends.i64",
    "wrote ids.txt",
    "wrote meta.json.tmp",
    "renamed meta.json",
]


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_of_a_save_leaves_a_loadable_state(seeded: Path, step: str):
    """SIGKILL between the save's writes: before the manifest's rename the 91 of the last
    generation load, after it the 111; the next `ask` keeps them and `embed` goes on."""
    env = {**ENV, "PAPERBOT_TEST_VECTORS_STOP": step}
    killed = paperbot(seeded, "embed", env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    expected = 111 if step == "renamed meta.json" else 91
    assert embedded(seeded) == expected
    assert (
        "Remote Sensing"
        in json.loads(paperbot(seeded, "ask", RS_QUESTION, "--json").stdout)["results"][0]["title"]
    )
    assert embedded(seeded) == expected  # the ask did not clear the folder
    again = paperbot(seeded, "embed")
    assert again.returncode == 0, again.stderr
    assert "111 of 111 have vectors" in again.stdout
    assert embedded(seeded) == 111
    left = {p.name for p in vec.vectors_dir(seeded).iterdir()}
    assert left == {".lock", *(p.name for p in saved.files_of(vec.vectors_dir(seeded)).values())}


SAVER = """
import sys, numpy as np
from pathlib import Path
from store.semantic import vectors as vec
folder, dim = Path(sys.argv[1]), 64
state = vec.Vectors.load(folder, "m")
rng = np.random.default_rng(0)
n = len(state.ids)
print("loaded", len(state), flush=True)
while True:
    rows = rng.standard_normal((6, dim)).astype(np.float32)
    state.put([(f"p{n}", "k", rows)])
    n += 1
    state.covered_seq = n
    state = state.save(folder) or state  # main's save returns None
"""


def test_sigkill_of_a_process_saving_in_a_loop_never_loses_the_vectors(tmp_path: Path):
    """A process appends a paper and saves, again and again; it is killed at random instants.
    Each time the folder loads with at least what it held before the process started."""
    folder = tmp_path / "v"
    start = vec.Vectors(64, "m")
    rng = random.Random(1)
    vectors = np.random.default_rng(1).standard_normal((3000 * 6, 64)).astype(np.float32)
    start.put([(f"p{i}", "k", vectors[i * 6 : i * 6 + 6]) for i in range(3000)])
    start.covered_seq = 3000
    start.save(folder)
    held = 3000
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().startswith("loaded")
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        loaded = vec.Vectors.load(folder, "m")
        assert loaded is not None, "the folder became unloadable"
        assert len(loaded) >= held
        held = len(loaded)


def fill(path: Path, leave: int) -> None:
    """Write zeros into `path` until the file system is full, then give back `leave` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(path, max(path.stat().st_size - leave, 0))


def test_a_full_disk_while_saving_keeps_the_last_good_vectors(seeded: Path):
    """The vectors folder on a real tmpfs with no room for the new rows: `embed` says so in one
    line and the 91 saved vectors still load (main: the new paper.npy beside the old meta.json
    made them all unloadable). With room again, `embed` catches up."""
    folder = vec.vectors_dir(seeded)
    sentences = "We fly drones over {w}. The images are stitched. A model counts {w} plants. "
    sentences += "It is checked by hand. It works in winter. We share the maps. Code is online."
    lines = [
        json.dumps(
            {"id": f"s{i}", "title": f"Survey {i} of {w}", "abstract": sentences.format(w=w)}
        )
        for i, w in enumerate(["kelp", "moss", "fern", "reed"] * 10)
    ]
    (seeded.parent / "more.jsonl").write_text("\n".join(lines) + "\n")
    assert paperbot(seeded, "import", str(seeded.parent / "more.jsonl")).returncode == 0
    size = sum(p.stat().st_size for p in folder.iterdir())
    moved = seeded.parent / "vectors.before"
    folder.rename(moved)
    folder.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size + 1024 * 1024}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if made.returncode != 0:
        folder.rmdir()
        moved.rename(folder)
        pytest.skip("cannot mount a tmpfs here")
    try:
        for path in moved.iterdir():
            (folder / path.name).write_bytes(path.read_bytes())
        assert embedded(seeded) == 91
        # Room for the whole paper matrix that main rewrote first (151 rows) but not for the 60
        # new papers' rows and windows (4 each) that a save now appends.
        fill(folder / "keep-full", leave=195 * 768)
        failed = paperbot(seeded, "embed")
        assert failed.returncode == 1
        assert "free some space" in failed.stderr and "Traceback" not in failed.stderr
        assert embedded(seeded) == 91  # the last good generation, whole
        ask = paperbot(seeded, "ask", RS_QUESTION, "--json")
        assert ask.returncode == 0 and embedded(seeded) == 91
        (folder / "keep-full").unlink()
        again = paperbot(seeded, "embed")
        assert again.returncode == 0, again.stderr
        assert embedded(seeded) == 151
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_an_older_release_folder_is_kept_and_rewritten_as_a_generation(tmp_path: Path):
    """Format 3 (one set of .npy files and meta.json): loaded as it is (hours of embedding are
    not thrown away at an upgrade), and its first save writes a generation in its place."""
    from store.files import file_crc

    folder = tmp_path / "v"
    folder.mkdir()
    rows = np.eye(4, dtype=np.float32)
    np.save(folder / "paper.npy", rows[:2].astype(np.float16))
    np.save(folder / "windows.npy", rows[2:3].astype(np.float16))
    np.save(folder / "starts.npy", np.array([0, 1, 1], dtype=np.int64))
    (folder / "ids.txt").write_text("p1\tk1\np2\tk2")
    names = ("paper.npy", "windows.npy", "starts.npy", "ids.txt")
    meta = {"format": 3, "model": "m", "covered_seq": 5, "db_uuid": "u", "papers": 2}
    meta["crc32"] = {name: file_crc(folder / name) for name in names}
    (folder / "meta.json").write_text(json.dumps(meta))
    old = vec.Vectors.load(folder, "m")
    assert old is not None and len(old) == 2 and old.covered_seq == 5
    old.put([("p3", "k3", rows[3:4], 6)])
    old.covered_seq = 6
    old.save(folder)
    assert not any((folder / name).exists() for name in names)
    again = vec.Vectors.load(folder, "m")
    assert again is not None and len(again) == 3 and again.similarity(rows[2], ["p1"])["p1"] > 0.4


@pytest.mark.parametrize("a_last", [True, False])
def test_two_states_saved_to_one_folder_merge_newer_rows_and_removals(tmp_path: Path, a_last):
    """Two writers from one generation: A re-embeds p1 (a newer text, change 9) and covers up to
    10; B covers up to 8 and dropped p2, removed at change 11. Whoever saves last, the folder
    ends with the union: p1's newer row, p2 gone (not in the database), the rows each added."""
    folder = tmp_path / "v"
    dim = 4
    eye = np.eye(dim, dtype=np.float32)
    base = vec.Vectors(dim, "m")
    base.put([("p1", "old", eye[0:1], 1), ("p2", "k2", eye[1:2], 2)])
    base.covered_seq, base.db_uuid = 2, "u"
    base.save(folder)
    a, b = vec.Vectors.load(folder, "m"), vec.Vectors.load(folder, "m")
    a.put([("p1", "new", eye[3:4], 9), ("pa", "ka", eye[2:3], 10)])
    a.covered_seq = 10
    b.forget(["p2"])
    b.put([("pb", "kb", eye[2:3], 8)])
    b.covered_seq = 8
    gone = lambda after: ["p2"] if after < 11 else []  # noqa: E731
    first, last = (b, a) if a_last else (a, b)
    first.save(folder, gone)
    merged = last.save(folder, gone)
    assert sorted(merged.row_of) == ["p1", "pa", "pb"] and merged.covered_seq == 10
    loaded = vec.Vectors.load(folder, "m")
    assert sorted(loaded.row_of) == ["p1", "pa", "pb"] and loaded.key_of("p1") == "new"
    assert loaded.similarity(eye[3], ["p1"])["p1"] == pytest.approx(1.0, abs=1e-3)
