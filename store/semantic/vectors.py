"""The papers' sentence vectors beside the database (`<db>.vectors/`), and catching them up.

Each paper has one vector of its whole text (title and abstract) and one per window of three
sentences. A question is compared with every paper's whole vector (a small float32 matrix kept in
memory), and only the best candidates' windows are read (float16, memory-mapped), so a question
costs one pass over n x 384 floats however many windows there are.

Embedding is slow on a CPU (tens of passages a second), so it never happens while a question or an
import waits: `embed_pending` is called by `paperbot embed` and by the running bot in the
background, in batches, saving as it goes (resumable). Papers not embedded yet are answered by
BM25 alone. The bundled collection's vectors ship with the package, so a fresh install answers
with meaning on its first question.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from store.files import file_crc, folder_lock, save_array, write_text

log = logging.getLogger(__name__)

VECTORS_FORMAT = 3
FILES = ("paper.npy", "windows.npy", "starts.npy", "ids.txt")  # each one's crc32 is in meta.json
SEED_VECTORS = Path(__file__).parent.parent / "data" / "seed_vectors.npz"


class VectorsSaveError(OSError):
    """The vectors could not be written (the one-line reason says what to free)."""


def vectors_dir(db_path: Path | str) -> Path:
    """Where the vectors of a database live: beside it."""
    return Path(str(db_path) + ".vectors")


def text_key(title: str, abstract: str) -> str:
    """What a paper's vectors were made from, so changed text is embedded again."""
    return hashlib.sha1(f"{title}\n{abstract}".encode()).hexdigest()[:16]


class Vectors:
    """Whole-paper vectors (rows of `paper`) and window vectors (rows `starts[i]:starts[i+1]` of
    `windows`) for the papers in `ids`. Appending is cheap; a re-embedded paper's old rows stay
    until the next save compacts them (`row_of` points at its newest row)."""

    def __init__(self, dim: int, model: str) -> None:
        self.dim, self.model = dim, model
        self.ids: list[str] = []
        self.keys: list[str] = []
        self.row_of: dict[str, int] = {}
        self.paper = np.zeros((0, dim), dtype=np.float32)
        self.windows = np.zeros((0, dim), dtype=np.float16)
        self.starts = np.zeros(1, dtype=np.int64)
        self.covered_seq = 0
        self.db_uuid = ""
        self._pending: list[tuple[str, str, np.ndarray]] = []
        self._live: np.ndarray | None = None  # rows of the papers' newest vectors, sorted
        # the background embedder appends while questions read: changes go one at a time, and
        # readers see whole arrays (each replaced, never changed in place; rows only appended)
        self._guard = threading.RLock()

    def __len__(self) -> int:
        self._settle()
        return len(self.row_of)

    def __contains__(self, paper_id: str) -> bool:
        self._settle()
        return paper_id in self.row_of

    def put(self, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """Add (paper id, text key, rows: whole vector first, then its windows)."""
        with self._guard:
            for pid, key, rows in items:
                rows = np.asarray(rows, dtype=np.float32).reshape(-1, self.dim)
                if len(rows):
                    self._pending.append((pid, key, rows))

    def forget(self, paper_ids: Iterable[str]) -> None:
        """Drop papers (removed from the collection)."""
        with self._guard:
            self._settle()
            for pid in paper_ids:
                self.row_of.pop(pid, None)
            self._live = None

    def key_of(self, paper_id: str) -> str | None:
        self._settle()
        row = self.row_of.get(paper_id)
        return None if row is None else self.keys[row]

    def _settle(self) -> None:
        """Append the pending papers to the matrices in one copy."""
        if not self._pending:
            return
        with self._guard:
            if self._pending:
                self._append(self._pending)
                self._pending = []

    def _append(self, pending: list[tuple[str, str, np.ndarray]]) -> None:
        first = len(self.ids)
        counts = np.array([len(rows) - 1 for _, _, rows in pending], dtype=np.int64)
        self.paper = np.concatenate([self.paper, np.stack([rows[0] for _, _, rows in pending])])
        blocks = [rows[1:] for _, _, rows in pending]
        self.windows = np.concatenate([np.asarray(self.windows), *blocks]).astype(np.float16)
        self.starts = np.concatenate([self.starts, self.starts[-1] + np.cumsum(counts)])
        for i, (pid, key, _) in enumerate(pending):
            self.ids.append(pid)
            self.keys.append(key)
            self.row_of[pid] = first + i
        self._live = None

    def candidates(self, query: np.ndarray, top: int) -> list[str]:
        """The `top` papers whose whole vector is closest to the (unit) query."""
        self._settle()
        if not self.row_of:
            return []
        if self._live is None:
            self._live = np.sort(np.fromiter(self.row_of.values(), dtype=np.int64))
        live = self._live
        sims = self.paper @ query if len(live) == len(self.paper) else self.paper[live] @ query
        if len(live) != len(self.paper):
            sims = _scatter(sims, live, len(self.paper))
        top = min(top, len(live))
        best = live[np.argpartition(-sims[live], top - 1)[:top]]
        return [self.ids[i] for i in best[np.argsort(-sims[best])]]

    def similarity(self, query: np.ndarray, paper_ids: Iterable[str]) -> dict[str, float]:
        """Each embedded paper's similarity to the question: the mean of its whole-text cosine and
        its best window's (the whole text says what the paper is about, a window what it does)."""
        self._settle()
        out = {}
        for pid in paper_ids:
            row = self.row_of.get(pid)
            if row is None:
                continue
            whole = float(self.paper[row] @ query)
            lo, hi = int(self.starts[row]), int(self.starts[row + 1])
            window = (
                float((self.windows[lo:hi].astype(np.float32) @ query).max()) if hi > lo else whole
            )
            out[pid] = (whole + window) / 2
        return out

    # ------------------------------------------------------------ persistence

    def _compacted(self) -> Vectors:
        """Only each live paper's newest rows, in id order of first appearance."""
        self._settle()
        out = Vectors(self.dim, self.model)
        out.covered_seq, out.db_uuid = self.covered_seq, self.db_uuid
        for pid, row in self.row_of.items():
            lo, hi = int(self.starts[row]), int(self.starts[row + 1])
            rows = np.concatenate(
                [self.paper[row : row + 1], self.windows[lo:hi].astype(np.float32)]
            )
            out._pending.append((pid, self.keys[row], rows))
        out._settle()
        return out

    def save(self, folder: Path) -> None:
        """Arrays first, meta.json last as the commit point, holding the folder's lock (the bot and
        `paperbot embed` may both keep the vectors). A failed save (a full disk) leaves the last
        good state, removes its temporary files and raises VectorsSaveError."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._save(folder)
        except OSError as exc:
            for tmp in folder.glob("*.tmp*"):
                tmp.unlink(missing_ok=True)
            raise VectorsSaveError(
                f"could not save the vectors in {folder} ({exc.strerror or exc}): free some space; "
                "what was embedded is embedded again by the next `paperbot embed` or bot start"
            ) from None

    def _save(self, folder: Path) -> None:
        compact = self._compacted()
        with folder_lock(folder, exclusive=True):
            save_array(folder / "paper.npy", compact.paper.astype(np.float16))
            save_array(folder / "windows.npy", compact.windows)
            save_array(folder / "starts.npy", compact.starts)
            write_text(
                folder / "ids.txt",
                "\n".join(f"{p}\t{k}" for p, k in zip(compact.ids, compact.keys, strict=False)),
            )
            meta = {
                "format": VECTORS_FORMAT,
                "model": self.model,
                "covered_seq": self.covered_seq,
                "db_uuid": self.db_uuid,
                "papers": len(compact.ids),
                "windows": len(compact.windows),
                "crc32": {name: file_crc(folder / name, None) for name in FILES},
            }
            write_text(folder / "meta.json", json.dumps(meta))

    @classmethod
    def load(cls, folder: Path, model: str) -> Vectors | None:
        """Saved vectors; None when absent, of another format or model, or inconsistent (they are
        derived: the caller embeds again)."""
        if not (folder / "meta.json").is_file():
            return None
        with folder_lock(folder, exclusive=False):
            try:
                return cls._load(folder, model)
            except (
                Exception
            ):  # derived files: anything a damaged .npy header raises means embed again
                log.warning("vectors folder %s is damaged: its papers are embedded again", folder)
                return None

    @classmethod
    def _load(cls, folder: Path, model: str) -> Vectors | None:
        meta = json.loads((folder / "meta.json").read_text())
        if meta["format"] != VECTORS_FORMAT or meta["model"] != model:
            return None
        if any(file_crc(folder / name, None) != meta["crc32"][name] for name in FILES):
            return None  # bytes changed since the save (a disk fault, a stray write): embed again
        lines = [line.split("\t") for line in (folder / "ids.txt").read_text().split("\n") if line]
        paper = np.load(folder / "paper.npy").astype(np.float32)
        windows = np.load(folder / "windows.npy", mmap_mode="r")
        starts = np.load(folder / "starts.npy")
        n = meta["papers"]
        sound = (
            len(lines) == n == len(paper) == len(starts) - 1
            and paper.ndim == 2
            and windows.shape == (meta["windows"], paper.shape[1] if n else windows.shape[1])
            and starts[0] == 0
            and starts[-1] == len(windows)
            and bool(np.all(np.diff(starts) >= 0))
            and bool(np.isfinite(paper).all())
        )
        if not sound:
            return None
        out = cls(paper.shape[1], model)
        out.paper, out.windows, out.starts = paper, windows, starts
        out.ids = [line[0] for line in lines]
        out.keys = [line[1] if len(line) > 1 else "" for line in lines]
        out.row_of = {pid: i for i, pid in enumerate(out.ids)}
        out.covered_seq, out.db_uuid = meta["covered_seq"], meta["db_uuid"]
        return out


def _scatter(values: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, -np.inf, dtype=values.dtype)
    out[rows] = values
    return out


# ---------------------------------------------------------------- catching up


def open_vectors(db, db_path: Path | str | None, model: str, dim: int) -> Vectors:
    """The saved vectors of this database, or empty ones (another database's, a newer state's
    or damaged files are dropped: they are derived), through the index's load/check/rebuild
    skeleton (`store.search.sync.current_or_fresh`)."""
    from store.search.sync import current_or_fresh

    folder = vectors_dir(db_path) if db_path else None
    return current_or_fresh(
        db, folder, None, lambda f: Vectors.load(f, model), lambda: Vectors(dim, model), clear=True
    )


def saved_summary(db_path: Path | str) -> dict | None:
    """What the saved vectors cover (papers, windows, model), read from meta.json alone: for
    `paperbot stats`, without loading the model."""
    try:
        meta = json.loads((vectors_dir(db_path) / "meta.json").read_text())
        return {k: meta[k] for k in ("papers", "windows", "model", "covered_seq")}
    except (OSError, ValueError, KeyError):
        return None


def seed_vectors(model: str) -> dict[str, np.ndarray]:
    """The bundled collection's vectors shipped with the package, by text key."""
    try:
        with np.load(SEED_VECTORS) as data:
            if str(data["model"]) != model:
                return {}
            keys, starts, rows = list(data["keys"]), data["starts"], data["rows"]
    except (OSError, KeyError, ValueError):
        return {}
    return {str(k): rows[starts[i] : starts[i + 1]].astype(np.float32) for i, k in enumerate(keys)}


Pending = tuple[str, int, str, str]  # paper id, seq, title, abstract


def embed_batch(
    vectors: Vectors,
    batch: list[Pending],
    encode: Callable[[list[str]], np.ndarray],
    passages: Callable[[str, str], list[str]],
    known: dict[str, np.ndarray] | None = None,
) -> None:
    """Embed these papers (or take their shipped vectors) and advance `covered_seq` past them."""
    todo, texts = [], []
    for pid, _seq, title, abstract in batch:
        key = text_key(title, abstract)
        if vectors.key_of(pid) == key:
            continue
        if known and key in known:
            vectors.put([(pid, key, known[key])])
            continue
        chunks = passages(title, abstract)
        todo.append((pid, key, len(chunks)))
        texts += chunks
    if texts:
        encoded, at = encode(texts), 0
        for pid, key, n in todo:
            vectors.put([(pid, key, encoded[at : at + n])])
            at += n
    if batch:
        vectors.covered_seq = max(vectors.covered_seq, max(seq for _, seq, _, _ in batch))
