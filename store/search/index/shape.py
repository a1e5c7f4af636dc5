"""What the index's helpers (search, scan, persist, check) see of an index, and the small pieces
they share, so none of them imports `core` back: `core.Index` is built on these, not under them.

- `IndexState`  the attributes and methods the helpers read or set (`core.Index` has them all)
- `Weights`, `Ranked`  a question's (term number, weight) pairs; a ranking by document number
- `Scratch`  a buffer by document number, zero between questions, lent under a lock
- `best`  the k highest (doc, score), ties by document number
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from store.search.index.segment import Segment
    from store.search.index.strtable import StringTable

Weights = list[tuple[int, float]]
Ranked = list[tuple[int, float]]


class Scratch:
    """A buffer by document number shared by an index's questions, all zeros between uses (each
    user puts back the zeros it wrote over), with the lock that lends it."""

    def __init__(self, dtype: type) -> None:
        self.dtype = dtype
        self.array: np.ndarray | None = None
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self, n: int) -> Iterator[np.ndarray]:
        """The buffer, at least `n` long, held exclusively."""
        with self._lock:
            if self.array is None or len(self.array) < n:
                self.array = np.zeros(n, dtype=self.dtype)
            yield self.array


class IndexState(Protocol):
    """The index as its helpers use it (`store.search.index.core.Index`)."""

    terms: StringTable
    ids: StringTable
    df: np.ndarray
    doc_len: np.ndarray
    alive: np.ndarray
    segments: list[Segment]
    covered_seq: int
    db_uuid: str
    acronyms: list[str]
    scratch: Scratch
    tf_scratch: Scratch
    saved: dict | None
    verified: bool
    damage: str | None

    def stats(self) -> tuple[np.ndarray, float, np.ndarray]: ...

    def count_live(self) -> None: ...


def best(docs: np.ndarray, scores: np.ndarray, k: int) -> Ranked:
    """The k highest (doc, score), best first; equal scores: lower document number first."""
    if len(docs) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        # Everything tied with the k-th score competes on document number.
        tied = np.flatnonzero(scores >= kth)
        docs, scores = docs[tied], scores[tied]
    order = np.lexsort((docs, -scores))[:k]
    return [(int(docs[i]), float(scores[i])) for i in order]
