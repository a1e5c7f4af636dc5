"""Vectors kept by more than one process (issue 23.4/23.7/23.11, issue 22): a long-lived process
owning the Answers engine as the bot does, with a `paperbot embed` or a copied-in folder beside
it; a removal while `paperbot embed` runs; the counts `stats` shows; the embed progress bar."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from store.semantic import stage as sem
from store.semantic import vectors as vec
from tests.processes import ROOT

ENV = {**os.environ, "PAPERBOT_SEMANTIC": "on"}
RS_QUESTION = "remote sensing image captioning"


def paperbot(db: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bot.cli", "--db", str(db), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)


def embedded(db: Path) -> int:
    loaded = vec.Vectors.load(vec.vectors_dir(db), sem.MODEL_NAME)
    return 0 if loaded is None else len(loaded)


def imported(db: Path, path: Path) -> None:
    out = paperbot(db, "import", str(path))
    assert out.returncode == 0, out.stderr


def stats(db: Path) -> dict:
    out = paperbot(db, "stats", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def write_papers(path: Path, prefix: str, count: int) -> Path:
    """Papers of several sentences (so each has windows), ids PREFIX0..."""
    words = "kelp moss fern reed lichen dune reef delta tundra coral".split()
    with open(path, "w") as fh:
        for i in range(count):
            w = words[i % len(words)]
            abstract = f"We map {w} {i} from the air. The maps are checked. They help {w} work."
            title = f"Mapping {w} number {i} ({prefix}) with drones"
            fh.write(
                json.dumps({"id": f"{prefix}{i}", "title": title, "abstract": abstract}) + "\n"
            )
    return path


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    db = tmp_path / "papers.db"
    assert paperbot(db, "ask", RS_QUESTION, "--json").returncode == 0
    assert embedded(db) == 91
    return db


ENGINE = """
import sys
from store.answers.engine import Answers
answers = Answers.open(sys.argv[1])
print("open", len(answers.vectors), flush=True)
for line in sys.stdin:
    word = line.strip()
    if word == "turn":  # the bot's background embedding job
        answers.embed(max_seconds=0.1)
    elif word == "refresh":  # the bot's index refresh job
        answers.refresh()
    elif word == "stop":  # the bot's post_shutdown
        answers.flush_vectors()
    print(len(answers.vectors), answers.unembedded(), flush=True)
    if word == "stop":
        break
"""


class Engine:
    """A process owning the Answers engine as the running bot does, driven a job at a time."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ENGINE, str(db)],
            cwd=ROOT,
            env=ENV,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout.readline().startswith("open")

    def do(self, word: str) -> tuple[int, int]:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        held, waiting = self.proc.stdout.readline().split()
        return int(held), int(waiting)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def test_the_bot_takes_what_a_paperbot_embed_beside_it_saved_and_does_not_overwrite_it(
    seeded: Path,
):
    """The bot embedded a few of 40 new papers (not saved yet: it saves every 300 s); a
    `paperbot embed` beside it embeds all 40. The bot's next job takes the newer generation, and
    its stop saves no stale state over it (main: 131 on disk, then 91 + the bot's few)."""
    imported(seeded, write_papers(seeded.parent / "a.jsonl", "a", 40))
    bot = Engine(seeded)
    try:
        held, waiting = bot.do("turn")
        assert 91 < held < 131 and waiting > 0  # one short turn: a batch or two
        beside = paperbot(seeded, "embed")
        assert beside.returncode == 0 and "131 of 131 have vectors" in beside.stdout
        assert bot.do("refresh") == (131, 0)  # noticed on disk, loaded
        assert bot.do("stop")[0] == 131
    finally:
        bot.close()
    assert embedded(seeded) == 131
    assert stats(seeded)["embedded"] == 131


def test_the_bot_takes_a_folder_copied_in_and_goes_on_from_it(seeded: Path):
    """README's "embed on a bigger machine and copy the folder": the copy holds 30 new papers'
    vectors, copied in while the bot had embedded a batch of them (not saved yet). The bot takes
    the copy (main: it embedded the 30 again, and a stop then saved its 107 over the 121), then
    embeds only what came after."""
    imported(seeded, write_papers(seeded.parent / "a.jsonl", "a", 30))
    big = seeded.parent / "big"
    big.mkdir()
    assert paperbot(seeded, "backup", str(big / seeded.name)).returncode == 0
    assert paperbot(big / seeded.name, "embed").returncode == 0
    bot = Engine(seeded)
    try:
        assert bot.do("turn")[0] < 121
        folder, other = vec.vectors_dir(seeded), vec.vectors_dir(big / seeded.name)
        for path in sorted(other.iterdir(), key=lambda p: p.name == "meta.json"):
            if path.name != ".lock":  # the big machine's files, its manifest last
                shutil.copy(path, folder / path.name)
        imported(seeded, write_papers(seeded.parent / "b.jsonl", "b", 10))
        assert bot.do("refresh") == (121, 10)
        held, waiting = bot.do("turn")
        while waiting:
            held, waiting = bot.do("turn")
        assert bot.do("stop")[0] == 131
    finally:
        bot.close()
    assert embedded(seeded) == 131


def test_a_paper_removed_while_paperbot_embed_runs_loses_its_vector(seeded: Path):
    """The removal lands while `embed` is mid-way (the bar on a terminal says where): its line
    and `stats` agree with the collection (main: `N+1 of N have vectors`)."""
    imported(seeded, write_papers(seeded.parent / "a.jsonl", "a", 120))
    out, rc = run_on_pty(seeded, "embed", when=("32/120", lambda: paperbot(seeded, "remove", "a1")))
    assert rc == 0, out
    assert "210 of 210 have vectors" in out
    figures = stats(seeded)
    assert figures["embedded"] == figures["papers"] == 210


def run_on_pty(db: Path, *args: str, when=None, columns: int = 100) -> tuple[str, int]:
    """`paperbot ARGS` with a pseudo-terminal as its stdout and stderr (sized `columns` wide; 0:
    unsized, as some terminals leave it). `when` = (text, action): run action once text shows."""
    master, slave = pty.openpty()
    if columns:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    cmd = [sys.executable, "-m", "bot.cli", "--db", str(db), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out, fired = b"", when is None
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not fired and when[0].encode() in out:
            fired = True
            when[1]()
    os.close(master)
    return out.decode(errors="replace"), proc.wait(timeout=300)


def test_embed_shows_a_progress_bar_on_an_unsized_terminal_and_one_line_elsewhere(seeded: Path):
    imported(seeded, write_papers(seeded.parent / "a.jsonl", "a", 20))
    out, rc = run_on_pty(seeded, "embed", "--limit", "10", columns=0)
    assert rc == 0 and "10/10" in out and "paper/s" in out
    piped = paperbot(seeded, "embed")
    assert piped.returncode == 0 and piped.stderr == ""  # no bar drawn into a log
    assert piped.stdout == "embedded 10 papers; 111 of 111 have vectors\n"


def test_stats_counts_the_shipped_vectors_and_removals(tmp_path: Path):
    """A fresh install: the demo's vectors ship (91 / 91 before any question); a removal counts
    at once and stays right after the next question."""
    db = tmp_path / "papers.db"
    figures = stats(db)
    assert (figures["embedded"], figures["papers"]) == (91, 91)
    assert paperbot(db, "ask", RS_QUESTION, "--json").returncode == 0
    assert paperbot(db, "remove", "t-826d74fca928").returncode == 0
    figures = stats(db)
    assert (figures["embedded"], figures["papers"]) == (90, 90)
    assert paperbot(db, "ask", RS_QUESTION, "--json").returncode == 0
    assert stats(db)["embedded"] == 90


def test_a_vectors_path_that_is_a_file_is_refused_before_embedding(tmp_path: Path):
    db = tmp_path / "papers.db"
    assert paperbot(db, "stats").returncode == 0  # the demo, its vectors not saved yet
    imported(db, write_papers(tmp_path / "a.jsonl", "a", 30))
    vec.vectors_dir(db).write_text("not a folder")
    refused = paperbot(db, "embed")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"the vectors path {vec.vectors_dir(db)} is not a folder: move that file away"
    )
    assert "free some space" not in refused.stderr


def test_a_read_only_vectors_folder_is_refused_before_embedding(seeded: Path, tmp_path: Path):
    """A read-only mount (a bind mount: root ignores file modes); skipped where none can be made."""
    imported(seeded, write_papers(tmp_path / "a.jsonl", "a", 30))
    folder = vec.vectors_dir(seeded)
    made = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("no read-only bind mount here")
    try:
        refused = paperbot(seeded, "embed")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "Read-only file system" in refused.stderr and "make it writable" in refused.stderr
        assert "free some space" not in refused.stderr
        assert refused.stdout == ""  # nothing embedded first
    finally:
        subprocess.run(["umount", str(folder)], check=False)
    assert embedded(seeded) == 91
