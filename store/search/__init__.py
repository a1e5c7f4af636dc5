"""The search: the exact BM25Okapi index beside the database (index/), keeping it caught up (sync),
and the query expansion that both build from the collection (expansion)."""
