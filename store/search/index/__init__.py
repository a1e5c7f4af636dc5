"""Exact BM25Okapi over an inverted index saved beside the database (`<db>.index/`).

What lives here, by job (each module imports only those above it; none imports SQLite or query
expansion, which belong to `store.collection.db` and `store.search.sync`):

- `bm25`     the definition: constants, a paper's tokens, corpus statistics, `term_score`
- `segment`  immutable postings of a range of documents, their bounds, the merge policy
- `core`     `Index`: the state and its changes, the questions' entry points, healing
- `search`   the dense reference and MaxScore; `scan` + `kernels`: the compiled scan (numba)
- `persist`  the folder and its meta.json commit protocol; `check`: verifying a loaded folder

Catching up from the database (`IndexSync`, `sync_index`) lives in `store.search.sync`, which imports
this package (never the other way round): import them from there.
"""

from __future__ import annotations

from store.search.index.bm25 import (
    EPSILON,
    K1,
    TITLE_WEIGHT,
    Analysed,
    B,
    Counted,
    count_document,
    document_tokens,
    term_score,
)
from store.search.index.core import Index
from store.search.index.persist import INDEX_FORMAT, index_dir
from store.search.index.segment import MERGE_SEGMENTS, SYNC_BATCH, Segment

__all__ = [
    "B",
    "EPSILON",
    "INDEX_FORMAT",
    "K1",
    "MERGE_SEGMENTS",
    "SYNC_BATCH",
    "TITLE_WEIGHT",
    "Analysed",
    "Counted",
    "Index",
    "Segment",
    "count_document",
    "document_tokens",
    "index_dir",
    "term_score",
]
