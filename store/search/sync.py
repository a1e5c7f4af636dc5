"""Derived folders caught up from the database: the BM25 index (`IndexSync`), and one shared
skeleton (`current_or_fresh`) that the index and the vectors both load, check and rebuild through.

The database is the source of truth. A derived state records the database it belongs to (its
uuid) and the last change it covers (`covered_seq`); a missing, damaged, foreign or too-new state is
replaced by a fresh one, which then catches up with every paper.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from store.collection import db as store_db
from store.files import folder_lock, remove_unnamed
from store.procs import quiet_worker
from store.search.expansion import definitions_in
from store.search.index import (
    Analysed,
    Counted,
    Index,
    check,
    count_document,
    document_tokens,
    index_dir,
)
from store.search.index import segment as seg_mod

log = logging.getLogger(__name__)

POOL_MIN = 50_000  # papers to index at once before tokenizing in a pool of processes (one per core)
POOL_CHUNK = 10_000  # papers per task of that pool
COUNT_NICENESS = 3  # the counting workers' scheduling priority, below the importing process

State = TypeVar("State")


class IndexSaveError(OSError):
    """The caught-up index could not be written (disk full, read-only folder): what failed and
    what to do, in one line. Whatever the failed save wrote is removed already."""

    def __init__(self, folder: Path, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        try:
            stat = os.statvfs(folder)
            room = f"{stat.f_bavail * stat.f_frsize / 1e6:.1f} MB free there"
        except OSError:
            room = "free space unknown"
        super().__init__(
            f"index not saved in {folder} ({why}; {room}): free some space there (or make it "
            "writable); the next paperbot command catches the index up"
        )


def current_or_fresh(
    db: Any,
    folder: Path | None,
    state: State | None,
    load: Callable[[Path], State | None],
    fresh: Callable[[], State],
    clear: bool = False,
) -> State:
    """The state to catch up from: `state`, else the folder's saved one; a fresh one when there
    is none, or it belongs to another database, or it is ahead of it (a restored backup). With
    `clear`, a fresh state's folder is emptied first, under its lock (else its first save does)."""
    db_uuid = store_db.db_uuid(db)
    if state is None and folder is not None:
        state = load(folder)
    if state is None or state.db_uuid != db_uuid or state.covered_seq > store_db.max_seq(db):
        state = fresh()
        state.db_uuid = db_uuid
        if clear and folder is not None and folder.is_dir():
            with folder_lock(folder, exclusive=True):
                remove_unnamed(folder, set())
    return state


def sync_index(db, db_path: Path | str | None, index: Index | None = None) -> Index:
    """Load the saved index (or build it), add every paper changed since, and save if anything did.

    `db_path` None keeps the index in memory only. A save that fails is logged and the index
    answers from memory (a read-only data dir; the next writable run saves).
    """
    sync = IndexSync(db, db_path, index)
    try:
        return sync.finish()
    except IndexSaveError as exc:
        log.warning("%s", exc)
        return sync.index


def _load_checked(folder: Path) -> Index | None:
    """The folder's index; its files' checksums verified now (small) or in the background."""
    index = Index.load(folder)
    if index is not None and not index.verified:
        check.verify_in_background(index, folder)
    return index


def rebuilder(db, db_path: Path | str | None) -> Callable[[], Index]:
    """What a damaged index calls to be rebuilt from the database (and saved), on a connection
    of its own when the database is a file (the caller's may be busy in another thread)."""

    def rebuild() -> Index:
        if db_path is None:
            return sync_index(db, None, Index())
        reader = store_db.open_db(db_path, read_only=True)
        try:
            return sync_index(reader, db_path, Index())
        finally:
            reader.close()

    return rebuild


class IndexSync:
    """The index kept current while papers are written, e.g. by `paperbot import` of many files:
    after each committed file, `committed()` hands the changed papers to a pool of processes that
    count them while the writer goes on with the next file; `finish()` adds the rest and saves.

    Papers are counted in seq order and added in that order, so a paper changed again later is
    counted again and its newer version wins, as in `Index.add`.
    """

    def __init__(self, db, db_path: Path | str | None, index: Index | None = None) -> None:
        self.db, self.db_path = db, Path(db_path) if db_path else None
        self.folder = index_dir(db_path) if db_path else None
        # A fresh index's first save deletes whatever the folder held (every file its meta.json
        # does not name), under the folder's lock.
        self.index = current_or_fresh(db, self.folder, index, _load_checked, Index)
        if self.index.healer is None:
            self.index.healer = rebuilder(db, db_path)
        self.submitted = self.index.covered_seq  # papers up to this seq are counted or in the pool
        self.processes = min(os.cpu_count() or 1, 4)
        self.batches = 0  # segments added
        self.pool = None
        self._todo: deque = deque()  # (after, until] seq ranges not yet given to the pool
        self._flight: deque = deque()  # results of the pool, in seq order
        self._parts: list[Analysed] = []  # counted, waiting for a segment's worth
        self._size = 0
        self.removed_seq = self._replay_removals()

    def _replay_removals(self) -> int:
        """Retire the papers removed since the index's last change (`store.collection.db.delete_papers`),
        before any paper changed since is added: one added again after its removal has a later
        change number, so it ends up in. Returns the last removal's number (0: none)."""
        removals = store_db.deleted_since(self.db, self.index.covered_seq)
        if not removals:
            return 0
        if self.index.remove(pid for _, pid in removals):
            self.batches += 1  # something to save
        return removals[-1][0]

    def committed(self) -> None:
        """Papers were committed: count them in the pool if there are enough to be worth it."""
        if self.pool is not None or self._pending() >= POOL_MIN:
            self._submit()
        self._collect(wait=False)

    def finish(self) -> Index:
        """Every paper changed so far added, and saved (IndexSaveError if the save failed)."""
        try:
            if self.pool is not None or self._pending() >= POOL_MIN:
                self._submit()
            self._collect(wait=True)
        finally:
            self._close()
        self._add_in_process()
        if self.removed_seq > self.index.covered_seq:
            self.index.covered_seq = self.removed_seq
            self.batches += 1  # saved with its new change number, so the replay is not repeated
        if self.index.damage is not None:  # found by the background check meanwhile
            self.index.heal(self.index.damage)
        try:
            # A bulk load keeps its segments of SYNC_BATCH papers (folded by the merge policy as
            # more come): merging them all costs a copy of every posting (6 GB at 1M papers).
            if self.batches and self.folder is not None:
                self.index.save(self.folder)
        except OSError as exc:
            raise IndexSaveError(self.folder, exc) from exc
        finally:
            self.index.terms.dematerialize()  # a bot that caught up with a big import runs on
            self.index.ids.dematerialize()
        return self.index

    def _pending(self) -> int:
        return store_db.count_changed_since(self.db, self.submitted)

    def _submit(self) -> None:
        """Queue the papers changed after `submitted` for the pool, POOL_CHUNK papers a task."""
        if self.processes < 2 or self.db_path is None or not self.db_path.exists():
            return
        seqs = store_db.seqs_changed_since(self.db, self.submitted)
        if not seqs:
            return
        bounds = [self.submitted] + seqs[POOL_CHUNK - 1 :: POOL_CHUNK]
        if bounds[-1] != seqs[-1]:
            bounds.append(seqs[-1])
        del seqs
        if self.pool is None:
            self.pool = self._start_pool()
        self._todo.extend(zip(bounds[:-1], bounds[1:], strict=True))
        self.submitted = bounds[-1]
        self._fill()

    def _start_pool(self):
        """The counting pool. Its workers run at a lower priority (they take the CPU the writer
        leaves instead of slowing it) and ignore Ctrl-C (the importing process stops them)."""
        # Millions of lookups ahead: one dict of the saved strings is cheaper than searches.
        self.index.terms.materialize()
        self.index.ids.materialize()
        method = "fork" if threading.active_count() == 1 else "spawn"  # never fork threads
        context = multiprocessing.get_context(method)
        return context.Pool(self.processes, initializer=quiet_worker, initargs=(COUNT_NICENESS,))

    def _fill(self) -> None:
        """Keep up to a segment's worth of ranges in the pool: results wait in memory until
        the writer collects them, between files."""
        most = max(2 * self.processes, seg_mod.SYNC_BATCH // POOL_CHUNK)
        while self._todo and len(self._flight) < most:
            lo, hi = self._todo.popleft()
            self._flight.append(self.pool.apply_async(_analyse_range, (str(self.db_path), lo, hi)))

    def _collect(self, wait: bool) -> None:
        """Take the pool's results in order (all of them when `wait`, else those ready), adding a
        segment per SYNC_BATCH papers."""
        while self._flight and (wait or self._flight[0].ready()):
            part = self._flight.popleft().get()
            self._fill()
            self._parts.append(part)
            self._size += len(part.paper_ids)
            if self._size >= seg_mod.SYNC_BATCH:
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
        self._close()  # an import that failed or was stopped midway: no worker outlives it

    def _close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
        self._flight.clear()
        self._todo.clear()

    def _add_in_process(self) -> None:
        """The papers changed after the pool's last range (few), counted here."""
        index = self.index
        rows = store_db.iter_for_index(self.db, index.covered_seq)
        while True:
            batch: list[tuple[str, Counted]] = []
            for paper_id, seq, title, abstract, links in rows:
                batch.append((paper_id, count_document(title, abstract, links)))
                if "(" in abstract or "(" in title:
                    index.acronyms.extend(definitions_in(f"{title}. {abstract}"))
                index.covered_seq = max(index.covered_seq, seq)
                if len(batch) >= seg_mod.SYNC_BATCH:
                    break
            if not batch:
                break
            index.add(batch)
            self.batches += 1
            if len(batch) < seg_mod.SYNC_BATCH:
                break


def _analyse_range(db_path: str, after: int, until: int) -> Analysed:
    """Count the documents of papers with after < seq <= until, reading them with a connection of
    its own (run in a worker process: tokenizing is most of the cost of indexing).

    The whole range is counted at once: term numbers in order of first occurrence (as `Index.add`
    numbers them) by C-level dict passes, (document, term) counts by numpy, instead of a Counter
    and a term map per paper."""
    conn = store_db.connect_read_only(db_path)
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
    return _counted(paper_ids, until, tokens, lengths, acronyms)


def _counted(
    paper_ids: list[str], until: int, tokens: list[str], lengths: list[int], acronyms: list[str]
) -> Analysed:
    """The documents' concatenated tokens as (document, term) counts, terms numbered locally."""
    terms = list(dict.fromkeys(tokens))
    vocab = dict(zip(terms, range(len(terms)), strict=True))
    tids = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    del vocab
    tokens.clear()  # the caller's list, freed before the counting's peak
    width = max(len(terms), 1)
    docs = np.repeat(np.arange(len(paper_ids), dtype=np.int64), lengths)
    keys, tfs = np.unique(docs * width + tids, return_counts=True)
    del docs, tids
    doc_of_key = keys // width
    return Analysed(
        paper_ids,
        until,  # a paper of the range changed since has a later seq: a later range counts it
        terms,
        (keys - doc_of_key * width).astype(np.int32),
        tfs.astype(np.int32),
        np.bincount(doc_of_key, minlength=len(paper_ids)).astype(np.int32),
        np.asarray(lengths, dtype=np.float64),
        acronyms,
    )
