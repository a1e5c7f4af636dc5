"""The index's state and its changes: term and paper numbers, document frequencies and lengths,
which documents are live, the segments, and what the saved folder holds.

A paper added again (changed) is retired from the statistics and added as a new document, so the
scores stay BM25Okapi's over the live collection. Questions go through `store.search.index.search`; a
search that fails (a damaged file that slipped past the checks) asks the healer, when one is set,
for the index rebuilt from the database, adopts it and answers from it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from store.search.index import bm25, persist, scan, search
from store.search.index import segment as seg_mod
from store.search.index.bm25 import Analysed, Counted, Documents
from store.search.index.segment import Segment
from store.search.index.shape import Scratch, Weights
from store.search.index.strtable import StringTable

log = logging.getLogger(__name__)


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
        self.scratch = Scratch(np.float64)  # scores by document, zero between questions
        self.tf_scratch = Scratch(np.uint16)  # tfs by document, zero between lookups
        self.saved: dict | None = None  # what the folder's append-only files hold (`persist`)
        self.verified = False  # every file's checksum checked at load
        self.damage: str | None = None  # set when a check found a file not as saved
        self.healer: Callable[[], Index] | None = None  # the index rebuilt from the database
        self._heal_lock = threading.Lock()
        self.generation = 0  # rebuilds adopted
        # Acronym definitions stated in the indexed papers ("short\tlong form\twords" token lines),
        # mined as papers are indexed so query expansion never scans the collection (append-only).
        self.acronyms: list[str] = []

    # ------------------------------------------------------------ statistics

    @property
    def size(self) -> int:
        """Live documents."""
        return self._live

    def stats(self) -> tuple[np.ndarray, float, np.ndarray]:
        """Cached (idf, avgdl, norm); recomputed after any change."""
        if self._stats is None:
            self._stats = bm25.corpus_stats(self.df, self.doc_len, self.alive, self._live)
        return self._stats

    def idf_of(self, term: str) -> float:
        """A term's idf, 0 for terms the collection lacks (BM25Okapi's `idf.get(q) or 0`)."""
        tid = self.terms.get(term)
        return float(self.stats()[0][tid]) if tid is not None else 0.0

    def unseen_idf(self) -> float:
        """The idf a term found in no document would have: the ceiling of "how specific"."""
        return bm25.unseen_idf(self.size)

    def count_live(self) -> None:
        """Recount the live documents (after a load: `alive` comes from the folder)."""
        self._live = int(self.alive.sum())
        self._stats = None

    # ------------------------------------------------------------ changes

    def add(self, papers: Iterable[tuple[str, list[str] | Counted]]) -> int:
        """Add (paper_id, tokens) pairs as one new segment; a known id is retired and re-added.
        `tokens` is the document's token list, or the same already counted (`Counted`)."""
        docs = Documents(self.terms)
        for paper_id, tokens in papers:
            docs.add(paper_id, tokens)
        return self._add_documents(docs.paper_ids, *docs.arrays())

    def add_analysed(self, parts: list[Analysed]) -> int:
        """Add documents counted elsewhere (in a worker process, with its own term numbers) as one
        new segment: exactly what `add` of the same documents in order does."""
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
        arrays = (np.concatenate(x) for x in (tids, tfs, distinct, lengths))
        return self._add_documents(paper_ids, *arrays)

    def _number(self, paper_ids: list[str]) -> tuple[list[int], list[int]]:
        """Give each paper a new document number; returns the documents of earlier segments it
        replaces (to retire) and those of this batch replaced again within it."""
        first = len(self.ids)
        retire: list[int] = []
        replaced: list[int] = []
        batch: dict[str, int] = {}
        for paper_id, old in zip(paper_ids, self.ids.get_many(paper_ids), strict=True):
            old = batch.get(paper_id, old)
            if old is not None:
                (replaced if old >= first else retire).append(old)
            batch[paper_id] = self.ids.add(paper_id)
        return retire, replaced

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
        first = len(self.ids)
        retire, replaced = self._number(paper_ids)
        added = len(self.ids) - first
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
        avgdl, norm = bm25.length_norms(self.doc_len, self.alive, self._live)
        new = seg_mod.build(t, d, f, len(self.terms), (first, first + added), norm, avgdl)
        self.df += np.diff(new.offsets)
        self._stats = None
        self.segments.append(new)
        if len(self.segments) > seg_mod.MERGE_SEGMENTS:
            self._merge_tail()
        return added

    def remove(self, paper_ids: Iterable[str]) -> int:
        """Take papers out (removed from the collection): retired like a changed paper's old
        document, so the statistics are BM25Okapi's over the papers left. Unknown or already
        removed ids are skipped; returns how many documents were retired."""
        docs = [d for d in self.ids.get_many(list(paper_ids)) if d is not None]
        live = [d for d in docs if self.alive[d]]
        self._retire(live)
        return len(live)

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

    def _merge_tail(self) -> None:
        """Fold the newest small segments together (`segment.tail_to_merge`'s policy)."""
        start = seg_mod.tail_to_merge(self.segments)
        if start < len(self.segments):
            avgdl, norm = bm25.length_norms(self.doc_len, self.alive, self._live)
            tail = seg_mod.merged(self.segments[start:], len(self.terms), self.alive, norm, avgdl)
            self.segments = self.segments[:start] + [tail]

    # ------------------------------------------------------------ questions

    def query_weights(self, tokens: list[str]) -> Weights:
        """(term id, weight) for a query: BM25Okapi adds a term once per occurrence in the query."""
        counts: dict[str, float] = {}
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
        return self.weighted(counts)

    def weighted(self, weights: dict[str, float]) -> Weights:
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
        return self.guarded(lambda: search.dense_scores(self, self.query_weights(tokens)))

    def search(
        self, tokens: list[str], k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """The k best (paper_id, score) with score > 0, best first (ties: earlier document first)."""
        return self.guarded(lambda: search.top(self, self.query_weights(tokens), k, exclude))

    def search_weighted(
        self, weights: dict[str, float], k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """`search` for a weighted query (expanded terms): the top k of sum weight * BM25(term)."""
        return self.guarded(lambda: search.top(self, self.weighted(weights), k, exclude))

    def search_dense(
        self, tokens: list[str], k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """`search` by scoring every document: the reference the pruned search must equal."""
        weights = self.query_weights
        return self.guarded(lambda: search.top(self, weights(tokens), k, exclude, dense=True))

    def scores_of(self, weights: dict[str, float], paper_ids: Iterable[str]) -> dict[str, float]:
        """`search_weighted`'s scores of just these papers (live ones; unknown ids left out), from
        their postings by binary search: the cost follows the papers asked about, not the collection."""
        wanted = list(paper_ids)
        return self.guarded(lambda: search.scores_of(self, self.weighted(weights), wanted))

    def warm_up(self) -> None:
        """Ready the compiled scan now when the collection is big enough for a question to need
        it, so that question does not wait for numba's compile or cache load."""
        scan.warm_up(sum(len(s.docs) for s in self.segments))

    # ------------------------------------------------------------ damage

    def guarded(self, question: Callable[[], Any]) -> Any:
        """Answer `question`; if the index is known damaged, or the question fails inside it, and
        a healer is set, answer it again from the index rebuilt from the database."""
        if self.damage is not None and self.healer is not None:
            self.heal(self.damage)
        generation = self.generation
        try:
            return question()
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            if self.healer is None:
                raise
            self.heal(f"a search failed ({type(exc).__name__}: {exc})", generation)
            return question()

    def heal(self, why: str, seen: int | None = None) -> None:
        """Replace this index's state by the healer's rebuild (once, whatever threads ask)."""
        with self._heal_lock:
            if seen is not None and seen != self.generation:
                return  # another thread rebuilt it meanwhile
            if seen is None and self.damage is None:
                return
            log.warning("index damaged (%s): rebuilding it from the database", why)
            fresh = self.healer()
            keep = {"healer": self.healer, "_heal_lock": self._heal_lock}
            self.__dict__.update({**fresh.__dict__, **keep, "generation": self.generation + 1})
            self.damage = None

    # ------------------------------------------------------------ files

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (`persist.save`: meta.json is the commit point)."""
        persist.save(self, folder)

    @classmethod
    def load(cls, folder: Path, check_now: bool | None = None) -> Index | None:
        """A saved index, memory-mapped; None when absent, stale in format, or found damaged.
        `check_now`: verify every file's checksum before returning (None: when the folder is small
        enough for it to be cheap; else `check.verify_in_background` can do it later)."""
        return persist.load(cls, folder, check_now)


def _grow(array_: np.ndarray, n: int) -> np.ndarray:
    if len(array_) >= n:
        return array_
    out = np.zeros(n, dtype=array_.dtype)
    out[: len(array_)] = array_
    return out
