"""Segments: immutable postings of a contiguous range of documents, their per-term score bounds,
and the policy that folds small ones together.

Document numbers only grow, so each segment holds documents lo..hi-1 and a term's postings, read
segment after segment, come out sorted by document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from store.search.index.bm25 import saturation

MERGE_SEGMENTS = 8  # more segments than this: the newest small ones are folded together
SYNC_BATCH = 200_000  # papers per segment while (re)building; a segment this big is never merged
BOUND_SLICE = 1 << 20  # postings whose bounds are computed at once
PARTS = ("offsets", "docs", "tfs", "maxc")  # a segment's arrays, one file each

EMPTY_DOCS = np.zeros(0, dtype=np.int32)
EMPTY_TFS = np.zeros(0, dtype=np.uint8)


@dataclass
class Segment:
    """Postings of the documents lo..hi-1, sorted by term then document (CSR layout).

    `maxc[t]` is the most term t adds to a score in this segment per unit of idf,
    max tf*(k1+1)/(tf+norm), for the average document length `avgdl` of its build; at another
    average it is scaled (see `search.bounds`) so it stays an upper bound.
    """

    offsets: np.ndarray  # int64, len = n_terms_at_build + 1
    docs: np.ndarray  # int32 document numbers
    tfs: np.ndarray  # term frequencies: uint8 when all fit (abstracts: always), else uint16
    maxc: np.ndarray  # float64 per term
    lo: int
    hi: int
    avgdl: float
    name: str = ""
    checks: dict[str, list[int]] | None = None  # part: [crc32, size] of its saved file

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(docs, tfs) of term `tid` in this segment."""
        if tid + 1 >= len(self.offsets):
            return EMPTY_DOCS, EMPTY_TFS
        lo, hi = self.offsets[tid], self.offsets[tid + 1]
        return self.docs[lo:hi], self.tfs[lo:hi]

    def count(self, tid: int) -> int:
        """How many documents of this segment hold term `tid`."""
        if tid + 1 >= len(self.offsets):
            return 0
        return int(self.offsets[tid + 1] - self.offsets[tid])


def build(
    tids: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    n_terms: int,
    span: tuple[int, int],
    norm: np.ndarray,
    avgdl: float,
) -> Segment:
    """A segment of documents span = (lo, hi) from one (term, doc, tf) triple per distinct term of
    each document, docs ascending."""
    lo, hi = span
    tids, docs, tfs = _sorted_by_term(tids, docs, tfs, n_terms, lo, hi)
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(tids, minlength=n_terms), out=offsets[1:])
    docs = docs.astype(np.int32)
    tfs = tfs.astype(tf_dtype(int(tfs.max()) if len(tfs) else 0))
    return bounded(offsets, docs, tfs, norm, span, avgdl)


def _sorted_by_term(
    tids: np.ndarray, docs: np.ndarray, tfs: np.ndarray, n_terms: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triples sorted by term then document: one int64 key per posting when the three fit
    in 63 bits (a plain sort, much faster than argsort), else a lexsort."""
    doc_bits = max(int(hi - lo).bit_length(), 1)
    tf_bits = max(int(tfs.max()).bit_length(), 1) if len(tfs) else 1
    if not len(tids) or (int(n_terms).bit_length() + doc_bits + tf_bits) > 63:
        order = np.lexsort((docs, tids))
        return tids[order], docs[order], tfs[order]
    key = tids.astype(np.int64) << (doc_bits + tf_bits)  # term | doc | tf
    key |= (docs.astype(np.int64) - lo) << tf_bits
    key |= tfs.astype(np.int64)
    key.sort()
    tids = key >> (doc_bits + tf_bits)
    docs = ((key >> tf_bits) & ((1 << doc_bits) - 1)) + lo
    return tids, docs, key & ((1 << tf_bits) - 1)


def bounded(
    offsets: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    norm: np.ndarray,
    span: tuple[int, int],
    avgdl: float,
) -> Segment:
    """A segment of these CSR postings with its per-term bounds (`maxc`) computed."""
    maxc = _max_contrib(offsets, docs, tfs, norm)
    return Segment(offsets, docs, tfs, maxc, lo=span[0], hi=span[1], avgdl=avgdl)


def _max_contrib(
    offsets: np.ndarray, docs: np.ndarray, tfs: np.ndarray, norm: np.ndarray
) -> np.ndarray:
    """Per term, max over its postings of tf*(k1+1)/(tf+norm[doc]) (`saturation`)."""
    out = np.zeros(len(offsets) - 1)
    if len(docs):
        # In slices: the float temporaries of a whole bulk segment would cost 100s of MB.
        contrib = np.empty(len(docs))
        for a in range(0, len(docs), BOUND_SLICE):
            part = slice(a, a + BOUND_SLICE)
            contrib[part] = saturation(tfs[part].astype(np.float64), norm[docs[part]])
        starts = offsets[:-1]
        present = starts < offsets[1:]
        out[present] = np.maximum.reduceat(contrib, starts[present])
    return out


def tf_dtype(largest: int) -> type:
    """The smallest unsigned type for term frequencies up to `largest` (a sixth less memory)."""
    return np.uint8 if largest <= np.iinfo(np.uint8).max else np.uint16


def tail_to_merge(segments: list[Segment]) -> int:
    """Where the run of newest segments to fold together starts (len(segments): none), log-
    structured: small ones merge, a big one stays. A segment of SYNC_BATCH papers or more (a bulk
    load's) is never rewritten: folding it in would copy every posting of the collection."""
    first = len(segments)
    while first > 0 and segments[first - 1].hi - segments[first - 1].lo < SYNC_BATCH:
        first -= 1
    sizes = [len(s.docs) for s in segments[first:]]
    if len(sizes) < 2:
        return len(segments)
    i = len(sizes) - 2
    total = sizes[-1] + sizes[-2]
    while i > 0 and sizes[i - 1] <= 4 * total:
        i -= 1
        total += sizes[i]
    return first + i


def merged(
    segs: list[Segment], n_terms: int, alive: np.ndarray, norm: np.ndarray, avgdl: float
) -> Segment:
    """Consecutive segments as one, without sorting (a term's postings are concatenated in segment
    order, which is document order), retired documents dropped."""
    counts = [_term_counts(seg, n_terms) for seg in segs]
    total = np.sum(counts, axis=0) if counts else np.zeros(n_terms, dtype=np.int64)
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    docs = np.empty(int(offsets[-1]), dtype=np.int32)
    tfs = np.empty(int(offsets[-1]), dtype=np.result_type(*(s.tfs.dtype for s in segs)))
    before = np.zeros(n_terms, dtype=np.int64)
    for seg, c in zip(segs, counts, strict=True):
        start = np.zeros(n_terms, dtype=np.int64)
        start[: len(seg.offsets) - 1] = seg.offsets[:-1]
        dest = np.repeat(offsets[:-1] + before - start, c)
        dest += np.arange(len(dest), dtype=np.int64)
        docs[dest] = seg.docs
        tfs[dest] = seg.tfs
        before += c
        del dest
    lo, hi = segs[0].lo, segs[-1].hi
    if not alive[lo:hi].all():
        keep = alive[docs]
        tid = np.repeat(np.arange(n_terms, dtype=np.int64), total)[keep]
        docs, tfs = docs[keep], tfs[keep]
        offsets[1:] = np.cumsum(np.bincount(tid, minlength=n_terms))
    return bounded(offsets, docs, tfs, norm, (lo, hi), avgdl)


def _term_counts(seg: Segment, n_terms: int) -> np.ndarray:
    """Postings per term of a segment, over all `n_terms` terms (later terms: 0)."""
    c = np.zeros(n_terms, dtype=np.int64)
    c[: len(seg.offsets) - 1] = np.diff(seg.offsets)
    return c
