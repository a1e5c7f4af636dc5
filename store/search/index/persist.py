"""The index folder (`<db>.index/`) and its commit protocol.

Every save writes files of its own (a stamp in their names) and then `meta.json`, the commit
point, which names them, says how much of each text file is valid and records each file's crc32:
whatever a crash or a full disk interrupts, meta.json and the files it names belong together, and a
failed save removes what it wrote. The text files (ids, terms, acronyms) are appended to only while
meta.json is still this process's last save: once another process (the bot, a `paperbot import`)
has saved its own view, they are written anew. Format 6; folders saved before checksums were
recorded load as they are (and get them at their next save).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from store.files import (
    file_crc,
    folder_lock,
    read_head,
    remove_unnamed,
    save_array,
    write_tail,
    write_text,
)
from store.search.index import check
from store.search.index.bm25 import TITLE_WEIGHT
from store.search.index.check import read_meta
from store.search.index.segment import PARTS, Segment
from store.search.index.strtable import StringTable
from store.text import TOKENIZER_VERSION

if TYPE_CHECKING:
    from store.search.index.shape import IndexState as Index

log = logging.getLogger(__name__)

INDEX_FORMAT = 6  # 3: acronyms kept; 5: no impact-ordered lists; 6: meta.json names the files
ARRAYS = ("df", "doc_len", "alive", "ids-keys", "terms-keys")  # rewritten by every save
TEXTS = ("ids", "terms", "acronyms")  # appended to


def index_dir(db_path: Path | str) -> Path:
    """Where the index of a database lives: beside it."""
    return Path(str(db_path) + ".index")


def segment_file(name: str, part: str) -> str:
    """The file of one part of a saved segment."""
    return f"seg-{name}-{part}.npy"


def save(index: Index, folder: Path) -> None:
    """Write new segments, the small arrays, the ids and terms, then meta.json, holding the
    folder's lock. On any failure (a full disk) the files this save wrote are removed and the
    error raised: the folder is left as its last committed save."""
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder, exclusive=True):
        try:
            _save(index, folder)
        except BaseException:
            with contextlib.suppress(OSError):
                meta = read_meta(folder)
                remove_unnamed(folder, named_files(meta) if meta else set())
            raise


def _save(index: Index, folder: Path) -> None:
    on_disk = read_meta(folder)
    ours = index.saved if index.saved and index.saved.get("folder") == str(folder) else None
    if not on_disk or not ours or on_disk.get("stamp") != ours["stamp"]:
        ours = None
    stamp = uuid.uuid4().hex[:12]
    files = {name: f"{name}-{stamp}.npy" for name in ARRAYS}
    for name in TEXTS:
        files[name] = on_disk["files"][name] if ours else f"{name}-{stamp}.txt"
    checksums = _save_segments(index.segments, folder)
    for name in ("df", "doc_len", "alive"):
        save_array(folder / files[name], getattr(index, name))
    held = (ours["ids"], ours["terms"]) if ours else (None, None)
    valid = {
        "ids": index.ids.save(folder / files["ids"], folder / files["ids-keys"], held[0]),
        "terms": index.terms.save(folder / files["terms"], folder / files["terms-keys"], held[1]),
        "acronyms": _append_lines(folder / files["acronyms"], ours, "acronyms", index.acronyms),
    }
    for name, file in files.items():
        checksums[file] = _checksum(folder / file, valid.get(name))
    meta = {
        "format": INDEX_FORMAT,
        "tokenizer": TOKENIZER_VERSION,
        "title_weight": TITLE_WEIGHT,
        "stamp": stamp,
        "files": files,
        "covered_seq": index.covered_seq,
        "db_uuid": index.db_uuid,
        "docs": len(index.ids),
        "terms": len(index.terms),
        "ids_bytes": valid["ids"],
        "terms_bytes": valid["terms"],
        "acronyms": len(index.acronyms),
        "acronyms_bytes": valid["acronyms"],
        "segments": [
            {"name": s.name, "lo": s.lo, "hi": s.hi, "avgdl": s.avgdl} for s in index.segments
        ],
        "checksums": checksums,
    }
    meta["check"] = check.meta_crc(meta)
    write_text(folder / "meta.json", json.dumps(meta))
    index.saved = saved_state(folder, meta)
    remove_unnamed(folder, named_files(meta))


def _save_segments(segments: list[Segment], folder: Path) -> dict[str, list[int]]:
    """Write the segments not saved yet, or whose files another process's save removed; returns
    every segment file's [crc32, size]."""
    out: dict[str, list[int]] = {}
    for seg in segments:
        paths = {part: folder / segment_file(seg.name, part) for part in PARTS}
        if not seg.name or not all(p.exists() for p in paths.values()):
            seg.name = seg.name or uuid.uuid4().hex[:12]
            seg.checks = {}
            for part in PARTS:
                path = folder / segment_file(seg.name, part)
                save_array(path, getattr(seg, part))
                seg.checks[part] = _checksum(path, None)
        elif seg.checks is None:  # loaded from a folder saved before checksums
            seg.checks = {part: _checksum(path, None) for part, path in paths.items()}
        out.update({segment_file(seg.name, p): seg.checks[p] for p in PARTS})
    return out


def _checksum(path: Path, size: int | None) -> list[int]:
    """[crc32, size] of a file's first `size` bytes (all of it when None)."""
    size = path.stat().st_size if size is None else size
    return [file_crc(path, size), size]


def named_files(meta: dict) -> set[str]:
    """Every file a meta.json names, itself included."""
    names = {segment_file(s["name"], p) for s in meta.get("segments", ()) for p in PARTS}
    return names | set(meta.get("files", {}).values()) | {"meta.json"}


def saved_state(folder: Path, meta: dict) -> dict:
    """What a folder's meta.json says its text files hold, for the next save's appends."""
    return {
        "folder": str(folder),
        "stamp": meta["stamp"],
        "ids": (meta["docs"], meta["ids_bytes"]),
        "terms": (meta["terms"], meta["terms_bytes"]),
        "acronyms": (meta["acronyms"], meta["acronyms_bytes"]),
    }


def load(cls: type[Index], folder: Path, check_now: bool | None) -> Index | None:
    """A saved index, memory-mapped; None when absent, stale in format, or damaged (logged)."""
    if not folder.is_dir():
        return None
    with folder_lock(folder, exclusive=False):
        meta = read_meta(folder)
        if meta is None or not _current(meta):
            return None
        try:
            index = _read(cls, folder, meta)
            problem = check.structure(index, meta)
            index.verified = problem is None and check.worth_checking_now(index, check_now)
            if index.verified:
                problem = check.checksums(folder, meta) or check.postings(index)
        except Exception as exc:  # numpy reading a damaged header raises TokenError, SyntaxError...
            problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        log.warning("index folder %s is damaged (%s): rebuilding it", folder, problem)
        return None
    index.saved = saved_state(folder, meta)
    return index


def _current(meta: dict) -> bool:
    """Saved by this format, tokenizer and title weight (else rebuilt, silently: an upgrade)."""
    return (meta.get("format"), meta.get("tokenizer"), meta.get("title_weight")) == (
        INDEX_FORMAT,
        TOKENIZER_VERSION,
        TITLE_WEIGHT,
    )


def _read(cls: type[Index], folder: Path, meta: dict) -> Index:
    """The index the folder's files hold (mapped), before any check."""
    index = cls()
    files = {name: folder / meta["files"][name] for name in (*ARRAYS, *TEXTS)}
    index.terms = StringTable.load(
        files["terms"], files["terms-keys"], meta["terms"], meta["terms_bytes"]
    )
    index.ids = StringTable.load(files["ids"], files["ids-keys"], meta["docs"], meta["ids_bytes"])
    index.acronyms = _read_lines(files["acronyms"], meta["acronyms_bytes"])
    index.df = np.array(np.load(files["df"]))
    index.doc_len = np.load(files["doc_len"])
    index.alive = np.array(np.load(files["alive"]))
    checks = meta.get("checksums")
    for s in meta["segments"]:
        # Plain arrays over the mapping: np.memmap's Python-level indexing costs µs a call.
        parts = [_load_array(folder / segment_file(s["name"], p)) for p in PARTS]
        seg = Segment(*parts, lo=s["lo"], hi=s["hi"], avgdl=s["avgdl"], name=s["name"])
        if checks is not None:
            seg.checks = {p: checks[segment_file(s["name"], p)] for p in PARTS}
        index.segments.append(seg)
    index.covered_seq = meta["covered_seq"]
    index.db_uuid = meta.get("db_uuid", "")
    index.count_live()
    return index


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
