"""The vectors folder under real faults: bytes overwritten in place, a file-size limit (a full
disk) while saving. A real `paperbot` process each time; the database is the source of truth."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store.semantic import saved
from store.semantic import stage as sem
from store.semantic import vectors as vec

RS_QUESTION = "remote sensing image captioning"


def paperbot(db: Path, *args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limited if limit_bytes else None,
        env={**os.environ, "PAPERBOT_SEMANTIC": "on"},
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    db = tmp_path / "papers.db"
    first = paperbot(db, "ask", RS_QUESTION, "--json")
    assert first.returncode == 0, first.stderr
    assert vec.Vectors.load(vec.vectors_dir(db), sem.MODEL_NAME) is not None
    return db


def top_title(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["results"][0]["title"]


@pytest.mark.parametrize(
    ("name", "where"),
    [
        *((kind, "middle") for kind in (*saved.KINDS, "meta")),
        ("paper", 60),
        ("ends", 60),
        ("meta", 60),
    ],
)
def test_bytes_overwritten_in_a_vectors_file_are_found_and_healed(seeded: Path, name, where):
    """In the data (only a checksum can tell) or in the manifest (its parser raises)."""
    path = saved.files_of(vec.vectors_dir(seeded))[name]
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if where == "middle" else where
    junk = b"\xff" * 16 if where == "middle" else b"(" * 16  # a header's unclosed bracket
    data[at : at + 16] = junk  # same size, in place
    path.write_bytes(bytes(data))
    assert "Remote Sensing" in top_title(paperbot(seeded, "ask", RS_QUESTION, "--json"))
    healed = vec.Vectors.load(vec.vectors_dir(seeded), sem.MODEL_NAME)
    assert healed is not None and len(healed) == 91


def test_a_full_disk_while_saving_vectors_says_so_and_leaves_no_litter(seeded: Path):
    folder = vec.vectors_dir(seeded)
    for path in saved.files_of(folder).values():
        path.unlink()
    failed = paperbot(seeded, "embed", limit_bytes=100_000)  # the windows need ~330 kB
    assert failed.returncode == 1
    assert "could not save the vectors" in failed.stderr and "free some space" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not list(folder.glob("*.tmp*"))
    assert "Remote Sensing" in top_title(paperbot(seeded, "ask", RS_QUESTION, "--json"))
    again = paperbot(seeded, "embed")  # with room again it catches up
    assert again.returncode == 0, again.stderr
    assert len(vec.Vectors.load(folder, sem.MODEL_NAME)) == 91


def test_questions_work_from_a_read_only_folder(seeded: Path, tmp_path: Path):
    """A database in a folder nobody may write (a read-only mount): `ask` answers, writes fail
    with one line. Needs a bind mount (root); skipped where it cannot be made."""
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(seeded.parent), str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("no read-only bind mount here")
    try:
        db = mount / seeded.name
        assert "Remote Sensing" in top_title(paperbot(db, "ask", RS_QUESTION, "--json"))
        refused = paperbot(db, "remove", "--demo")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_sigterm_stops_embed_with_one_line_and_keeps_what_it_did(tmp_path: Path):
    import time

    db = tmp_path / "papers.db"
    words = "kelp coral tundra glacier lichen dune reef moss fern delta".split()
    papers = [
        {
            "id": f"t{i}",
            "title": f"Mapping {words[i % 10]} number {i} from the air",
            "abstract": f"We map {words[i % 10]} {i} with drones. It works well. We share the data.",
        }
        for i in range(400)
    ]
    (tmp_path / "new.jsonl").write_text("".join(json.dumps(p) + "\n" for p in papers))
    assert paperbot(db, "stats").returncode == 0  # the demo, then 400 papers of the team
    assert paperbot(db, "import", str(tmp_path / "new.jsonl")).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--db", str(db), "embed"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PAPERBOT_SEMANTIC": "on"},
    )
    time.sleep(5)
    assert proc.poll() is None  # 400 papers take a minute or more
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err
    assert "interrupted: what was embedded is saved" in err
    kept = vec.Vectors.load(vec.vectors_dir(db), sem.MODEL_NAME)
    assert kept is not None and len(kept) >= 91  # the bundled papers at least, saved
    again = paperbot(db, "embed", "--limit", "3")  # resumes where it stopped
    assert again.returncode == 0, again.stderr
    assert len(vec.Vectors.load(vec.vectors_dir(db), sem.MODEL_NAME)) >= len(kept) + 3
