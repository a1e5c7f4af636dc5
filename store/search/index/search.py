"""Questions over the index: the dense reference (every document scored) and MaxScore, which
finds the same top k without scoring every matching document.

MaxScore: each term has an upper bound of what it can add to a score (kept per segment at build
time). A first pass over the rarest terms gives k real scores and so a threshold; the common terms
whose bounds together stay below it cannot lift a document into the top k alone, so only documents
holding one of the other ("essential") terms are candidates, and candidates whose bound falls below
the threshold are dropped as the common terms' frequencies are looked up (binary search in their
document-sorted postings). The survivors are scored with `term_score` in the dense path's order,
so the results are identical to it, not merely close. Questions of common words only, which no
bound can skip, go to the compiled scan (`store.search.index.scan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from store.search.index import scan
from store.search.index.bm25 import term_score
from store.search.index.shape import Ranked, best

if TYPE_CHECKING:
    from store.search.index.segment import Segment
    from store.search.index.shape import IndexState as Index
    from store.search.index.shape import Weights

SEED_POSTINGS = 20_000  # postings of the rarest terms scored first to find the top-k threshold
THETA_SAMPLE = 32  # with 4k, the best candidates scored exactly to set the top-k threshold
SLACK = 1e-9  # relative safety margin on bounds and thresholds (float rounding is ~1e-16)

_NO_DOCS = np.zeros(0, dtype=np.int64)


def top(
    index: Index, weights: Weights, k: int, exclude: set[str] | None, dense: bool = False
) -> list[tuple[str, float]]:
    """The k best (paper_id, score) with score > 0 by the path that reads least: the dense one for
    tiny collections (negative idfs break bounds), the scan for many postings, else MaxScore."""
    if not len(index.ids) or k <= 0 or not weights:
        return []
    found = index.ids.get_many(list(exclude or ()))
    excluded = np.asarray(sorted(d for d in found if d is not None), dtype=np.int64)
    if dense or any(w <= 0 for _, w in weights):
        scores = dense_scores(index, weights)
        scores[excluded] = 0.0
        hits = np.flatnonzero(scores > 0)
        docs = best(hits, scores[hits], k)
    elif scan.worth_it(index, weights):
        docs = scan.top_k_scan(index, weights, k, excluded)
    else:
        docs = maxscore(index, weights, k, excluded)
    return [(index.ids[d], s) for d, s in docs]


def dense_scores(index: Index, weights: Weights) -> np.ndarray:
    """Every document's score (retired ones 0): BM25Okapi.get_scores, the reference."""
    norm = index.stats()[2]
    out = np.zeros(len(index.ids))
    for tid, weight in weights:
        for seg in index.segments:
            docs, tfs = seg.postings(tid)
            if len(docs):
                out[docs] += term_score(weight, tfs.astype(np.float64), norm[docs])
    out[~index.alive] = 0.0
    return out


def scores_of(index: Index, weights: Weights, paper_ids: list[str]) -> dict[str, float]:
    """The scores of these papers only (live ones; unknown ids left out)."""
    docs = set(index.ids.get_many(paper_ids)) - {None}
    cands = np.asarray(sorted(d for d in docs if index.alive[d]), dtype=np.int64)
    if not len(cands):
        return {}
    scores = exact(index, weights, cands)
    return {index.ids[d]: s for d, s in zip(cands.tolist(), scores.tolist(), strict=True)}


# ---------------------------------------------------------------- scoring given documents


def postings(index: Index, tid: int) -> list[tuple[Segment, np.ndarray, np.ndarray]]:
    """(segment, docs, tfs) of each segment holding term `tid`."""
    out = []
    for seg in index.segments:
        docs, tfs = seg.postings(tid)
        if len(docs):
            out.append((seg, docs, tfs))
    return out


def lookup(index: Index, tid: int, cands: np.ndarray) -> np.ndarray:
    """Term frequencies (float64, 0 where absent) of term `tid` in sorted documents `cands`."""
    out = np.zeros(len(cands))
    for seg, docs, tfs in postings(index, tid):
        i0, i1 = np.searchsorted(cands, [seg.lo, seg.hi])
        if i0 == i1:
            continue
        if (i1 - i0) * 16 >= len(docs):
            # Many candidates: scatter the postings' tfs, gather the candidates' (one pass over
            # each instead of a binary search per candidate).
            with index.tf_scratch.borrow(len(index.ids)) as tf_of:
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


def exact(index: Index, weights: Weights, cands: np.ndarray) -> np.ndarray:
    """Scores of sorted documents `cands` with the dense path's float operations and order."""
    norm = index.stats()[2][cands]
    out = np.zeros(len(cands))
    for tid, weight in weights:
        out += term_score(weight, lookup(index, tid, cands), norm)
    return out


def union(index: Index, terms: Weights) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct documents holding any of `terms`, with those terms' summed contributions."""
    norm = index.stats()[2]
    parts = [(w, p) for tid, w in terms for p in postings(index, tid)]
    if len(terms) == 1:
        if not parts:
            return _NO_DOCS, np.zeros(0)
        docs = np.concatenate([p[1] for _, p in parts]).astype(np.int64)
        tf = np.concatenate([p[2] for _, p in parts]).astype(np.float64)
        return docs, term_score(terms[0][1], tf, norm[docs])
    total = sum(len(p[1]) for _, p in parts)
    with index.scratch.borrow(len(index.ids)) as scratch:
        for w, (_seg, docs, tfs) in parts:
            scratch[docs] += term_score(w, tfs.astype(np.float64), norm[docs])
        if total * 16 < len(index.ids):
            cands = np.sort(np.concatenate([p[1] for _, p in parts]).astype(np.int64))
            if len(cands) > 1:
                cands = cands[np.concatenate(([True], cands[1:] != cands[:-1]))]
        else:
            cands = np.flatnonzero(scratch)
        partial = scratch[cands]
        scratch[cands] = 0.0
    return cands, partial


# ---------------------------------------------------------------- MaxScore


@dataclass
class Plan:
    """A question's terms for MaxScore: bounds, postings counts, and the order by bound."""

    index: Index
    weights: Weights
    excluded: np.ndarray
    bounds: list[float]
    counts: list[int]
    by_bound: list[int]  # term positions, smallest bound (most common term) first

    @classmethod
    def of(cls, index: Index, weights: Weights, excluded: np.ndarray) -> Plan:
        """The plan of a question (per-term bounds valid at the current avgdl)."""
        bounds = term_bounds(index, weights)
        counts = [sum(s.count(tid) for s in index.segments) for tid, _ in weights]
        order = sorted(range(len(weights)), key=lambda i: bounds[i])
        return cls(index, weights, excluded, bounds, counts, order)

    def usable(self, cands: np.ndarray, partial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidates that are live and not excluded."""
        ok = self.index.alive[cands]
        if len(self.excluded):
            ok &= ~np.isin(cands, self.excluded)
        return cands[ok], partial[ok]


def maxscore(index: Index, weights: Weights, k: int, excluded: np.ndarray) -> Ranked:
    """The k best live, non-excluded documents, exactly as the dense path ranks them."""
    plan = Plan.of(index, weights, excluded)
    seed = rarest_terms(plan)
    cands, partial = plan.usable(*union(index, seed)) if seed else (_NO_DOCS, np.zeros(0))
    theta = 0.0
    if len(seed) < len(weights) and len(cands) >= k:
        theta = kth_of_best(index, weights, cands, partial, k)
    lazy, skipped = non_essential(plan, theta)
    if lazy or len(seed) < len(weights):  # else the seed pass saw every term
        essential = [weights[i] for i in plan.by_bound[len(lazy) :]]
        cands, partial = plan.usable(*union(index, essential))
    if len(cands) > THETA_SAMPLE + 4 * k:
        theta = max(theta, kth_of_best(index, weights, cands, partial, k))
    if theta > 0:
        cands = prune_by_lazy_terms(plan, cands, partial, lazy, skipped, theta)
    scores = exact(index, weights, cands)
    hits = scores > 0
    return best(cands[hits], scores[hits], k)


def rarest_terms(plan: Plan) -> Weights:
    """The rarest terms whose postings fit in SEED_POSTINGS (at least one): their union gives
    real scores, so a first threshold, cheaply."""
    seed, budget = [], 0
    for i in reversed(plan.by_bound):
        if seed and budget + plan.counts[i] > SEED_POSTINGS:
            break
        seed.append(plan.weights[i])
        budget += plan.counts[i]
    return seed


def non_essential(plan: Plan, theta: float) -> tuple[list[int], float]:
    """The common terms (positions) whose bounds together stay below the threshold `theta`, and
    that sum: no document holding only those can reach the top k."""
    lazy: list[int] = []
    total = 0.0
    if theta > 0:
        floor = theta * (1 - SLACK)
        for i in plan.by_bound:
            if total + plan.bounds[i] >= floor:
                break
            total += plan.bounds[i]
            lazy.append(i)
    return lazy, total


def prune_by_lazy_terms(
    plan: Plan, cands: np.ndarray, partial: np.ndarray, lazy: list[int], rest: float, theta: float
) -> np.ndarray:
    """The candidates that can still reach `theta`: the non-essential terms are looked up one at a
    time (least common first) and a candidate goes once its partial score plus the bounds of the
    terms not looked up yet falls below the threshold."""
    norm = plan.index.stats()[2]
    floor = theta * (1 - SLACK)
    keep = partial + rest >= floor
    cands, partial = cands[keep], partial[keep]
    for i in reversed(lazy):
        tid, w = plan.weights[i]
        rest -= plan.bounds[i]
        partial = partial + term_score(w, lookup(plan.index, tid, cands), norm[cands])
        keep = partial + rest >= floor
        cands, partial = cands[keep], partial[keep]
    return cands


def kth_of_best(
    index: Index, weights: Weights, docs: np.ndarray, gain: np.ndarray, k: int
) -> float:
    """The k-th best exact score among the documents with the highest `gain` (a sample of
    THETA_SAMPLE + 4k), or 0 if fewer than k score: real scores, so a valid threshold."""
    m = THETA_SAMPLE + 4 * k
    if len(docs) > m:
        docs = np.sort(docs[np.argpartition(-gain, m - 1)[:m]])
    scores = exact(index, weights, docs)
    scores = scores[scores > 0]
    return (
        float(np.partition(scores, len(scores) - k)[len(scores) - k]) if len(scores) >= k else 0.0
    )


def scale(index: Index, seg: Segment) -> float:
    """What a segment's build-time contributions are multiplied by to bound them now: norm
    k1*(1-b+b*dl/avgdl) shrinks as avgdl grows, to no less than avgdl_build/avgdl of itself, so a
    contribution rises at most by avgdl/avgdl_build (SLACK covers the float rounding)."""
    return max(1.0, index.stats()[1] / seg.avgdl) * (1 + SLACK)


def term_bounds(index: Index, weights: Weights) -> list[float]:
    """Per query term, an upper bound of what it adds to any live document's score."""
    out = []
    for tid, w in weights:
        top_ = 0.0
        for seg in index.segments:
            if tid < len(seg.maxc) and seg.count(tid):
                top_ = max(top_, float(seg.maxc[tid]) * scale(index, seg))
        out.append(w * top_ * (1 + SLACK))
    return out
