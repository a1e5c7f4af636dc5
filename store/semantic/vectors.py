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

On disk they are generations (store/semantic/saved.py): a save appends the new rows and renames a
manifest in, so a crash or a full disk leaves the last good state, and a generation another
process wrote (`paperbot embed` beside the bot, a folder copied in) is merged, never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from store.files import file_crc, folder_lock
from store.semantic import saved

log = logging.getLogger(__name__)

VECTORS_FORMAT = saved.FORMAT
V3_FILES = ("paper.npy", "windows.npy", "starts.npy", "ids.txt")  # an older release's folder
COMPACT_DEAD_ROWS = 1000  # a save rewrites the folder once this many rows (and a third) are dead
Gone = Callable[[int], list[str]]  # the papers removed after a change number (and not back)
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
        self.seqs: list[int] = []  # the change number of the text each row was made from
        self.row_of: dict[str, int] = {}
        self.paper = np.zeros((0, dim), dtype=np.float32)
        self.windows = np.zeros((0, dim), dtype=np.float16)
        self.starts = np.zeros(1, dtype=np.int64)
        self.covered_seq = 0
        self.db_uuid = ""
        self.disk: saved.Manifest | None = None  # the generation rows[:disk.rows] are saved in
        self.forgotten: dict[str, int] = {}  # removed papers -> rows when removed (for the disk)
        self.seen: tuple[int, int, int] | None = None  # meta.json's stamp when last read/written
        self._pending: list[tuple[str, str, np.ndarray, int]] = []
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

    def put(self, items: Iterable[tuple]) -> None:
        """Add (paper id, text key, rows: whole vector first, then its windows[, change number
        of the text: when two states are merged, the newer row of a paper wins])."""
        with self._guard:
            for pid, key, rows, *seq in items:
                rows = np.asarray(rows, dtype=np.float32).reshape(-1, self.dim)
                if len(rows):
                    self._pending.append((pid, key, rows, seq[0] if seq else 0))

    def forget(self, paper_ids: Iterable[str]) -> None:
        """Drop papers (removed from the collection)."""
        with self._guard:
            self._settle()
            for pid in paper_ids:
                if self.row_of.pop(pid, None) is not None:
                    self.forgotten[pid] = len(self.ids)
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

    def _append(self, pending: list[tuple[str, str, np.ndarray, int]]) -> None:
        first = len(self.ids)
        counts = np.array([len(rows) - 1 for _, _, rows, _ in pending], dtype=np.int64)
        self.paper = np.concatenate([self.paper, np.stack([rows[0] for _, _, rows, _ in pending])])
        blocks = [rows[1:].astype(np.float16) for _, _, rows, _ in pending]
        self.windows = np.concatenate([self.windows, *blocks])  # one float16 copy, not float32
        self.starts = np.concatenate([self.starts, self.starts[-1] + np.cumsum(counts)])
        for i, (pid, key, _, seq) in enumerate(pending):
            self.ids.append(pid)
            self.keys.append(key)
            self.seqs.append(seq)
            self.row_of[pid] = first + i
            self.forgotten.pop(pid, None)
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
            out._pending.append((pid, self.keys[row], self._rows(row), self.seqs[row]))
        out._settle()
        return out

    def save(self, folder: Path, gone: Gone | None = None) -> Vectors:
        """Commit the rows embedded since the last save as a new generation
        (`store.semantic.saved`), holding the folder's lock. A generation on disk that this state did not make (a
        `paperbot embed` beside the bot, a folder copied in) is merged first, not overwritten:
        returns the state now on disk, to use from now on (self, or a merged or compacted one).
        A failed save (a full disk) leaves the last good state and raises VectorsSaveError."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with folder_lock(folder, exclusive=True):
                state = self.reconciled(folder, gone)
                state = state._write(folder)
        except OSError as exc:
            raise VectorsSaveError(save_failure(folder, exc)) from None
        state.seen = saved.stamp(folder)
        return state

    def reconciled(self, folder: Path, gone: Gone | None = None) -> Vectors:
        """This state, or the folder's generation (made elsewhere) merged with it, the caller
        holding the folder's lock: each covers every change up to its `covered_seq`, so their
        union covers up to the larger one, each paper's newer row (by change number) winning.
        The merge is the disk's state plus this one's newer rows appended (saved as an append).
        `gone` names the papers removed after a change number (their vectors are dropped)."""
        raw = saved.read_manifest(folder)
        if raw is None:
            self.disk = None  # the folder was emptied: a whole generation again, not an append
            return self
        if raw.get("token") == (self.disk.token if self.disk else None):
            return self
        other = Vectors._load(folder, self.model) if raw.get("model") == self.model else None
        if other is None or other.db_uuid != self.db_uuid:
            self.disk = None  # damaged or another database's: replaced by a new base of ours,
            return self  # never appended to (another process may have its files mapped)
        self._settle()
        other._settle()
        for pid, row in self.row_of.items():  # each paper's newer row wins
            theirs = other.row_of.get(pid)
            if theirs is None or self.seqs[row] > other.seqs[theirs]:
                other._pending.append((pid, self.keys[row], self._rows(row), self.seqs[row]))
        other.covered_seq = max(self.covered_seq, other.covered_seq)
        if gone is not None:
            other.forget(gone(min(self.covered_seq, other.covered_seq)))
        return other

    def _rows(self, row: int) -> np.ndarray:
        lo, hi = int(self.starts[row]), int(self.starts[row + 1])
        return np.concatenate([self.paper[row : row + 1], self.windows[lo:hi].astype(np.float32)])

    def _write(self, folder: Path) -> Vectors:
        """Append what is new since `disk` as a segment, or (no generation yet, or many dead rows)
        write the live rows alone as a new base. Returns the state that matches the disk."""
        self._settle()
        unchanged = self.disk is not None and len(self.ids) == self.disk.rows
        if unchanged and self._described(self.disk).__dict__ == self.disk.__dict__:
            return self  # nothing new since that generation
        dead = len(self.ids) - len(self.row_of)
        if self.disk is None or dead > max(COMPACT_DEAD_ROWS, len(self.ids) // 3):
            out = self._compacted()
            man = saved.Manifest(self.model, self.dim, base=saved.new_base())
            if self.disk is not None:
                man.generation = self.disk.generation
            out.disk = saved.write_generation(
                folder, out._described(man), out._bytes(0), len(out.ids), False
            )
            return out
        first = self.disk.rows
        parts = self._bytes(first)
        self.disk = saved.write_generation(
            folder, self._described(self.disk), parts, len(self.ids) - first, True
        )
        return self

    def _described(self, man: saved.Manifest) -> saved.Manifest:
        """`man` (a copy) saying what this state covers."""
        out = saved.Manifest(**{**man.__dict__, "segments": list(man.segments)})
        out.model, out.dim, out.covered_seq, out.db_uuid = (
            self.model,
            self.dim,
            self.covered_seq,
            self.db_uuid,
        )
        out.papers, out.windows = len(self.row_of), len(self.windows)
        out.forgotten = {p: r for p, r in self.forgotten.items() if p not in self.row_of}
        return out

    def _bytes(self, first: int) -> dict[str, bytes]:
        """The files' bytes of rows `first` on."""
        lo = int(self.starts[first])
        ids = "".join(
            f"{p}\t{k}\t{q}\n"
            for p, k, q in zip(self.ids[first:], self.keys[first:], self.seqs[first:], strict=True)
        )
        return {
            "paper": np.ascontiguousarray(self.paper[first:], dtype=np.float16).tobytes(),
            "windows": np.ascontiguousarray(self.windows[lo:], dtype=np.float16).tobytes(),
            "ends": np.ascontiguousarray(self.starts[first + 1 :], dtype=np.int64).tobytes(),
            "ids": ids.encode(),
        }

    @classmethod
    def load(cls, folder: Path, model: str) -> Vectors | None:
        """Saved vectors; None when absent, of another format or model, or inconsistent (they are
        derived: the caller embeds again)."""
        if not (folder / "meta.json").is_file():
            return None
        with folder_lock(folder, exclusive=False):
            out = cls._load(folder, model)
            if out is not None:
                out.seen = saved.stamp(folder)
            return out

    @classmethod
    def _load(cls, folder: Path, model: str) -> Vectors | None:
        """The folder's generation (the caller holds its lock), None when it cannot be used."""
        try:
            raw = saved.read_manifest(folder)
            if raw is None:
                return None
            if raw.get("format") == 3:  # an older release's: kept, not embedded again
                return cls._load_v3(folder, model, raw)
            if raw.get("format") != saved.FORMAT or raw.get("model") != model:
                return None
            man = saved.manifest_of(raw)
            if not saved.verify(folder, man):  # bytes changed since the save: embed again
                return None
            out = cls._checked(*saved.read_arrays(folder, man), model)
        except Exception:  # derived files: anything a damaged file raises means embed again
            log.warning("vectors folder %s is damaged: its papers are embedded again", folder)
            return None
        if out is None:
            return None
        out.covered_seq, out.db_uuid, out.disk = man.covered_seq, man.db_uuid, man
        rows = len(out.ids)
        out.forgotten = {p: r for p, r in man.forgotten.items() if out.row_of.get(p, rows) < r}
        for pid in out.forgotten:
            out.row_of.pop(pid, None)
        return out

    @classmethod
    def _checked(cls, paper, windows, starts, ids, keys, seqs, model) -> Vectors | None:
        """Vectors of these arrays when they agree with each other, else None."""
        n = len(ids)
        sound = (
            n == len(paper) == len(starts) - 1
            and paper.ndim == 2
            and windows.ndim == 2
            and (not n or windows.shape[1] == paper.shape[1])
            and starts[0] == 0
            and starts[-1] == len(windows)
            and bool(np.all(np.diff(starts) >= 0))
            and bool(np.isfinite(paper).all())
        )
        if not sound:
            return None
        out = cls(paper.shape[1], model)
        out.paper, out.windows, out.starts = paper, windows, starts
        out.ids, out.keys, out.seqs = ids, keys, seqs
        out.row_of = {pid: i for i, pid in enumerate(ids)}
        return out

    @classmethod
    def _load_v3(cls, folder: Path, model: str, meta: dict) -> Vectors | None:
        """Format 3 (one set of .npy files, rewritten whole by each save): read once, then the
        first save writes it as a generation."""
        if meta["model"] != model:
            return None
        if any(file_crc(folder / name, None) != meta["crc32"][name] for name in V3_FILES):
            return None
        lines = [line.split("\t") for line in (folder / "ids.txt").read_text().split("\n") if line]
        paper = np.load(folder / "paper.npy").astype(np.float32)
        ids = [line[0] for line in lines]
        keys = [line[1] if len(line) > 1 else "" for line in lines]
        windows = np.load(folder / "windows.npy", mmap_mode="r")
        starts = np.load(folder / "starts.npy")
        out = cls._checked(paper, windows, starts, ids, keys, [0] * len(ids), model)
        if out is not None:
            out.covered_seq, out.db_uuid = meta["covered_seq"], meta["db_uuid"]
        return out


def save_failure(folder: Path, exc: OSError) -> str:
    """The one line a failed save prints: the real reason and what to do about it."""
    why = exc.strerror or str(exc)
    if exc.errno in saved.NO_ROOM:
        todo = "free some space"
    else:
        todo = "make it writable (or move what is in the way)"
    return (
        f"could not save the vectors in {folder} ({why}): {todo}; what was embedded is "
        "embedded again by the next `paperbot embed` or bot start"
    )


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
    except (OSError, ValueError, KeyError, TypeError):
        return None


def saved_ids(db_path: Path | str) -> set[str]:
    """The papers the saved vectors hold (read from the ids file alone, not checked)."""
    folder = vectors_dir(db_path)
    raw = saved.read_manifest(folder)
    try:
        if raw is None:
            return set()
        if raw.get("format") == 3:
            return {
                line.split("\t")[0] for line in (folder / "ids.txt").read_text().split("\n") if line
            }
        man = saved.manifest_of(raw)
        with open(saved.path_of(folder, man.base, "ids"), "rb") as fh:
            lines = fh.read(man.size("ids")).decode().split("\n")
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    rows = {line.split("\t")[0]: i for i, line in enumerate(lines) if line}
    return {p for p, row in rows.items() if row >= man.forgotten.get(p, 0)}


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
    for pid, seq, title, abstract in batch:
        key = text_key(title, abstract)
        if vectors.key_of(pid) == key:
            continue
        if known and key in known:
            vectors.put([(pid, key, known[key], seq)])
            continue
        chunks = passages(title, abstract)
        todo.append((pid, key, len(chunks), seq))
        texts += chunks
    if texts:
        encoded, at = encode(texts), 0
        for pid, key, n, seq in todo:
            vectors.put([(pid, key, encoded[at : at + n], seq)])
            at += n
    if batch:
        vectors.covered_seq = max(vectors.covered_seq, max(seq for _, seq, _, _ in batch))
