"""The semantic stage (on by default): sentence embeddings of the questions and papers, fused with BM25.

The encoder is all-MiniLM-L6-v2 in numpy (store/semantic/encoder.py: no torch), its weights shipped inside
the package (store/semantic/model/), so the stage is always installed and runs offline; PAPERBOT_MODEL_DIR
points it at another BERT-type sentence-transformers folder. The pure parts (fusion, the vector
store) work on any vectors.

This module says what is embedded (`paper_passages`, `question_text`) and how the two stages'
scores are fused (`fuse`); store/semantic/vectors.py keeps the papers' vectors and catches them up.
"""

from __future__ import annotations

import importlib.util
import os
import re

import numpy as np

from store.semantic.encoder import MAX_TOKENS, MODEL_NAME, Encoder, model_dir  # noqa: F401 (re-exported)
from store.text import split_sentences

ENV_SWITCH = "PAPERBOT_SEMANTIC"  # "off"/"0"/"no"/"false" turns the stage off


def installed() -> bool:
    """True when the model folder (shipped, or PAPERBOT_MODEL_DIR) has its files and `tokenizers`
    and `safetensors` can be imported: what the numpy encoder needs, checked without loading."""
    folder = model_dir()
    files = ("config.json", "tokenizer.json", "model.safetensors")
    return all((folder / f).is_file() for f in files) and all(
        importlib.util.find_spec(m) is not None for m in ("tokenizers", "safetensors")
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
