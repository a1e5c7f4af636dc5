"""Many JSON Lines papers, fast (no model): for tests that need big imports."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (
    "vision language model image text contrastive retrieval caption segmentation detection "
    "transformer attention token patch encoder decoder diffusion generation alignment zero shot "
    "benchmark dataset training pretraining finetuning instruction reasoning grounding video audio "
    "speech robot policy reward graph neural sparse dense embedding cluster quantization pruning"
).split()


def write_papers(path: Path, start: int, count: int, words: int = 60) -> Path:
    """`count` papers with ids syn-START.. into `path`, one JSON object a line."""
    rng = random.Random(start)
    with open(path, "w") as fh:
        for i in range(start, start + count):
            abstract = " ".join(rng.choices(WORDS, k=words)) + f" marker{i}."
            title = f"Synthetic paper {i} on {rng.choice(WORDS)} {rng.choice(WORDS)}"
            fh.write(json.dumps({"id": f"syn-{i}", "title": title, "abstract": abstract}) + "\n")
    return path
