"""BM25Okapi's definition: its constants, a paper's token list, the corpus statistics, and the one
expression every scoring path calls (`term_score`).

The dense reference, MaxScore's bounds and lookups, and the compiled scan all score a posting with
`term_score`, so their float operations and their order are the same by construction and the
pruned paths' scores are bit-identical to the dense one's, not merely close.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import NamedTuple

import numpy as np

from store.search.index.strtable import StringTable
from store.text import tokenize

K1 = 1.5
B = 0.75
EPSILON = 0.25
TITLE_WEIGHT = 3  # a title counts as this many copies of itself in the document's token list


def saturation(tf, norm):
    """tf*(k1+1)/(tf+norm): what a posting adds per unit of idf (a segment's bounds are its
    maximum, computed without a `weight` pass over every posting)."""
    return tf * (K1 + 1) / (tf + norm)


def term_score(weight, tf, norm):
    """What one posting adds to a document's score: weight * tf*(k1+1)/(tf+norm), in the dense
    path's operation order (numpy arrays or scalars; the compiled scan compiles this very code).
    `weight` is the query term's idf times its weight, `norm` the document's `length_norms`."""
    return weight * saturation(tf, norm)


def length_norms(doc_len: np.ndarray, alive: np.ndarray, live: int) -> tuple[float, np.ndarray]:
    """avgdl over live documents and every document's length norm k1*(1-b+b*dl/avgdl)."""
    avgdl = float(doc_len[alive].sum()) / max(live, 1)
    return avgdl, K1 * (1 - B + B * doc_len / avgdl)


def corpus_stats(
    df: np.ndarray, doc_len: np.ndarray, alive: np.ndarray, live: int
) -> tuple[np.ndarray, float, np.ndarray]:
    """idf per term (BM25Okapi's, epsilon floor included), avgdl, and each doc's length norm."""
    if live == 0:
        return np.zeros(len(df)), 1.0, np.zeros(len(doc_len))
    avgdl, norm = length_norms(doc_len, alive, live)
    present = df > 0
    counts = df[present].astype(np.float64)
    raw = np.log(live - counts + 0.5) - np.log(counts + 0.5)
    average_idf = float(raw.sum()) / len(raw)
    raw[raw < 0] = EPSILON * average_idf
    idf = np.zeros(len(df))
    idf[present] = raw
    return idf, avgdl, norm


def unseen_idf(live: int) -> float:
    """The idf a term found in no document would have: the ceiling of "how specific"."""
    n = max(live, 1)
    return float(np.log(n + 0.5) - np.log(0.5))


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


class Documents:
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
        """Count one document (a token list, or one counted already) and number its new terms."""
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
        """(term ids, tfs, distinct terms per document, lengths) as numpy arrays."""
        return tuple(
            np.frombuffer(a, dtype=np.int64 if a.typecode == "q" else np.float64)
            for a in (self.tids, self.tfs, self.distinct, self.lengths)
        )
