"""What a vectors save costs at scale (issue 23.11: a stop at 100k papers took 11.2 s, rewriting
the whole 460 MB folder): the first save (a whole generation), a save after one background batch
(an append, as every later save and the bot's stop), and a load.

    python -m bench.vectors_save [--papers 100000] [--windows 5] [--folder DIR]

Random unit vectors stand in for embeddings (the cost is bytes, not their values).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from store.semantic import vectors as vec


def build(papers: int, windows: int, dim: int = 384) -> vec.Vectors:
    """`papers` papers of 1 + `windows` rows each, in batches as the embedder adds them."""
    state = vec.Vectors(dim, "bench")
    rng = np.random.default_rng(0)
    step = 10_000
    for first in range(0, papers, step):
        n = min(step, papers - first)
        rows = rng.standard_normal((n * (1 + windows), dim)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        k = 1 + windows
        state.put((f"p{first + i}", "k", rows[i * k : (i + 1) * k], first + i) for i in range(n))
        state._settle()
    state.covered_seq = papers
    return state


def timed(what: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{what}: {time.perf_counter() - start:.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(dir=args.folder))
    folder = root / "papers.db.vectors"
    try:
        state = build(args.papers, args.windows)
        state = timed(
            f"first save ({args.papers} papers, a whole generation)", lambda: state.save(folder)
        )
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"folder: {size / 1e6:.0f} MB")
        batch = np.random.default_rng(1).standard_normal((16 * (1 + args.windows), 384))
        k = 1 + args.windows
        state.put((f"n{i}", "k", batch[i * k : (i + 1) * k], args.papers + i) for i in range(16))
        state.covered_seq += 16
        timed(
            "the batch added to the in-memory arrays (not the save: a copy of them)",
            lambda: len(state),
        )
        state = timed(
            "save after one batch of 16 (an append: every later save, a stop)",
            lambda: state.save(folder),
        )
        loaded = timed("load (checksums verified)", lambda: vec.Vectors.load(folder, "bench"))
        assert loaded is not None and len(loaded) == args.papers + 16
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
