"""The compiled scan: questions of common words, which no bound can skip (BM25Okapi floors the idf
of terms in over half the papers at 0.25 * average idf, above that of mid-frequency terms), are
scored posting by posting by a numba loop (`store.search.index.kernels`), one slice of the documents per
core, in the dense path's order: bit-identical scores, ~1.5-3 ns a posting.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

import numpy as np

from store.search.index.shape import best

if TYPE_CHECKING:
    from store.search.index.shape import IndexState as Index
    from store.search.index.shape import Weights

log = logging.getLogger(__name__)

SCAN_MIN = 200_000  # questions reading this many postings, and ...
SCAN_RATIO = 0.2  # ... this many per document, are scored by the compiled scan
SCAN_THREADS = max(1, min(4, os.cpu_count() or 1))  # slices of the documents scanned in parallel
SCAN_PART_MIN = 100_000  # documents per slice at least (fewer: not worth a thread)
SPARSE_SHARE = 0.5  # fewer postings per document: rank only the documents they touch

_KERNELS: list = []  # [store.search.index.kernels module, or None when numba cannot load]
_SCAN_POOL: ThreadPoolExecutor | None = None
_SCAN_POOL_LOCK = threading.Lock()


class DamagedPostings(ValueError):
    """A postings file holds a document number outside its segment: the index needs a rebuild."""


def kernels():
    """The compiled loops, imported on first use; None (and MaxScore for every question, still
    exact, only slower on common words) if numba cannot load or compile here."""
    if not _KERNELS:
        try:
            from store.search.index import kernels as compiled

            _KERNELS.append(compiled)
        except Exception as exc:  # an unusable numba must not stop the answers
            log.warning("compiled scan unavailable, using MaxScore only: %s", exc)
            _KERNELS.append(None)
    return _KERNELS[0]


def warm_up(postings: int) -> None:
    """Compile (or load from numba's cache) the loops now if a collection of this many postings
    can send a question to the scan."""
    if postings >= SCAN_MIN and kernels() is not None:
        kernels().warm()


def postings_count(index: Index, weights: Weights) -> int:
    """How many postings the question's terms hold, over all segments."""
    return sum(seg.count(tid) for tid, _ in weights for seg in index.segments)


def worth_it(index: Index, weights: Weights) -> bool:
    """The question reads enough postings for the scan to beat pruning, and numba works here."""
    count = postings_count(index, weights)
    return count >= max(SCAN_MIN, SCAN_RATIO * len(index.ids)) and kernels() is not None


def _scan_pool() -> ThreadPoolExecutor:
    """Worker threads for the slices beyond the caller's own (created on first use)."""
    global _SCAN_POOL
    with _SCAN_POOL_LOCK:
        if _SCAN_POOL is None:
            _SCAN_POOL = ThreadPoolExecutor(SCAN_THREADS - 1, thread_name_prefix="paperbot-scan")
        return _SCAN_POOL


def top_k_scan(
    index: Index, weights: Weights, k: int, excluded: np.ndarray
) -> list[tuple[int, float]]:
    """The k best documents, every posting scored in the dense path's order, one slice of the
    documents per core (numba releases the GIL: the slices run in parallel)."""
    n = len(index.ids)
    if postings_count(index, weights) < SPARSE_SHARE * n:
        return _top_k_touched(index, weights, k, excluded)
    parts = min(SCAN_THREADS, max(1, n // SCAN_PART_MIN))
    cuts = [n * i // parts for i in range(parts + 1)]
    with index.scratch.borrow(n) as out:
        jobs = [
            (index, weights, k, excluded, out, lo, hi)
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
        ]
        if parts == 1:
            found = [_scan_part(*jobs[0])]
        else:
            futures = [_scan_pool().submit(_scan_part, *job) for job in jobs[1:]]
            try:
                first = _scan_part(*jobs[0])
            finally:  # never leave the lock while other threads still write the scratch
                wait(futures)
            found = [first] + [f.result() for f in futures]
    docs = np.concatenate([d for d, _ in found])
    scores = np.concatenate([s for _, s in found])
    return best(docs, scores, k)


def _top_k_touched(
    index: Index, weights: Weights, k: int, excluded: np.ndarray
) -> list[tuple[int, float]]:
    """The scan for a question whose postings cover a small share of the documents: the same
    sums in the same order, then only the documents it touched ranked (not every document)."""
    compiled = kernels()
    norm = index.stats()[2]
    n = len(index.ids)
    touched = np.empty(min(postings_count(index, weights), n), dtype=np.int64)
    with index.scratch.borrow(n) as scratch:
        out = scratch[:n]
        try:
            m = 0
            for tid, weight in weights:
                for seg in index.segments:
                    docs, tfs = seg.postings(tid)
                    if len(docs):
                        m = compiled.accumulate_touched(out, docs, tfs, norm, weight, touched, m)
                        if m < 0:
                            raise DamagedPostings(f"segment {seg.name or '(new)'}: bad document")
            out[excluded] = 0.0
            docs, scores = compiled.touched_top(out, touched, m, index.alive, k)  # zeros `out`
        except BaseException:  # the scratch is all zeros between questions, whatever happened
            out[:] = 0.0
            raise
    return best(docs, scores, k)


def _scan_part(
    index: Index,
    weights: Weights,
    k: int,
    excluded: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The scan over documents lo..hi-1: the top k of that slice, `out[lo:hi]` left zero."""
    compiled = kernels()
    norm = index.stats()[2]
    try:
        for tid, weight in weights:
            for seg in index.segments:
                if seg.hi <= lo or seg.lo >= hi:
                    continue
                docs, tfs = seg.postings(tid)
                if not len(docs):
                    continue
                a, b = (  # same dtype as docs, or numpy converts all of docs first
                    np.searchsorted(docs, np.array([lo, hi], dtype=docs.dtype))
                    if seg.lo < lo or seg.hi > hi
                    else (0, None)
                )
                if not compiled.accumulate(out, docs[a:b], tfs[a:b], norm, weight, lo, hi):
                    raise DamagedPostings(f"segment {seg.name or '(new)'}: document out of range")
        out[excluded[(excluded >= lo) & (excluded < hi)]] = 0.0
        return compiled.take_top(out[lo:hi], index.alive[lo:hi], k, lo)  # zeros `out` too
    except BaseException:  # the scratch is all zeros between questions, whatever happened
        out[lo:hi] = 0.0
        raise
