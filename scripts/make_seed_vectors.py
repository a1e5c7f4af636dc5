"""Make store/data/seed_vectors.npz: the bundled collection's vectors, shipped so that a fresh
install answers with the semantic stage on its first question without embedding anything.

python scripts/make_seed_vectors.py   (run again whenever the model or paper_passages change)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.collection import db as store_db  # noqa: E402
from store.semantic import stage as sem  # noqa: E402
from store.semantic import vectors as vec  # noqa: E402


def main() -> None:
    encoder = sem.Encoder()
    with tempfile.TemporaryDirectory() as tmp:
        db = store_db.open_db(Path(tmp) / "seed.db")
        store_db.ensure_seeded(db)
        papers = [(t, a) for _, _, t, a, _ in store_db.iter_for_index(db, 0)]
    keys, blocks = [], []
    for title, abstract in papers:
        keys.append(vec.text_key(title, abstract))
        blocks.append(encoder.encode(sem.paper_passages(title, abstract)))
    starts = np.concatenate([[0], np.cumsum([len(b) for b in blocks])]).astype(np.int64)
    np.savez_compressed(
        vec.SEED_VECTORS,
        model=np.array(encoder.name),
        keys=np.array(keys),
        starts=starts,
        rows=np.concatenate(blocks).astype(np.float16),
    )
    print(f"{vec.SEED_VECTORS}: {len(keys)} papers, {starts[-1]} rows")


if __name__ == "__main__":
    main()
