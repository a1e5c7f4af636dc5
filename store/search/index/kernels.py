"""Compiled inner loops of the index (numba), for questions whose terms fill millions of postings.

numpy needs several passes and temporary arrays per term (gather the lengths, divide, scatter-add);
one compiled loop does the same float operations, in the same order, per posting (it compiles
`bm25.term_score` itself, so there is no second copy of the expression to keep equal), so the
scores stay bit-identical to the dense path while costing ~1-2 ns a posting. Imported only when a
question is heavy enough to need it (small collections never pay numba's import).
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit

from store.search.index import bm25

# `bm25.term_score`'s own code, compiled with the `saturation` it calls compiled too: one
# expression for every path, no copy here to keep equal by hand.
_saturation = njit(inline="always", cache=True)(bm25.saturation)
_term_score = njit(inline="always", cache=True)(
    types.FunctionType(bm25.term_score.__code__, {**vars(bm25), "saturation": _saturation})
)


@njit(nogil=True, cache=True, error_model="numpy")
def accumulate(
    out: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    norm: np.ndarray,
    weight: float,
    lo: int,
    hi: int,
) -> bool:
    """out[doc] += term_score(weight, tf, norm[doc]) for each posting: the dense path's step.
    False, at once, on a document outside lo..hi-1: a damaged postings file must not write
    outside the slice (numba does not check bounds: that would be a segfault)."""
    for i in range(docs.shape[0]):
        d = docs[i]
        if d < lo or d >= hi:
            return False
        out[d] += _term_score(weight, np.float64(tfs[i]), norm[d])
    return True


@njit(nogil=True, cache=True, error_model="numpy")
def take_top(
    out: np.ndarray, alive: np.ndarray, k: int, base: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best live documents of `out` with a score > 0 (higher score first, then lower
    document), in no particular order, numbered from `base`. Leaves `out` all zeros (the scratch
    is ready for the next question without a second pass over it)."""
    best_d = np.empty(k, dtype=np.int64)
    best_s = np.empty(k, dtype=np.float64)
    n = 0
    worst = 0  # index in best_* of the entry a better document replaces
    floor = 0.0  # what a document must beat: 0, then the worst kept score
    for d in range(out.shape[0]):
        s = out[d]
        out[d] = 0.0
        if s > floor and alive[d]:  # documents come in ascending order: a tie never displaces
            if n < k:
                best_d[n] = d + base
                best_s[n] = s
                n += 1
                if n == k:
                    worst = _worst(best_d, best_s, n)
                    floor = best_s[worst]
            else:
                best_d[worst] = d + base
                best_s[worst] = s
                worst = _worst(best_d, best_s, n)
                floor = best_s[worst]
    return best_d[:n], best_s[:n]


@njit(nogil=True, cache=True, error_model="numpy")
def accumulate_touched(
    out: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    norm: np.ndarray,
    weight: float,
    touched: np.ndarray,
    m: int,
) -> int:
    """`accumulate` over the whole range that also notes each document on its first posting
    (a positive weight never leaves a score at 0) in `touched[m:]`; the new count, or -1 at once
    on a document outside `out` (or more documents than `touched` holds)."""
    n = out.shape[0]
    for i in range(docs.shape[0]):
        d = docs[i]
        if d < 0 or d >= n:
            return -1
        if out[d] == 0.0:
            if m >= touched.shape[0]:
                return -1
            touched[m] = d
            m += 1
        out[d] += _term_score(weight, np.float64(tfs[i]), norm[d])
    return m


@njit(nogil=True, cache=True, error_model="numpy")
def touched_top(
    out: np.ndarray, touched: np.ndarray, m: int, alive: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """`take_top` over the documents `touched[:m]` only (in any order: an equal score displaces
    a higher document), zeroing their entries of `out`: the cost follows the postings read,
    not the collection."""
    best_d = np.empty(k, dtype=np.int64)
    best_s = np.empty(k, dtype=np.float64)
    n = 0
    worst = 0
    for j in range(m):
        d = touched[j]
        s = out[d]
        out[d] = 0.0
        if not (s > 0.0) or not alive[d]:
            continue
        if n < k:
            best_d[n] = d
            best_s[n] = s
            n += 1
            if n == k:
                worst = _worst(best_d, best_s, n)
        elif s > best_s[worst] or (s == best_s[worst] and d < best_d[worst]):
            best_d[worst] = d
            best_s[worst] = s
            worst = _worst(best_d, best_s, n)
    return best_d[:n], best_s[:n]


@njit(nogil=True, cache=True, error_model="numpy")
def _worst(best_d: np.ndarray, best_s: np.ndarray, n: int) -> int:
    """The entry ranked last: lowest score, and among equal scores the higher document."""
    w = 0
    for i in range(1, n):
        if best_s[i] < best_s[w] or (best_s[i] == best_s[w] and best_d[i] > best_d[w]):
            w = i
    return w


def warm() -> None:
    """Compile the loops (or load them from numba's on-disk cache) for the array types the index
    passes: read-only memory-mapped postings or ones built in this process, a writable output."""
    out = np.zeros(1)
    touched = np.zeros(1, dtype=np.int64)
    for tf_type in (np.uint8, np.uint16):
        docs = np.zeros(1, dtype=np.int32)
        tfs = np.ones(1, dtype=tf_type)
        for writable in (True, False):
            docs.setflags(write=writable)
            tfs.setflags(write=writable)
            accumulate(out, docs, tfs, np.ones(1), 1.0, 0, 1)
            accumulate_touched(out, docs, tfs, np.ones(1), 1.0, touched, 0)
    touched_top(out, touched, 1, np.ones(1, dtype=bool), 1)
    take_top(out, np.ones(1, dtype=bool), 1, 0)
