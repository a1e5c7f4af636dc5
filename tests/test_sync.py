"""The shared load/check/rebuild skeleton (`store.search.sync.current_or_fresh`), as the vectors use it."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from store.answers.engine import Answers
from store.collection import db as store_db
from store.semantic.vectors import vectors_dir
from store.text import tokenize


class BagEncoder:
    """Words hashed into 32 dimensions: deterministic, no model."""

    name = "bag-encoder"
    dim = 32

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for term in tokenize(text):
                out[i, sum(term.encode()) % self.dim] += 1
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


def sync_vectors(db, path, encoder):
    """Open the engine over the database (loading or clearing its vectors) and embed every paper."""
    answers = Answers(db, path, semantic=encoder)
    answers.embed()
    return answers.vectors


def test_vectors_of_another_database_are_cleared_under_the_folder_lock(tmp_path):
    """Vectors saved for another database: the folder is emptied (its lock file kept, so a
    process holding it still excludes the others) only once a reader holding the lock let go."""
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    encoder = BagEncoder()
    assert len(sync_vectors(db, path, encoder)) >= 91
    folder = vectors_dir(path)
    lock = (folder / ".lock").stat().st_ino
    (folder / "leftover.tmp").write_text("from a crashed save")
    db.execute("update meta set value = 'another-database' where key = 'uuid'")
    db.conn.commit()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"h = open({str(folder / '.lock')!r}, 'a+b'); fcntl.flock(h, fcntl.LOCK_SH)\n"
            "print('held', flush=True); time.sleep(1.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    start = time.monotonic()
    vectors = sync_vectors(db, path, encoder)
    assert time.monotonic() - start >= 1.0  # waited for the reader
    holder.wait(timeout=10)
    assert vectors.db_uuid == "another-database" and len(vectors) >= 91
    assert (folder / ".lock").stat().st_ino == lock
    assert not (folder / "leftover.tmp").exists()
