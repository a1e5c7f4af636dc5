"""The candidates' papers, read from SQLite as the ranking walk reaches them.

A question ranks ~30 candidates but shows three, and the walk that sorts them into good and weak
stops at its k-th good one: reading every candidate's row, abstract and links up front was a
fifth of a question's time. `PaperBatches` reads the candidates in the order given, a batch at a
time, when the walk first asks about one of them; the rows and what the walk sees are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from store.collection import db as store_db

BATCH = 10


class PaperBatches(Mapping):
    """`store_db.get_papers(db, ids)`, read lazily in batches of consecutive ids (unknown ids
    are left out, as there)."""

    def __init__(self, db, ids: list[str], first: int = BATCH) -> None:
        self._db = db
        self._ids = list(dict.fromkeys(ids))
        self._pos = {pid: i for i, pid in enumerate(self._ids)}
        self._read_to = 0  # ids[:read_to] have been read: ids before it are known or absent
        self._papers: dict[str, dict[str, Any]] = {}
        self._first = max(first, 1)

    def _read_through(self, pos: int) -> None:
        """Read ids up to and including position `pos` (whole batches)."""
        while self._read_to <= pos:
            size = self._first if self._read_to == 0 else BATCH
            part = self._ids[self._read_to : self._read_to + size]
            self._papers.update(store_db.get_papers(self._db, part))
            self._read_to += len(part)

    def __contains__(self, pid: object) -> bool:
        pos = self._pos.get(pid)  # type: ignore[call-overload]
        if pos is None:
            return False
        self._read_through(pos)
        return pid in self._papers

    def __getitem__(self, pid: str) -> dict[str, Any]:
        if pid not in self:
            raise KeyError(pid)
        return self._papers[pid]

    def __iter__(self) -> Iterator[str]:
        self._read_through(len(self._ids) - 1)
        return iter([pid for pid in self._ids if pid in self._papers])

    def __len__(self) -> int:
        return sum(1 for _ in self)
