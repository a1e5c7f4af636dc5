"""The index checks itself: a damaged folder must never crash a question or answer wrongly for long.

At load, cheap structural checks (lengths agree with meta.json and with each other, segments tile
the document numbers, offsets frame their postings, meta.json's own crc). Then each file's crc32
as meta.json recorded it, and the postings' document numbers within their segment: at load when
the folder is small enough for that to be cheap, else in a background thread after start (a
mismatch marks the index damaged; its next search rebuilds it). Meanwhile the compiled scan checks
every document number it writes, and numpy raises on the others: a failed search rebuilds too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from store.files import file_crc, folder_lock
from store.search.index.segment import PARTS

if TYPE_CHECKING:
    from store.search.index.shape import IndexState as Index

log = logging.getLogger(__name__)

CHECK_NOW_BYTES = 16 << 20  # folders up to this size are fully verified at load (~30 ms)
_TF_TYPES = (np.uint8, np.uint16)


def meta_crc(meta: dict) -> int:
    """crc32 of meta.json's content without its own "check" field (sorted keys)."""
    rest = {k: v for k, v in meta.items() if k != "check"}
    return zlib.crc32(json.dumps(rest, sort_keys=True).encode())


def worth_checking_now(index: Index, check_now: bool | None) -> bool:
    """Verify every file at load: when asked, or (None) when the postings are small enough."""
    if check_now is not None:
        return check_now
    arrays = [getattr(seg, part) for seg in index.segments for part in PARTS]
    return sum(a.nbytes for a in arrays) <= CHECK_NOW_BYTES


def structure(index: Index, meta: dict) -> str | None:
    """What is inconsistent in a loaded index (None: nothing), reading no postings."""
    if "check" in meta and meta["check"] != meta_crc(meta):
        return "meta.json does not match its own checksum"
    n_docs, n_terms = len(index.ids), len(index.terms)
    if not (n_docs == len(index.doc_len) == len(index.alive) == meta["docs"]):
        return "document counts disagree"
    if not (n_terms == len(index.df) == meta["terms"]):
        return "term counts disagree"
    if len(index.acronyms) != meta["acronyms"]:
        return "acronym count disagrees"
    if index.df.dtype != np.int64 or index.alive.dtype != bool or index.doc_len.dtype != np.float64:
        return "statistics of the wrong type"
    if n_terms and int(index.df.min()) < 0:
        return "negative document frequency"
    if n_docs and not (np.isfinite(index.doc_len).all() and index.doc_len.min() >= 0):
        return "document lengths out of range"
    return _segments(index, n_docs, n_terms)


def _segments(index: Index, n_docs: int, n_terms: int) -> str | None:
    """Segments tile 0..n_docs-1 in order, and each one's arrays agree in type and length."""
    start = 0
    for seg in index.segments:
        if seg.lo != start or seg.hi <= seg.lo or not np.isfinite(seg.avgdl) or seg.avgdl <= 0:
            return f"segment {seg.name} does not follow the previous one"
        start = seg.hi
        terms = len(seg.offsets) - 1
        if seg.offsets.dtype != np.int64 or not 0 <= terms <= n_terms or len(seg.maxc) != terms:
            return f"segment {seg.name}: offsets or bounds of the wrong shape"
        if seg.docs.dtype != np.int32 or seg.tfs.dtype not in _TF_TYPES:
            return f"segment {seg.name}: postings of the wrong type"
        if seg.maxc.dtype != np.float64 or len(seg.docs) != len(seg.tfs):
            return f"segment {seg.name}: arrays of the wrong type or length"
        if seg.offsets[0] != 0 or seg.offsets[-1] != len(seg.docs):
            return f"segment {seg.name}: offsets do not frame its postings"
    if start != n_docs:
        return "segments do not cover the documents"
    return None


def postings(index: Index) -> str | None:
    """Offsets ascending and document numbers inside their segment (reads every posting)."""
    for seg in index.segments:
        if len(seg.offsets) > 1 and (np.diff(seg.offsets) < 0).any():
            return f"segment {seg.name}: offsets not ascending"
        if len(seg.docs) and (int(seg.docs.min()) < seg.lo or int(seg.docs.max()) >= seg.hi):
            return f"segment {seg.name}: document numbers out of range"
    return None


def checksums(folder: Path, meta: dict) -> str | None:
    """The first file whose crc32 differs from meta.json's record (None: all agree, or a folder
    saved before checksums were recorded)."""
    for name, (crc, size) in (meta.get("checksums") or {}).items():
        try:
            if file_crc(folder / name, size) != crc:
                return f"{name} is not as saved"
        except (OSError, ValueError) as exc:
            return f"{name}: {exc}"
    return None


def verify_in_background(index: Index, folder: Path) -> threading.Thread:
    """Check the files of a loaded index in a daemon thread at the lowest priority (reads, never
    maps: the process does not grow; holds no lock: a save never waits for it). A mismatch counts
    only if the folder still holds the state the index loaded (else a save replaced its files); it
    marks the index damaged, and its next search rebuilds it."""

    def run() -> None:
        with contextlib.suppress(OSError, AttributeError):  # a thread's own priority: Linux
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        meta = _meta_of(index, folder)
        problem = checksums(folder, meta) if meta is not None else None
        if problem is not None and _meta_of(index, folder) is not None:
            log.warning("index folder %s is damaged (%s): rebuilding it", folder, problem)
            index.damage = problem

    thread = threading.Thread(target=run, name="paperbot-index-check", daemon=True)
    thread.start()
    return thread


def _meta_of(index: Index, folder: Path) -> dict | None:
    """The folder's meta.json if it still describes the state this index loaded (else another
    save replaced those files: the index keeps its own mapped copies, nothing to check)."""
    with folder_lock(folder, exclusive=False):
        meta = read_meta(folder)
    if meta is None or not index.saved or meta.get("stamp") != index.saved["stamp"]:
        return None
    return meta


def read_meta(folder: Path) -> dict | None:
    """The folder's meta.json, or None when missing or unreadable."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
