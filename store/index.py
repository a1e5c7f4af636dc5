"""BM25 over an inverted index, scoring exactly as `rank_bm25.BM25Okapi` defines it.

`BM25Okapi.get_scores` walks every document for every query term. Here each term keeps its postings
(document numbers and term frequencies, numpy arrays) so a query touches only the documents that
contain its terms, with the same idf (epsilon floor included), k1, b and document lengths.

Postings live in immutable segments saved next to the database (`<db>.index/`) and memory-mapped
on load; papers added later become a new small segment instead of a rebuild, and a changed paper is
retired (its statistics removed) and added again, so the scores stay those of BM25Okapi over the
live collection. Document numbers only grow, so each segment holds a contiguous range of them and
a term's postings, read segment after segment, come out sorted by document.

`search` finds the top k without scoring every matching document (MaxScore): each term has an upper
bound of what it can add to a score (kept per segment at build time). A first pass over the rarest
terms gives k real scores and so a threshold; the common terms whose bounds together stay below it
cannot lift a document into the top k alone, so only documents holding one of the other
("essential") terms are candidates, and candidates whose bound falls below the threshold are dropped
as the common terms' frequencies are looked up (binary search in their document-sorted postings).
The survivors are scored with the same float operations, in the same order, as the dense `scores`,
so the results are identical to it, not merely close.

Questions of common words only defeat MaxScore (BM25Okapi floors the idf of terms in over half the
papers at 0.25 * average idf, above that of mid-frequency terms, so none is skippable). Those that
read many postings are scored by a compiled scan instead (`_top_k_scan`, numba): every posting, in
the dense path's order, one slice of the documents per core. Bounds grow with avgdl since a
segment's build (`_scale`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import sqlite3
import threading
import uuid
from array import array
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from store.expansion import definitions_in
from store.files import folder_lock, read_head, save_array, write_tail, write_text
from store.strtable import StringTable
from store.text import TOKENIZER_VERSION, tokenize

log = logging.getLogger(__name__)

K1 = 1.5
B = 0.75
EPSILON = 0.25
TITLE_WEIGHT = 3  # a title counts as this many copies of itself in the document's token list
INDEX_FORMAT = 6  # 3: acronyms kept; 5: no impact-ordered lists; 6: meta.json names the files
MERGE_SEGMENTS = 8
SYNC_BATCH = 200_000  # papers per segment while (re)building
SEED_POSTINGS = 20_000  # postings of the rarest terms scored first to find the top-k threshold
POOL_MIN = 50_000  # papers to index at once before tokenizing in a pool of processes (one per core)
POOL_CHUNK = 10_000  # papers per task of that pool
COUNT_NICENESS = 3  # the counting workers' scheduling priority, below the importing process
THETA_SAMPLE = 32  # with 4k, the best candidates scored exactly to set the top-k threshold
SLACK = 1e-9  # relative safety margin on bounds and thresholds (float rounding is ~1e-16)
SCAN_MIN = 200_000  # questions reading this many postings, and ...
SCAN_RATIO = 0.2  # ... this many per document, are scored by a compiled scan (`_top_k_scan`)
SCAN_THREADS = max(1, min(4, os.cpu_count() or 1))  # slices of the documents scanned in parallel
SCAN_PART_MIN = 100_000  # documents per slice at least (fewer: not worth a thread)
_PARTS = ("offsets", "docs", "tfs", "maxc")
_ARRAYS = ("df", "doc_len", "alive", "ids-keys", "terms-keys")  # rewritten by every save
_TEXTS = ("ids", "terms", "acronyms")  # appended to


def document_tokens(title: str, abstract: str, link_text: str = "") -> list[str]:
    """The token list BM25 sees for a paper: the title weighed in by repetition, then the abstract."""
    return tokenize(title) * TITLE_WEIGHT + tokenize(abstract) + tokenize(link_text)


class Counted(NamedTuple):
    """A document's token list, counted: distinct terms in order of first occurrence, their
    counts, and the list's length (what `Index.add` makes of the list itself)."""

    terms: list[str]
    counts: list[int]
    length: int


def count_document(title: str, abstract: str, link_text: str = "") -> Counted:
    """`document_tokens` counted, as `Index.add` counts a token list."""
    counts = Counter(document_tokens(title, abstract, link_text))
    return Counted(list(counts), list(counts.values()), sum(counts.values()))


class _Documents:
    """Documents being counted for a segment: term numbers from `terms` (new terms added to it in
    order of first occurrence), tfs, distinct terms and length per document."""

    def __init__(self, terms: StringTable) -> None:
        self.terms = terms
        self.paper_ids: list[str] = []
        self.tids = array("q")
        self.tfs = array("q")
        self.distinct = array("q")
        self.lengths = array("d")

    def add(self, paper_id: str, tokens: list[str] | Counted) -> None:
        self.paper_ids.append(paper_id)
        if type(tokens) is Counted:
            keys, values, length = tokens
        else:
            counts = Counter(tokens)
            keys, values, length = list(counts), counts.values(), len(tokens)
        ids = self.terms.get_many(keys)
        if None in ids:
            for i, term in enumerate(keys):
                if ids[i] is None:
                    ids[i] = self.terms.number(term)
        self.tids.extend(ids)
        self.tfs.extend(values)
        self.distinct.append(len(keys))
        self.lengths.append(length)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(
            np.frombuffer(a, dtype=np.int64 if a.typecode == "q" else np.float64)
            for a in (self.tids, self.tfs, self.distinct, self.lengths)
        )


class Analysed(NamedTuple):
    """Documents counted by a worker process, with term numbers of its own (`terms`)."""

    paper_ids: list[str]
    last_seq: int  # every paper changed up to this seq is counted
    terms: list[str]
    tids: np.ndarray
    tfs: np.ndarray
    distinct: np.ndarray
    lengths: np.ndarray
    acronyms: list[str]


@dataclass
class Segment:
    """Postings of the documents lo..hi-1, sorted by term then document (CSR layout).

    `maxc[t]` is the most term t adds to a score in this segment per unit of idf,
    max tf*(k1+1)/(tf+norm), for the average document length `avgdl` of its build; at another
    average it is scaled (see `Index._bounds`) so it stays an upper bound.
    """

    offsets: np.ndarray  # int64, len = n_terms_at_build + 1
    docs: np.ndarray  # int32 document numbers
    tfs: np.ndarray  # term frequencies: uint8 when all fit (abstracts: always), else uint16
    maxc: np.ndarray  # float64 per term
    lo: int
    hi: int
    avgdl: float
    name: str = ""

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(docs, tfs) of term `tid` in this segment."""
        if tid + 1 >= len(self.offsets):
            return _EMPTY_I, _EMPTY_F
        lo, hi = self.offsets[tid], self.offsets[tid + 1]
        return self.docs[lo:hi], self.tfs[lo:hi]

    def count(self, tid: int) -> int:
        if tid + 1 >= len(self.offsets):
            return 0
        return int(self.offsets[tid + 1] - self.offsets[tid])

    @staticmethod
    def build(
        tids: np.ndarray,
        docs: np.ndarray,
        tfs: np.ndarray,
        n_terms: int,
        lo: int,
        hi: int,
        norm: np.ndarray,
        avgdl: float,
    ) -> Segment:
        """From one (term, doc, tf) triple per distinct term of each document, docs ascending."""
        doc_bits = max(int(hi - lo).bit_length(), 1)
        tf_bits = max(int(tfs.max()).bit_length(), 1) if len(tfs) else 1
        if len(tids) and (int(n_terms).bit_length() + doc_bits + tf_bits) <= 63:
            # One int64 key per posting, sorted (much faster than argsort): term | doc | tf.
            key = tids.astype(np.int64) << (doc_bits + tf_bits)
            key |= (docs.astype(np.int64) - lo) << tf_bits
            key |= tfs.astype(np.int64)
            key.sort()
            tids = key >> (doc_bits + tf_bits)
            docs = ((key >> tf_bits) & ((1 << doc_bits) - 1)) + lo
            tfs = key & ((1 << tf_bits) - 1)
            del key
        else:
            order = np.lexsort((docs, tids))
            tids, docs, tfs = tids[order], docs[order], tfs[order]
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(tids, minlength=n_terms), out=offsets[1:])
        docs = docs.astype(np.int32)
        tfs = tfs.astype(_tf_dtype(int(tfs.max()) if len(tfs) else 0))
        return Segment.bounded(offsets, docs, tfs, norm, lo, hi, avgdl)

    @staticmethod
    def bounded(
        offsets: np.ndarray,
        docs: np.ndarray,
        tfs: np.ndarray,
        norm: np.ndarray,
        lo: int,
        hi: int,
        avgdl: float,
    ) -> Segment:
        """A segment of these CSR postings with its per-term bounds (`maxc`) computed."""
        return Segment(offsets, docs, tfs, _max_contrib(offsets, docs, tfs, norm), lo, hi, avgdl)


def _max_contrib(
    offsets: np.ndarray, docs: np.ndarray, tfs: np.ndarray, norm: np.ndarray
) -> np.ndarray:
    """Per term, max over its postings of tf*(k1+1)/(tf+norm[doc])."""
    out = np.zeros(len(offsets) - 1)
    if len(docs):
        tf = tfs.astype(np.float64)
        contrib = tf * (K1 + 1) / (tf + norm[docs])
        starts = offsets[:-1]
        present = starts < offsets[1:]
        out[present] = np.maximum.reduceat(contrib, starts[present])
    return out


_EMPTY_I = np.zeros(0, dtype=np.int32)
_EMPTY_F = np.zeros(0, dtype=np.uint8)


def _tf_dtype(largest: int) -> type:
    """The smallest unsigned type for term frequencies up to `largest` (a sixth less memory)."""
    return np.uint8 if largest <= np.iinfo(np.uint8).max else np.uint16


class Index:
    """An exact BM25Okapi index over paper ids, kept current as papers are added or changed."""

    def __init__(self) -> None:
        self.terms = StringTable()  # term strings by number
        self.df = np.zeros(0, dtype=np.int64)
        self.ids = StringTable()  # paper id by document number (a re-added paper: its last one)
        self.doc_len = np.zeros(0, dtype=np.float64)
        self.alive = np.zeros(0, dtype=bool)
        self.segments: list[Segment] = []
        self.covered_seq = 0
        self.db_uuid = ""
        self._stats: tuple | None = None
        self._live = 0
        self._scratch: np.ndarray | None = None
        self._scratch_lock = threading.Lock()
        self._tf_scratch: np.ndarray | None = None  # tf by document, all 0 between uses (`_lookup`)
        self._tf_lock = threading.Lock()
        self._saved: dict | None = None  # what the folder's append-only files hold (see `save`)
        # Acronym definitions stated in the indexed papers ("short\tlong form\twords" token lines),
        # mined as papers are indexed so query expansion never scans the collection (append-only).
        self.acronyms: list[str] = []

    # ------------------------------------------------------------ statistics

    @property
    def size(self) -> int:
        """Live documents."""
        return self._live

    def _compute_stats(self) -> tuple[np.ndarray, float, np.ndarray]:
        """idf per term (BM25Okapi's, epsilon floor included), avgdl, and each doc's length norm."""
        n = self.size
        if n == 0:
            return np.zeros(len(self.df)), 1.0, np.zeros(len(self.doc_len))
        avgdl, norm = self._lengths()
        present = self.df > 0
        df = self.df[present].astype(np.float64)
        raw = np.log(n - df + 0.5) - np.log(df + 0.5)
        average_idf = float(raw.sum()) / len(raw)
        raw[raw < 0] = EPSILON * average_idf
        idf = np.zeros(len(self.df))
        idf[present] = raw
        return idf, avgdl, norm

    def _lengths(self) -> tuple[float, np.ndarray]:
        """avgdl over live documents and every document's length norm k1*(1-b+b*dl/avgdl)."""
        avgdl = float(self.doc_len[self.alive].sum()) / max(self.size, 1)
        return avgdl, K1 * (1 - B + B * self.doc_len / avgdl)

    def stats(self) -> tuple[np.ndarray, float, np.ndarray]:
        """Cached (idf, avgdl, norm); recomputed after any change."""
        if self._stats is None:
            self._stats = self._compute_stats()
        return self._stats

    def idf_of(self, term: str) -> float:
        """A term's idf, 0 for terms the collection lacks (BM25Okapi's `idf.get(q) or 0`)."""
        tid = self.terms.get(term)
        return float(self.stats()[0][tid]) if tid is not None else 0.0

    def unseen_idf(self) -> float:
        """The idf a term found in no document would have: the ceiling of "how specific"."""
        n = max(self.size, 1)
        return float(np.log(n + 0.5) - np.log(0.5))

    # ------------------------------------------------------------ changes

    def add(self, papers: Iterable[tuple[str, list[str] | Counted]]) -> int:
        """Add (paper_id, tokens) pairs as one new segment; a known id is retired and re-added.
        `tokens` is the document's token list, or the same already counted (`Counted`)."""
        docs = _Documents(self.terms)
        for paper_id, tokens in papers:
            docs.add(paper_id, tokens)
        return self._add_documents(docs.paper_ids, *docs.arrays())

    def add_analysed(self, parts: list[Analysed]) -> int:
        """Add documents counted elsewhere (`_analyse_range`, in a worker process, with its own term
        numbers) as one new segment: exactly what `add` of the same documents in order does."""
        paper_ids: list[str] = []
        tids, tfs, distinct, lengths = [], [], [], []
        for part in parts:
            ids = self.terms.get_many(part.terms)
            if None in ids:  # new terms numbered in order of first occurrence, as `add` does
                for i, term in enumerate(part.terms):
                    if ids[i] is None:
                        ids[i] = self.terms.add(term)
            tids.append(np.asarray(ids, dtype=np.int64)[part.tids])
            paper_ids += part.paper_ids
            tfs.append(part.tfs)
            distinct.append(part.distinct)
            lengths.append(part.lengths)
        if not paper_ids:
            return 0
        return self._add_documents(
            paper_ids, *(np.concatenate(x) for x in (tids, tfs, distinct, lengths))
        )

    def _add_documents(
        self,
        paper_ids: list[str],
        t: np.ndarray,
        tfs: np.ndarray,
        distinct: np.ndarray,
        lengths: np.ndarray,
    ) -> int:
        """The new segment of documents `paper_ids`: (term id, tf) pairs per document, in order
        (`distinct` of them each), and their lengths."""
        ids = self.ids
        first = len(ids)
        retire: list[int] = []  # documents of earlier segments replaced by this batch
        replaced: list[int] = []  # documents of this batch replaced again within it
        batch: dict[str, int] = {}
        for paper_id, old in zip(paper_ids, ids.get_many(paper_ids), strict=True):
            old = batch.get(paper_id, old)
            if old is not None:
                (replaced if old >= first else retire).append(old)
            batch[paper_id] = ids.add(paper_id)
        added = len(ids) - first
        if not added:
            return 0
        if retire:
            self._retire(retire)
        self.doc_len = np.concatenate([self.doc_len, lengths.astype(np.float64)])
        alive = np.ones(added, dtype=bool)
        alive[np.asarray(replaced, dtype=np.int64) - first] = False
        self.alive = np.concatenate([self.alive, alive])
        self._live += int(alive.sum())
        f = np.minimum(tfs.astype(np.int64), 65535)
        d = np.repeat(np.arange(first, first + added, dtype=np.int64), distinct.astype(np.int64))
        if replaced:
            keep = self.alive[d]
            t, d, f = t[keep], d[keep], f[keep]
        self.df = _grow(self.df, len(self.terms))
        avgdl, norm = self._lengths()
        segment = Segment.build(t, d, f, len(self.terms), first, first + added, norm, avgdl)
        self.df += np.diff(segment.offsets)
        self._stats = None
        self.segments.append(segment)
        if len(self.segments) > MERGE_SEGMENTS:
            self._merge_tail()
        return added

    def _retire(self, docs: list[int]) -> None:
        """Take documents out of the statistics and the results (their postings stay, masked)."""
        docs_arr = np.unique(np.asarray(docs, dtype=np.int64))
        docs_arr = docs_arr[self.alive[docs_arr]]
        if not len(docs_arr):
            return
        self.alive[docs_arr] = False
        self._live -= len(docs_arr)
        for seg in self.segments:
            mine = docs_arr[(docs_arr >= seg.lo) & (docs_arr < seg.hi)]
            if not len(mine):
                continue
            positions = np.flatnonzero(np.isin(seg.docs, mine))
            tids = np.searchsorted(seg.offsets, positions, side="right") - 1
            self.df[: len(seg.offsets) - 1] -= np.bincount(tids, minlength=len(seg.offsets) - 1)
        self._stats = None

    def merge(self) -> None:
        """Fold all segments into one (dropping retired documents) so queries touch fewer arrays."""
        if self.segments:
            self.segments = [self._merged(self.segments)]

    def _merge_tail(self) -> None:
        """Fold the newest small segments together, log-structured: small ones merge, a big one
        stays. A segment of SYNC_BATCH papers or more (a bulk load's) is never rewritten: folding
        it in would copy every posting of the collection in memory, in the bot's refresh."""
        first = len(self.segments)
        while first > 0 and self.segments[first - 1].hi - self.segments[first - 1].lo < SYNC_BATCH:
            first -= 1
        sizes = [len(s.docs) for s in self.segments[first:]]
        if len(sizes) < 2:
            return
        i = len(sizes) - 2
        total = sizes[-1] + sizes[-2]
        while i > 0 and sizes[i - 1] <= 4 * total:
            i -= 1
            total += sizes[i]
        self.segments = self.segments[: first + i] + [self._merged(self.segments[first + i :])]

    def _merged(self, segs: list[Segment]) -> Segment:
        """Consecutive segments as one, without sorting: a term's postings are concatenated in
        segment order, which is document order."""
        n_terms = len(self.terms)
        counts = []
        for seg in segs:
            c = np.zeros(n_terms, dtype=np.int64)
            c[: len(seg.offsets) - 1] = np.diff(seg.offsets)
            counts.append(c)
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
        if not self.alive[lo:hi].all():
            keep = self.alive[docs]
            tid = np.repeat(np.arange(n_terms, dtype=np.int64), total)[keep]
            docs, tfs = docs[keep], tfs[keep]
            offsets[1:] = np.cumsum(np.bincount(tid, minlength=n_terms))
        avgdl, norm = self._lengths()
        return Segment.bounded(offsets, docs, tfs, norm, lo, hi, avgdl)

    # ------------------------------------------------------------ queries

    def query_weights(self, tokens: list[str]) -> list[tuple[int, float]]:
        """(term id, weight) for a query: BM25Okapi adds a term once per occurrence in the query."""
        idf = self.stats()[0]
        counts: dict[int, int] = {}
        for token in tokens:
            tid = self.terms.get(token)
            if tid is not None:
                counts[tid] = counts.get(tid, 0) + 1
        return [(tid, c * float(idf[tid])) for tid, c in counts.items() if idf[tid] != 0]

    def weighted(self, weights: dict[str, float]) -> list[tuple[int, float]]:
        """(term id, weight * idf) for a query given as term weights (1 per occurrence = BM25)."""
        idf = self.stats()[0]
        out = []
        for term, weight in weights.items():
            tid = self.terms.get(term)
            if tid is not None and weight and idf[tid] != 0:
                out.append((tid, weight * float(idf[tid])))
        return out

    def scores(self, tokens: list[str]) -> np.ndarray:
        """Scores of every document (dense; retired documents score 0): BM25Okapi.get_scores."""
        return self._dense(self.query_weights(tokens))

    def _dense(self, weights: list[tuple[int, float]]) -> np.ndarray:
        _idf, _avgdl, norm = self.stats()
        out = np.zeros(len(self.ids))
        for tid, weight in weights:
            for seg in self.segments:
                docs, tfs = seg.postings(tid)
                if len(docs):
                    tf = tfs.astype(np.float64)
                    out[docs] += weight * (tf * (K1 + 1) / (tf + norm[docs]))
        out[~self.alive] = 0.0
        return out

    def search(
        self, tokens: list[str], k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """The k best (paper_id, score) with score > 0, best first (ties: earlier document first)."""
        return self._search(self.query_weights(tokens), k, exclude)

    def search_weighted(
        self, weights: dict[str, float], k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """`search` for a weighted query (expanded terms): the top k of sum weight * BM25(term)."""
        return self._search(self.weighted(weights), k, exclude)

    def _search(
        self,
        weights: list[tuple[int, float]],
        k: int,
        exclude: set[str] | None,
        dense: bool = False,
    ):
        if not len(self.ids) or k <= 0 or not weights:
            return []
        found = self.ids.get_many(list(exclude or ()))
        excluded = np.asarray(sorted(d for d in found if d is not None), dtype=np.int64)
        if dense or any(w <= 0 for _, w in weights):
            # Tiny collections can have negative idfs; bounds assume positive ones.
            scores = self._dense(weights)
            scores[excluded] = 0.0
            hits = np.flatnonzero(scores > 0)
            docs = _best(hits, scores[hits], k)
        elif (
            self._postings_count(weights) >= max(SCAN_MIN, SCAN_RATIO * len(self.ids))
            and _kernels() is not None
        ):
            docs = self._top_k_scan(weights, k, excluded)
        else:
            docs = self._top_k(weights, k, excluded)
        return [(self.ids[d], s) for d, s in docs]

    def warm_up(self) -> None:
        """Ready the compiled scan now (compiled, or loaded from numba's cache) when the collection
        is big enough for a question to need it, so that question does not wait for it."""
        if sum(len(seg.docs) for seg in self.segments) >= SCAN_MIN:
            kernels = _kernels()
            if kernels is not None:
                kernels.warm()

    def _postings_count(self, weights: list[tuple[int, float]]) -> int:
        return sum(seg.count(tid) for tid, _ in weights for seg in self.segments)

    def _top_k_scan(
        self, weights: list[tuple[int, float]], k: int, excluded: np.ndarray
    ) -> list[tuple[int, float]]:
        """The dense path compiled (`store.kernels`), one slice of the documents per core: every
        posting is scored in `_dense`'s order, so the scores are bit-identical to it. Faster than
        pruning when the terms fill most papers."""
        n = len(self.ids)
        parts = min(SCAN_THREADS, max(1, n // SCAN_PART_MIN))
        cuts = [n * i // parts for i in range(parts + 1)]
        with self._scratch_lock:
            out = self._scratch
            if out is None or len(out) < n:
                out = self._scratch = np.zeros(n)
            jobs = [
                (weights, k, excluded, out, lo, hi)
                for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
            ]
            if parts == 1:
                found = [self._scan_part(*jobs[0])]
            else:
                futures = [_scan_pool().submit(self._scan_part, *job) for job in jobs[1:]]
                try:
                    first = self._scan_part(*jobs[0])
                finally:  # never leave the lock while other threads still write the scratch
                    wait(futures)
                found = [first] + [f.result() for f in futures]
        docs = np.concatenate([d for d, _ in found])
        scores = np.concatenate([s for _, s in found])
        return _best(docs, scores, k)

    def _scan_part(
        self,
        weights: list[tuple[int, float]],
        k: int,
        excluded: np.ndarray,
        out: np.ndarray,
        lo: int,
        hi: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_top_k_scan` over documents lo..hi-1 (numba releases the GIL: parts run in parallel)."""
        kernels = _kernels()
        norm = self.stats()[2]
        try:
            for tid, weight in weights:
                for seg in self.segments:
                    if seg.hi <= lo or seg.lo >= hi:
                        continue
                    docs, tfs = seg.postings(tid)
                    if len(docs):
                        a, b = (  # same dtype as docs, or numpy converts all of docs first
                            np.searchsorted(docs, np.array([lo, hi], dtype=docs.dtype))
                            if seg.lo < lo or seg.hi > hi
                            else (0, None)
                        )
                        kernels.accumulate(out, docs[a:b], tfs[a:b], norm, weight, K1 + 1)
            out[excluded[(excluded >= lo) & (excluded < hi)]] = 0.0
            return kernels.take_top(out[lo:hi], self.alive[lo:hi], k, lo)  # zeros `out` too
        except BaseException:  # the scratch is all zeros between questions, whatever happened
            out[lo:hi] = 0.0
            raise

    def scores_of(self, weights: dict[str, float], paper_ids: Iterable[str]) -> dict[str, float]:
        """`search_weighted`'s scores of just these papers (live ones; unknown ids left out), from
        their postings by binary search: the cost follows the papers asked about, not the collection."""
        docs = set(self.ids.get_many(list(paper_ids))) - {None}
        cands = np.asarray(sorted(d for d in docs if self.alive[d]), dtype=np.int64)
        if not len(cands):
            return {}
        scores = self._exact(self.weighted(weights), cands)
        return {self.ids[d]: s for d, s in zip(cands.tolist(), scores.tolist(), strict=True)}

    def search_dense(
        self, tokens: list[str], k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """`search` by scoring every document: the reference the pruned search must equal."""
        return self._search(self.query_weights(tokens), k, exclude, dense=True)

    # The pruned search ------------------------------------------------

    def _scale(self, seg: Segment) -> float:
        """What a segment's build-time contributions are multiplied by to bound them now: norm
        k1*(1-b+b*dl/avgdl) shrinks as avgdl grows, to no less than avgdl_build/avgdl of itself, so a
        contribution rises at most by avgdl/avgdl_build (SLACK covers the float rounding)."""
        return max(1.0, self.stats()[1] / seg.avgdl) * (1 + SLACK)

    def _bounds(self, weights: list[tuple[int, float]]) -> list[float]:
        """Per query term, an upper bound of what it adds to any live document's score."""
        out = []
        for tid, w in weights:
            best = 0.0
            for seg in self.segments:
                if tid < len(seg.maxc) and seg.count(tid):
                    best = max(best, float(seg.maxc[tid]) * self._scale(seg))
            out.append(w * best * (1 + SLACK))
        return out

    def _postings(self, tid: int) -> list[tuple[Segment, np.ndarray, np.ndarray]]:
        out = []
        for seg in self.segments:
            docs, tfs = seg.postings(tid)
            if len(docs):
                out.append((seg, docs, tfs))
        return out

    def _lookup(self, tid: int, cands: np.ndarray) -> np.ndarray:
        """Term frequencies (float64, 0 where absent) of term `tid` in sorted documents `cands`."""
        out = np.zeros(len(cands))
        for seg, docs, tfs in self._postings(tid):
            i0, i1 = np.searchsorted(cands, [seg.lo, seg.hi])
            if i0 == i1:
                continue
            if (i1 - i0) * 16 >= len(docs):
                # Many candidates: scatter the postings' tfs, gather the candidates' (one pass over
                # each instead of a binary search per candidate).
                with self._tf_lock:
                    tf_of = self._tf_scratch
                    if tf_of is None or len(tf_of) < len(self.ids):
                        tf_of = self._tf_scratch = np.zeros(len(self.ids), dtype=np.uint16)
                    tf_of[docs] = tfs
                    out[i0:i1] = tf_of[cands[i0:i1]]
                    tf_of[docs] = 0
                continue
            sub = cands[i0:i1].astype(docs.dtype)
            pos = np.searchsorted(docs, sub)
            pos[pos == len(docs)] = len(docs) - 1
            found = docs[pos] == sub
            out[i0:i1][found] = tfs[pos[found]]
        return out

    def _exact(self, weights: list[tuple[int, float]], cands: np.ndarray) -> np.ndarray:
        """Scores of sorted documents `cands` with the dense path's float operations and order."""
        norm = self.stats()[2][cands]
        out = np.zeros(len(cands))
        for tid, weight in weights:
            tf = self._lookup(tid, cands)
            out += weight * (tf * (K1 + 1) / (tf + norm))
        return out

    def _union(self, terms: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Sorted distinct documents holding any of `terms`, with those terms' summed contributions."""
        norm = self.stats()[2]
        if len(terms) == 1:
            tid, w = terms[0]
            found = self._postings(tid)
            if not found:
                return np.zeros(0, dtype=np.int64), np.zeros(0)
            docs = np.concatenate([p[1] for p in found]).astype(np.int64)
            tf = np.concatenate([p[2] for p in found]).astype(np.float64)
            return docs, w * (tf * (K1 + 1) / (tf + norm[docs]))
        parts = [(w, p) for tid, w in terms for p in self._postings(tid)]
        total = sum(len(p[1]) for _, p in parts)
        with self._scratch_lock:
            scratch = self._scratch
            if scratch is None or len(scratch) < len(self.ids):
                scratch = self._scratch = np.zeros(len(self.ids))
            for w, (_seg, docs, tfs) in parts:
                tf = tfs.astype(np.float64)
                scratch[docs] += w * (tf * (K1 + 1) / (tf + norm[docs]))
            if total * 16 < len(self.ids):
                cands = np.sort(np.concatenate([p[1] for _, p in parts]).astype(np.int64))
                if len(cands) > 1:
                    cands = cands[np.concatenate(([True], cands[1:] != cands[:-1]))]
            else:
                cands = np.flatnonzero(scratch)
            partial = scratch[cands]
            scratch[cands] = 0.0
        return cands, partial

    def _top_k(
        self, weights: list[tuple[int, float]], k: int, excluded: np.ndarray
    ) -> list[tuple[int, float]]:
        """MaxScore: the k best live, non-excluded documents, exactly as the dense path ranks them."""
        bounds = self._bounds(weights)
        counts = [sum(s.count(tid) for s in self.segments) for tid, _ in weights]
        by_bound = sorted(range(len(weights)), key=lambda i: bounds[i])  # common terms first

        def usable(docs: np.ndarray) -> np.ndarray:
            ok = self.alive[docs]
            if len(excluded):
                ok &= ~np.isin(docs, excluded)
            return ok

        # 1. A threshold: real scores of the best documents among the rarest terms' postings.
        seed, budget = [], 0
        for i in reversed(by_bound):
            if seed and budget + counts[i] > SEED_POSTINGS:
                break
            seed.append(weights[i])
            budget += counts[i]
        theta = 0.0
        cands, partial = self._union(seed) if seed else (np.zeros(0, dtype=np.int64), np.zeros(0))
        ok = usable(cands)
        cands, partial = cands[ok], partial[ok]
        if seed and len(seed) < len(weights) and len(cands) >= k:
            m = min(len(cands), THETA_SAMPLE + 4 * k)
            top = np.sort(cands[np.argpartition(-partial, m - 1)[:m]]) if len(cands) > m else cands
            exact = self._exact(weights, top)
            exact = exact[exact > 0]
            if len(exact) >= k:
                theta = float(np.partition(exact, len(exact) - k)[len(exact) - k])
        floor = theta * (1 - SLACK)

        # 2. Terms whose bounds together stay below the threshold are non-essential.
        cut, acc = 0, 0.0
        if theta > 0:
            while cut < len(by_bound) and acc + bounds[by_bound[cut]] < floor:
                acc += bounds[by_bound[cut]]
                cut += 1
        lazy = by_bound[:cut]
        essential = [weights[i] for i in by_bound[cut:]]
        if not (cut == 0 and len(seed) == len(weights)):  # else the seed pass saw every term
            cands, partial = self._union(essential)
            ok = usable(cands)
            cands, partial = cands[ok], partial[ok]

        # 3. A better threshold from the candidates' essential partial sums: the exact scores of the
        # best of them (real, live documents: the k-th best is still a lower bound of the k-th).
        if len(cands) > THETA_SAMPLE + 4 * k:
            better = self._kth_of_best(weights, cands, partial, k)
            if better > 0:
                theta = max(theta, better)
                floor = theta * (1 - SLACK)

        # 4. Look up the non-essential terms for the candidates that can still reach the threshold.
        if theta > 0:
            norm = self.stats()[2]
            rest = acc
            keep = partial + rest >= floor
            cands, partial = cands[keep], partial[keep]
            for i in reversed(lazy):
                tid, w = weights[i]
                rest -= bounds[i]
                tf = self._lookup(tid, cands)
                partial = partial + w * (tf * (K1 + 1) / (tf + norm[cands]))
                keep = partial + rest >= floor
                cands, partial = cands[keep], partial[keep]

        # 5. The survivors, scored exactly as the dense path scores them.
        scores = self._exact(weights, cands)
        hits = scores > 0
        return _best(cands[hits], scores[hits], k)

    def _kth_of_best(
        self, weights: list[tuple[int, float]], docs: np.ndarray, gain: np.ndarray, k: int
    ) -> float:
        """The k-th best exact score among the documents with the highest `gain` (a sample of
        THETA_SAMPLE + 4k), or 0 if fewer than k score: real scores, so a valid threshold."""
        m = THETA_SAMPLE + 4 * k
        if len(docs) > m:
            docs = np.sort(docs[np.argpartition(-gain, m - 1)[:m]])
        exact = self._exact(weights, docs)
        exact = exact[exact > 0]
        return (
            float(np.partition(exact, len(exact) - k)[len(exact) - k]) if len(exact) >= k else 0.0
        )

    # ------------------------------------------------------------ documents

    def term_frequencies(self, paper_id: str) -> dict[str, int]:
        """A paper's terms and their counts, read back from the postings (for "similar")."""
        doc = self.ids.get(paper_id)
        if doc is None:
            return {}
        terms = self.terms
        out: dict[str, int] = {}
        for seg in self.segments:
            if not seg.lo <= doc < seg.hi:
                continue
            positions = np.flatnonzero(seg.docs == doc)
            tids = np.searchsorted(seg.offsets, positions, side="right") - 1
            for tid, tf in zip(tids.tolist(), seg.tfs[positions].tolist(), strict=True):
                term = terms[tid]  # decoded from the saved table: once
                out[term] = out.get(term, 0) + tf
        return out

    # ------------------------------------------------------------ persistence

    def save(self, folder: Path) -> None:
        """Write new segments, the small arrays, the ids and terms, then meta.json (the commit
        point: it names the files of this state and how much of each text file is valid), holding
        the folder's lock."""
        folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder, exclusive=True):
            self._save(folder)

    def _save(self, folder: Path) -> None:
        # Every save writes files of its own (a stamp in their names) and meta.json names them:
        # whatever a crash interrupts, meta.json and the files it names belong together. The text
        # files are appended to only while meta.json is still our last save's: once another
        # process (the bot, a `paperbot import`) has saved its own view, they are written anew.
        on_disk = _read_meta(folder)
        ours = self._saved if self._saved and self._saved.get("folder") == str(folder) else None
        if not on_disk or not ours or on_disk.get("stamp") != ours["stamp"]:
            ours = None
        stamp = uuid.uuid4().hex[:12]
        files = {name: f"{name}-{stamp}.npy" for name in _ARRAYS}
        for name in _TEXTS:
            files[name] = on_disk["files"][name] if ours else f"{name}-{stamp}.txt"
        for seg in self.segments:
            # Also rewrite a segment whose files another process's save removed.
            if not seg.name or not all(
                (folder / f"seg-{seg.name}-{part}.npy").exists() for part in _PARTS
            ):
                seg.name = seg.name or uuid.uuid4().hex[:12]
                for part in _PARTS:
                    save_array(folder / f"seg-{seg.name}-{part}.npy", getattr(seg, part))
        for name in ("df", "doc_len", "alive"):
            save_array(folder / files[name], getattr(self, name))
        ids_bytes = self.ids.save(
            folder / files["ids"], folder / files["ids-keys"], ours["ids"] if ours else None
        )
        terms_bytes = self.terms.save(
            folder / files["terms"], folder / files["terms-keys"], ours["terms"] if ours else None
        )
        acronym_bytes = _append_lines(folder / files["acronyms"], ours, "acronyms", self.acronyms)
        meta = {
            "format": INDEX_FORMAT,
            "tokenizer": TOKENIZER_VERSION,
            "title_weight": TITLE_WEIGHT,
            "stamp": stamp,
            "files": files,
            "covered_seq": self.covered_seq,
            "db_uuid": self.db_uuid,
            "docs": len(self.ids),
            "terms": len(self.terms),
            "ids_bytes": ids_bytes,
            "terms_bytes": terms_bytes,
            "acronyms": len(self.acronyms),
            "acronyms_bytes": acronym_bytes,
            "segments": [
                {"name": s.name, "lo": s.lo, "hi": s.hi, "avgdl": s.avgdl} for s in self.segments
            ],
        }
        write_text(folder / "meta.json", json.dumps(meta))
        self._saved = _saved_state(folder, meta)
        keep = {f"seg-{s.name}-{p}.npy" for s in self.segments for p in _PARTS}
        keep |= {*files.values(), "meta.json", ".lock"}
        for path in folder.iterdir():
            if path.name not in keep and path.is_file():
                path.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> Index | None:
        """A saved index, memory-mapped; None when absent, stale in format, or inconsistent."""
        if not folder.is_dir():
            return None
        with folder_lock(folder, exclusive=False):
            return cls._load(folder)

    @classmethod
    def _load(cls, folder: Path) -> Index | None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if (meta["format"], meta["tokenizer"], meta["title_weight"]) != (
                INDEX_FORMAT,
                TOKENIZER_VERSION,
                TITLE_WEIGHT,
            ):
                return None
            index = cls()
            files = {name: folder / meta["files"][name] for name in (*_ARRAYS, *_TEXTS)}
            index.terms = StringTable.load(
                files["terms"], files["terms-keys"], meta["terms"], meta["terms_bytes"]
            )
            index.ids = StringTable.load(
                files["ids"], files["ids-keys"], meta["docs"], meta["ids_bytes"]
            )
            index.acronyms = _read_lines(files["acronyms"], meta["acronyms_bytes"])
            index.df = np.array(np.load(files["df"]))
            index.doc_len = np.load(files["doc_len"])
            index.alive = np.array(np.load(files["alive"]))
            for s in meta["segments"]:
                # Plain arrays over the mapping: np.memmap's Python-level indexing costs µs a call.
                parts = [_load_array(folder / f"seg-{s['name']}-{p}.npy") for p in _PARTS]
                index.segments.append(
                    Segment(*parts, lo=s["lo"], hi=s["hi"], avgdl=s["avgdl"], name=s["name"])
                )
            index.covered_seq = meta["covered_seq"]
            index.db_uuid = meta.get("db_uuid", "")
            consistent = (
                len(index.terms) == len(index.df)
                and len(index.ids) == len(index.doc_len) == len(index.alive)
                and len(index.acronyms) == meta["acronyms"]
            )
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            return None
        if not consistent:
            return None
        index._live = int(index.alive.sum())
        index._saved = _saved_state(folder, meta)
        return index


def _read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def _saved_state(folder: Path, meta: dict) -> dict:
    """What a folder's meta.json says its text files hold, for the next save's appends."""
    return {
        "folder": str(folder),
        "stamp": meta["stamp"],
        "ids": (meta["docs"], meta["ids_bytes"]),
        "terms": (meta["terms"], meta["terms_bytes"]),
        "acronyms": (meta["acronyms"], meta["acronyms_bytes"]),
    }


_KERNELS: list = []  # [store.kernels module, or None when numba cannot load]


def _kernels():
    """The compiled loops, imported on first use; None (and MaxScore for every question, still
    exact, only slower on common words) if numba cannot load or compile here."""
    if not _KERNELS:
        try:
            from store import kernels

            _KERNELS.append(kernels)
        except Exception as exc:  # an unusable numba must not stop the answers
            log.warning("compiled scan unavailable, using MaxScore only: %s", exc)
            _KERNELS.append(None)
    return _KERNELS[0]


_SCAN_POOL: ThreadPoolExecutor | None = None
_SCAN_POOL_LOCK = threading.Lock()


def _scan_pool() -> ThreadPoolExecutor:
    """Worker threads for `_top_k_scan`'s parts beyond the caller's own (created on first use)."""
    global _SCAN_POOL
    with _SCAN_POOL_LOCK:
        if _SCAN_POOL is None:
            _SCAN_POOL = ThreadPoolExecutor(SCAN_THREADS - 1, thread_name_prefix="paperbot-scan")
        return _SCAN_POOL


def _best(docs: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k highest (doc, score), best first; equal scores: lower document number first."""
    if len(docs) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        # Everything tied with the k-th score competes on document number.
        tied = np.flatnonzero(scores >= kth)
        docs, scores = docs[tied], scores[tied]
    order = np.lexsort((docs, -scores))[:k]
    return [(int(docs[i]), float(scores[i])) for i in order]


def _grow(array_: np.ndarray, n: int) -> np.ndarray:
    if len(array_) >= n:
        return array_
    out = np.zeros(n, dtype=array_.dtype)
    out[: len(array_)] = array_
    return out


def _append_lines(path: Path, saved: dict | None, key: str, items: list[str]) -> int:
    """Make `path` hold the items, one per line, appending to what the last save wrote when it
    can; returns the valid byte length (see `write_tail`)."""
    count = saved[key][0] if saved and saved[key][0] <= len(items) else 0
    head = "".join(x + "\n" for x in items[:count]).encode()
    tail = "".join(x + "\n" for x in items[count:]).encode()
    return write_tail(path, head, tail, append=bool(count) and len(head) == saved[key][1])


def _read_lines(path: Path, size: int) -> list[str]:
    lines = read_head(path, size).decode("utf-8").split("\n")
    lines.pop()  # after the last newline
    return lines


def _load_array(path: Path) -> np.ndarray:
    """A saved array memory-mapped (an empty one, which cannot be mapped, read)."""
    try:
        return np.load(path, mmap_mode="r").view(np.ndarray)
    except ValueError:
        return np.load(path)


def index_dir(db_path: Path | str) -> Path:
    """Where the index of a database lives: beside it."""
    return Path(str(db_path) + ".index")


def sync_index(db, db_path: Path | str | None, index: Index | None = None) -> Index:
    """Load the saved index (or build it), add every paper changed since, and save if anything did.

    `db_path` None keeps the index in memory only.
    """
    return IndexSync(db, db_path, index).finish()


class IndexSync:
    """The index kept current while papers are written, e.g. by `paperbot import` of many files:
    after each committed file, `committed()` hands the changed papers to a pool of processes that
    count them while the writer goes on with the next file; `finish()` adds the rest and saves.

    Papers are counted in seq order and added in that order, so a paper changed again later is
    counted again and its newer version wins, as in `Index.add`.
    """

    def __init__(self, db, db_path: Path | str | None, index: Index | None = None) -> None:
        from store import db as store_db

        self.db, self.db_path = db, Path(db_path) if db_path else None
        self.folder = index_dir(db_path) if db_path else None
        db_uuid = store_db.db_uuid(db)
        if index is None and self.folder is not None:
            index = Index.load(self.folder)
        if index is None or index.db_uuid != db_uuid or index.covered_seq > store_db.max_seq(db):
            # A fresh index; its first save deletes whatever the folder held (every file its
            # meta.json does not name), under the folder's lock.
            index = Index()
            index.db_uuid = db_uuid
        self.index = index
        self.submitted = index.covered_seq  # papers up to this seq are counted or being counted
        self.processes = min(os.cpu_count() or 1, 4)
        self.batches = 0  # segments added
        self._pool = None
        self._todo: deque = deque()  # (after, until] seq ranges not yet given to the pool
        self._flight: deque = deque()  # results of the pool, in seq order
        self._parts: list[Analysed] = []  # counted, waiting for a segment's worth
        self._size = 0

    def _pending(self) -> int:
        return self.db.execute(
            "select count(*) from papers where seq > ?", [self.submitted]
        ).fetchone()[0]

    def committed(self) -> None:
        """Papers were committed: count them in the pool if there are enough to be worth it."""
        if self._pool is not None or self._pending() >= POOL_MIN:
            self._submit()
        self._collect(wait=False)

    def finish(self) -> Index:
        """Every paper changed so far added, and saved."""
        try:
            if self._pool is not None or self._pending() >= POOL_MIN:
                self._submit()
            self._collect(wait=True)
        finally:
            self._close()
        self._add_in_process()
        # A bulk load keeps its segments of SYNC_BATCH papers (folded by `Index.add`'s policy as
        # more come): merging them all into one costs a copy of every posting in memory (6 GB at
        # 1M papers) and time, and the scan and MaxScore cost about the same over a few segments.
        if self.batches and self.folder is not None:
            # A read-only data dir still answers from memory; the next writable start saves.
            with contextlib.suppress(OSError):
                self.index.save(self.folder)
        self.index.terms.dematerialize()  # a bot that caught up with a big import keeps running
        self.index.ids.dematerialize()
        return self.index

    def _submit(self) -> None:
        """Queue the papers changed after `submitted` for the pool, POOL_CHUNK papers a task."""
        if self.processes < 2 or self.db_path is None or not self.db_path.exists():
            return
        seqs = [
            r[0]
            for r in self.db.execute(
                "select seq from papers where seq > ? order by seq", [self.submitted]
            )
        ]
        if not seqs:
            return
        bounds = [self.submitted] + seqs[POOL_CHUNK - 1 :: POOL_CHUNK]
        if bounds[-1] != seqs[-1]:
            bounds.append(seqs[-1])
        del seqs
        if self._pool is None:
            # Millions of lookups ahead: one dict of the saved strings is cheaper than searches.
            self.index.terms.materialize()
            self.index.ids.materialize()
            # Never fork a process that runs threads (a parse pool's, the bot's).
            method = "fork" if threading.active_count() == 1 else "spawn"
            # Counting can wait; the writer and the parser cannot: the workers run at a lower
            # priority, so they take the CPU the import leaves (~40% of it) instead of slowing it.
            self._pool = multiprocessing.get_context(method).Pool(
                self.processes, initializer=os.nice, initargs=(COUNT_NICENESS,)
            )
        self._todo.extend(zip(bounds[:-1], bounds[1:], strict=True))
        self.submitted = bounds[-1]
        self._fill()

    def _fill(self) -> None:
        """Keep up to a segment's worth of ranges in the pool: results wait in memory until
        the writer collects them, between files."""
        while self._todo and len(self._flight) < max(2 * self.processes, SYNC_BATCH // POOL_CHUNK):
            lo, hi = self._todo.popleft()
            self._flight.append(self._pool.apply_async(_analyse_range, (str(self.db_path), lo, hi)))

    def _collect(self, wait: bool) -> None:
        """Take the pool's results in order (all of them when `wait`, else those ready), adding a
        segment per SYNC_BATCH papers."""
        while self._flight and (wait or self._flight[0].ready()):
            part = self._flight.popleft().get()
            self._fill()
            self._parts.append(part)
            self._size += len(part.paper_ids)
            if self._size >= SYNC_BATCH:
                self._add_parts()
        if wait:
            self._add_parts()

    def _add_parts(self) -> None:
        if not self._parts:
            return
        self.index.add_analysed(self._parts)
        for part in self._parts:
            self.index.acronyms.extend(part.acronyms)
            self.index.covered_seq = max(self.index.covered_seq, part.last_seq)
        self.batches += 1
        self._parts, self._size = [], 0

    def __enter__(self) -> IndexSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()  # an import that failed midway: no worker outlives it

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self._flight.clear()
        self._todo.clear()

    def _add_in_process(self) -> None:
        """The papers changed after the pool's last range (few), counted here."""
        from store import db as store_db

        index = self.index
        rows = store_db.iter_for_index(self.db, index.covered_seq)
        while True:
            batch: list[tuple[str, Counted]] = []
            for paper_id, seq, title, abstract, links in rows:
                batch.append((paper_id, count_document(title, abstract, links)))
                if "(" in abstract or "(" in title:
                    index.acronyms.extend(definitions_in(f"{title}. {abstract}"))
                index.covered_seq = max(index.covered_seq, seq)
                if len(batch) >= SYNC_BATCH:
                    break
            if not batch:
                break
            index.add(batch)
            self.batches += 1
            if len(batch) < SYNC_BATCH:
                break


def _analyse_range(db_path: str, after: int, until: int) -> Analysed:
    """Count the documents of papers with after < seq <= until, reading them with a connection of
    its own (run in a worker process: tokenizing is most of the cost of indexing).

    The whole range is counted at once: term numbers in order of first occurrence (as
    `_Documents.add` numbers them) by C-level dict passes, (document, term) counts by numpy,
    instead of a Counter and a term map per paper."""
    from store import db as store_db

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    paper_ids: list[str] = []
    lengths: list[int] = []
    tokens: list[str] = []
    acronyms: list[str] = []
    try:
        for paper_id, _seq, title, abstract, links in store_db.iter_for_index(conn, after, until):
            doc = document_tokens(title, abstract, links)
            paper_ids.append(paper_id)
            lengths.append(len(doc))
            tokens += doc
            if "(" in abstract or "(" in title:
                acronyms.extend(definitions_in(f"{title}. {abstract}"))
    finally:
        conn.close()
    terms = list(dict.fromkeys(tokens))
    vocab = dict(zip(terms, range(len(terms)), strict=True))
    tids = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    del tokens, vocab
    docs = np.repeat(np.arange(len(paper_ids), dtype=np.int64), lengths)
    keys, tfs = np.unique(docs * max(len(terms), 1) + tids, return_counts=True)
    del docs, tids
    doc_of_key = keys // max(len(terms), 1)
    return Analysed(
        paper_ids,
        until,  # a paper of the range changed since has a later seq: a later range counts it
        terms,
        (keys - doc_of_key * max(len(terms), 1)).astype(np.int32),
        tfs.astype(np.int32),
        np.bincount(doc_of_key, minlength=len(paper_ids)).astype(np.int32),
        np.asarray(lengths, dtype=np.float64),
        acronyms,
    )
