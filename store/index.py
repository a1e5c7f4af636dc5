"""BM25 over an inverted index, scoring exactly as `rank_bm25.BM25Okapi` defines it.

`BM25Okapi.get_scores` walks every document for every query term. Here each term keeps its postings
(document numbers and term frequencies, numpy arrays) so a query touches only the documents that
contain its terms, with the same idf (epsilon floor included), k1, b and document lengths.

Postings live in immutable segments saved next to the database (`<db>.index/`) and memory-mapped
on load; papers added later become a new small segment instead of a rebuild, and a changed paper is
retired (its statistics removed) and added again, so the scores stay those of BM25Okapi over the
live collection.
"""

from __future__ import annotations

import heapq
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from store.text import TOKENIZER_VERSION, tokenize

K1 = 1.5
B = 0.75
EPSILON = 0.25
TITLE_WEIGHT = 3  # a title counts as this many copies of itself in the document's token list
INDEX_FORMAT = 1
MERGE_SEGMENTS = 8


def document_tokens(title: str, abstract: str, link_text: str = "") -> list[str]:
    """The token list BM25 sees for a paper: the title weighed in by repetition, then the abstract."""
    return tokenize(title) * TITLE_WEIGHT + tokenize(abstract) + tokenize(link_text)


@dataclass
class Segment:
    """Postings for a range of documents, sorted by term then document (CSR layout)."""

    offsets: np.ndarray  # int64, len = n_terms_at_build + 1
    docs: np.ndarray  # int32 document numbers
    tfs: np.ndarray  # uint16 term frequencies
    name: str = ""

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(docs, tfs) of term `tid` in this segment."""
        if tid + 1 >= len(self.offsets):
            return _EMPTY_I, _EMPTY_F
        lo, hi = self.offsets[tid], self.offsets[tid + 1]
        return self.docs[lo:hi], self.tfs[lo:hi]

    @staticmethod
    def build(term_ids: np.ndarray, doc_nums: np.ndarray, n_terms: int) -> Segment:
        """From one (term, doc) pair per token occurrence: count tfs, sort by term then doc."""
        keys = term_ids.astype(np.int64) << 32 | doc_nums.astype(np.int64)
        uniq, counts = np.unique(keys, return_counts=True)
        tids = (uniq >> 32).astype(np.int64)
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(tids, minlength=n_terms), out=offsets[1:])
        docs = (uniq & 0xFFFFFFFF).astype(np.int32)
        return Segment(offsets, docs, np.minimum(counts, 65535).astype(np.uint16))


_EMPTY_I = np.zeros(0, dtype=np.int32)
_EMPTY_F = np.zeros(0, dtype=np.uint16)


class Index:
    """An exact BM25Okapi index over paper ids, kept current as papers are added or changed."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.doc_ids: list[str] = []
        self.doc_of: dict[str, int] = {}
        self.doc_len = np.zeros(0, dtype=np.float64)
        self.alive = np.zeros(0, dtype=bool)
        self.segments: list[Segment] = []
        self.covered_seq = 0
        self.db_uuid = ""
        self._stats: tuple | None = None

    # ------------------------------------------------------------ statistics

    @property
    def size(self) -> int:
        """Live documents."""
        return int(self.alive.sum())

    def _compute_stats(self) -> tuple[np.ndarray, float, np.ndarray]:
        """idf per term (BM25Okapi's, epsilon floor included), avgdl, and each doc's length norm."""
        n = self.size
        if n == 0:
            return np.zeros(len(self.df)), 1.0, np.zeros(0)
        present = self.df > 0
        df = self.df[present].astype(np.float64)
        raw = np.log(n - df + 0.5) - np.log(df + 0.5)
        average_idf = float(raw.sum()) / len(raw)
        raw[raw < 0] = EPSILON * average_idf
        idf = np.zeros(len(self.df))
        idf[present] = raw
        avgdl = float(self.doc_len[self.alive].sum()) / n
        norm = K1 * (1 - B + B * self.doc_len / avgdl)
        return idf, avgdl, norm

    def stats(self) -> tuple[np.ndarray, float, np.ndarray]:
        """Cached (idf, avgdl, norm); recomputed after any change."""
        if self._stats is None:
            self._stats = self._compute_stats()
        return self._stats

    def idf_of(self, term: str) -> float:
        """A term's idf, 0 for terms the collection lacks (BM25Okapi's `idf.get(q) or 0`)."""
        tid = self.vocab.get(term)
        return float(self.stats()[0][tid]) if tid is not None else 0.0

    def unseen_idf(self) -> float:
        """The idf a term found in no document would have: the ceiling of "how specific"."""
        n = max(self.size, 1)
        return float(np.log(n + 0.5) - np.log(0.5))

    # ------------------------------------------------------------ changes

    def add(self, papers: Iterable[tuple[str, list[str]]]) -> int:
        """Add (paper_id, tokens) pairs as one new segment; a known id is retired and re-added."""
        term_ids: list[np.ndarray] = []
        doc_nums: list[np.ndarray] = []
        lengths: list[int] = []
        first = len(self.doc_ids)
        vocab = self.vocab
        for paper_id, tokens in papers:
            if paper_id in self.doc_of:
                self._retire(self.doc_of[paper_id])
            doc = len(self.doc_ids)
            self.doc_ids.append(paper_id)
            self.doc_of[paper_id] = doc
            lengths.append(len(tokens))
            tids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int64, count=len(tokens))
            term_ids.append(tids)
            doc_nums.append(np.full(len(tids), doc, dtype=np.int64))
        added = len(self.doc_ids) - first
        if not added:
            return 0
        self.doc_len = np.concatenate([self.doc_len, np.asarray(lengths, dtype=np.float64)])
        self.alive = np.concatenate([self.alive, np.ones(added, dtype=bool)])
        segment = Segment.build(np.concatenate(term_ids), np.concatenate(doc_nums), len(vocab))
        counts = np.diff(segment.offsets)
        df = np.zeros(len(vocab), dtype=np.int64)
        df[: len(self.df)] = self.df
        df += counts
        self.df = df
        self.segments.append(segment)
        if len(self.segments) > MERGE_SEGMENTS:
            self.merge()
        self._stats = None
        return added

    def _retire(self, doc: int) -> None:
        """Take a document out of the statistics and the results (its postings stay, masked)."""
        if not self.alive[doc]:
            return
        self.alive[doc] = False
        for segment in self.segments:
            positions = np.flatnonzero(segment.docs == doc)
            tids = np.searchsorted(segment.offsets, positions, side="right") - 1
            np.subtract.at(self.df, tids, 1)
        self._stats = None

    def merge(self) -> None:
        """Fold all segments into one (dropping retired documents) so queries touch fewer arrays."""
        n_terms = len(self.vocab)
        tids, docs, tfs = [], [], []
        for seg in self.segments:
            counts = np.diff(seg.offsets)
            tids.append(np.repeat(np.arange(len(counts), dtype=np.int64), counts))
            docs.append(np.asarray(seg.docs))
            tfs.append(np.asarray(seg.tfs))
        tid = np.concatenate(tids)
        doc = np.concatenate(docs)
        tf = np.concatenate(tfs)
        keep = self.alive[doc]
        tid, doc, tf = tid[keep], doc[keep], tf[keep]
        order = np.lexsort((doc, tid))
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(tid, minlength=n_terms), out=offsets[1:])
        self.segments = [Segment(offsets, doc[order].astype(np.int32), tf[order])]

    # ------------------------------------------------------------ queries

    def query_weights(self, tokens: list[str]) -> list[tuple[int, float]]:
        """(term id, weight) for a query: BM25Okapi adds a term once per occurrence in the query."""
        idf = self.stats()[0]
        counts: dict[int, int] = {}
        for token in tokens:
            tid = self.vocab.get(token)
            if tid is not None:
                counts[tid] = counts.get(tid, 0) + 1
        return [(tid, c * float(idf[tid])) for tid, c in counts.items() if idf[tid] != 0]

    def scores(self, tokens: list[str]) -> np.ndarray:
        """Scores of every document (dense; retired documents score 0): BM25Okapi.get_scores."""
        idf, _avgdl, norm = self.stats()
        out = np.zeros(len(self.doc_ids))
        for tid, weight in self.query_weights(tokens):
            for seg in self.segments:
                docs, tfs = seg.postings(tid)
                if len(docs):
                    tf = tfs.astype(np.float64)
                    out[docs] += weight * (tf * (K1 + 1) / (tf + norm[docs]))
        out[~self.alive] = 0.0
        return out

    def search(self, tokens: list[str], k: int = 10, exclude: set[str] | None = None) -> list[tuple[str, float]]:
        """The k best (paper_id, score) with score > 0, best first."""
        if not self.doc_ids or k <= 0:
            return []
        scores = self.scores(tokens)
        for paper_id in exclude or ():
            if paper_id in self.doc_of:
                scores[self.doc_of[paper_id]] = 0.0
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        best = heapq.nlargest(k, ((float(scores[d]), -int(d)) for d in hits))
        return [(self.doc_ids[-d], s) for s, d in best]

    def term_frequencies(self, paper_id: str) -> dict[str, int]:
        """A paper's terms and their counts, read back from the postings (for "similar")."""
        doc = self.doc_of.get(paper_id)
        if doc is None:
            return {}
        terms = self.terms()
        out: dict[str, int] = {}
        for seg in self.segments:
            positions = np.flatnonzero(seg.docs == doc)
            tids = np.searchsorted(seg.offsets, positions, side="right") - 1
            for tid, tf in zip(tids.tolist(), seg.tfs[positions].tolist(), strict=True):
                out[terms[tid]] = out.get(terms[tid], 0) + tf
        return out

    def terms(self) -> list[str]:
        """Term strings by id."""
        out = [""] * len(self.vocab)
        for term, tid in self.vocab.items():
            out[tid] = term
        return out

    # ------------------------------------------------------------ persistence

    def save(self, folder: Path) -> None:
        """Write segments (new ones only), then the small arrays, then meta.json as the commit point."""
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self.segments:
            if not seg.name:
                seg.name = uuid.uuid4().hex[:12]
                for part in ("offsets", "docs", "tfs"):
                    _save_array(folder / f"seg-{seg.name}-{part}.npy", getattr(seg, part))
        _save_array(folder / "df.npy", self.df)
        _save_array(folder / "doc_len.npy", self.doc_len)
        _save_array(folder / "alive.npy", self.alive)
        _write_text(folder / "terms.txt", "\n".join(self.terms()))
        _write_text(folder / "ids.txt", "\n".join(self.doc_ids))
        meta = {
            "format": INDEX_FORMAT,
            "tokenizer": TOKENIZER_VERSION,
            "title_weight": TITLE_WEIGHT,
            "covered_seq": self.covered_seq,
            "db_uuid": self.db_uuid,
            "docs": len(self.doc_ids),
            "segments": [seg.name for seg in self.segments],
        }
        _write_text(folder / "meta.json", json.dumps(meta))
        keep = {f"seg-{s.name}-{p}.npy" for s in self.segments for p in ("offsets", "docs", "tfs")}
        for path in folder.glob("seg-*.npy"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> Index | None:
        """A saved index, memory-mapped; None when absent, stale in format, or inconsistent."""
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if (meta["format"], meta["tokenizer"], meta["title_weight"]) != (
                INDEX_FORMAT, TOKENIZER_VERSION, TITLE_WEIGHT,
            ):
                return None
            index = cls()
            terms = (folder / "terms.txt").read_text().split("\n")
            index.vocab = {t: i for i, t in enumerate(terms)} if terms != [""] else {}
            index.doc_ids = (folder / "ids.txt").read_text().split("\n")[: meta["docs"]]
            if index.doc_ids == [""]:
                index.doc_ids = []
            index.doc_of = {pid: i for i, pid in enumerate(index.doc_ids)}
            index.df = np.load(folder / "df.npy")
            index.doc_len = np.load(folder / "doc_len.npy")
            index.alive = np.load(folder / "alive.npy")
            for name in meta["segments"]:
                parts = [np.load(folder / f"seg-{name}-{p}.npy", mmap_mode="r") for p in ("offsets", "docs", "tfs")]
                index.segments.append(Segment(*parts, name=name))
            index.covered_seq = meta["covered_seq"]
            index.db_uuid = meta.get("db_uuid", "")
        except (OSError, ValueError, KeyError):
            return None
        if len(index.doc_len) != len(index.doc_ids) or len(index.df) != len(index.vocab):
            return None
        # Retire/alive updates write into arrays; give them writable copies of the small ones.
        index.alive = np.array(index.alive)
        return index


def _save_array(path: Path, array: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, np.asarray(array))
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def index_dir(db_path: Path | str) -> Path:
    """Where the index of a database lives: beside it."""
    return Path(str(db_path) + ".index")


def sync_index(db, db_path: Path | str | None, index: Index | None = None) -> Index:
    """Load the saved index (or build it), add every paper changed since, and save if anything did.

    `db_path` None keeps the index in memory only.
    """
    from store import db as store_db

    folder = index_dir(db_path) if db_path else None
    db_uuid = store_db.db_uuid(db)
    if index is None and folder is not None:
        index = Index.load(folder)
    if index is None or index.db_uuid != db_uuid or index.covered_seq > store_db.max_seq(db):
        index = Index()
        index.db_uuid = db_uuid
        if folder is not None and folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
    changed = False
    batch: list[tuple[str, list[str]]] = []
    for paper_id, seq, title, abstract, links in store_db.iter_for_index(db, index.covered_seq):
        batch.append((paper_id, document_tokens(title, abstract, links)))
        index.covered_seq = max(index.covered_seq, seq)
        if len(batch) >= 200_000:
            index.add(batch)
            batch, changed = [], True
    if batch:
        index.add(batch)
        changed = True
    if changed and folder is not None:
        try:
            index.save(folder)
        except OSError:
            pass  # a read-only data dir still answers from memory; the next writable start saves
    return index
