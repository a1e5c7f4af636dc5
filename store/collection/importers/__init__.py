"""Importers turn a file's text into paper records; the format is recognised from the content.

Each parser is pure (`parse(text) -> list[dict]`) and raises `FormatError` with a one-line reason,
so a broken file is refused whole before anything is written.
"""

from __future__ import annotations

import atexit
import io
import itertools
import json
import multiprocessing
import os
import stat
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from store.collection.importers import arxiv_atom, bibtex, csl_json, hf_daily, jsonl, listing, ris
from store.collection.importers.common import FormatError, Record
from store.procs import quiet_worker

__all__ = [
    "FormatError",
    "Record",
    "detect_format",
    "iter_file",
    "parse_text",
    "read_file",
    "MAX_BYTES",
]

MAX_BYTES = 64 * 1024 * 1024  # refuse absurd files before parsing them into memory


def detect_format(text: str) -> str:
    """Name the format of `text`: "hf", "jsonl", "atom", "csl", "ris", "bibtex" or "listing";
    FormatError if none fits."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if not head:
        raise FormatError("empty file")
    if head == "<":
        return "atom"
    if head in "[{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if head == "{" and "\n{" in text.strip():
                return "jsonl"
            raise FormatError(f"broken JSON at line {exc.lineno}: {exc.msg}") from None
        except RecursionError:
            raise FormatError("JSON nested too deeply") from None
        if isinstance(data, dict) and "abstract" in data:
            return "jsonl"  # one exported paper
        if csl_json.looks_like_csl(data):
            return "csl"
        return "hf"
    if ris.looks_like_ris(text):
        return "ris"
    if bibtex.looks_like_bibtex(text):
        return "bibtex"
    if listing.looks_like_listing(text):
        return "listing"
    raise FormatError(
        "unknown format (expected a paper listing, HF daily-papers JSON, arXiv Atom, JSON Lines, "
        "BibTeX, CSL JSON or RIS)"
    )


PARSERS = {
    "hf": hf_daily.parse,
    "jsonl": jsonl.parse,
    "atom": arxiv_atom.parse,
    "listing": listing.parse,
    "csl": csl_json.parse,
    "ris": ris.parse,
    "bibtex": bibtex.parse,
}


def parse_text(text: str, source: str | None = None) -> list[Record]:
    """Parse any supported format; `source` overrides the record's source label."""
    fmt = detect_format(text)
    records = PARSERS[fmt](text)
    if source:
        for record in records:
            record["source"] = source
    return records


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: str | Path):
    """The file opened for reading in binary, if it is a regular file (after symlinks); else a
    one-line FormatError. Opened without blocking, so a FIFO with no writer is refused at once
    rather than waited on; /dev/zero or /dev/urandom (even through a symlink) is never read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise FormatError(f"not a regular file ({kind})")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_file(path: str | Path) -> str:
    """Read a file as UTF-8 text, refusing huge, binary or non-regular files with a clear reason."""
    with open_regular(path) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            if size <= MAX_BYTES:
                data = handle.read(MAX_BYTES + 1)  # bounded even if the file grows meanwhile
            if size > MAX_BYTES or len(data) > MAX_BYTES:
                size = max(size, MAX_BYTES + 1)
                raise FormatError(
                    f"file is {size // (1024 * 1024)} MB, over the {MAX_BYTES // (1024 * 1024)} MB limit"
                )
        except OSError as exc:
            raise FormatError(f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # a byte order mark (Windows editors) is not text
    except UnicodeDecodeError:
        raise FormatError("not UTF-8 text") from None


def iter_file(path: str | Path) -> Iterator[Record]:
    """Records of a file of any format; JSON Lines stream (any size), others are read whole (bounded).

    Errors surface as FormatError while iterating, so a caller that writes inside one transaction
    rolls the whole file back.
    """
    path = Path(path)
    try:
        with open_regular(path) as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}") from None
    if len(head) < 65536 and not head.removeprefix(b"\xef\xbb\xbf").strip():
        raise FormatError("empty file")  # (or only white space), not "broken JSON"
    first_line = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    if first_line.startswith(b"{") and first_line.endswith(b"}") and b"\n{" in head.strip():
        return _stream_jsonl(path)
    return iter(parse_text(read_file(path)))


POOL_BYTES = 16 * 1024 * 1024  # JSON Lines files this big are parsed by a pool of processes
POOL_LINES = 2_000  # lines per task of that pool


def _stream_jsonl(path: Path) -> Iterator[Record]:
    try:
        with open_regular(path) as binary, io.TextIOWrapper(binary, encoding="utf-8-sig") as handle:
            processes = min(os.cpu_count() or 1, 4)
            if processes > 1 and path.stat().st_size >= POOL_BYTES:
                yield from _parsed_in_pool(handle, processes)
            else:
                yield from jsonl.iter_records(handle)
    except UnicodeDecodeError:
        raise FormatError("not UTF-8 text") from None


def _parse_lines(first_no: int, lines: list[str]) -> list[Record]:
    """`jsonl.iter_records` of lines numbered from `first_no` (a task of the pool)."""
    return list(jsonl.iter_records(lines, first_no))


_POOL: list = []  # the parse pool, created on first use and kept for the process's later files
_POOL_LOCK = threading.Lock()


def _parse_pool(processes: int):
    """One pool for every big file this process reads: `paperbot import` of forty files starts
    its workers once (a pool started after the index's pool must spawn: slow to start)."""
    with _POOL_LOCK:
        if not _POOL:
            method = "fork" if threading.active_count() == 1 else "spawn"  # never fork threads
            pool = multiprocessing.get_context(method).Pool(processes, initializer=quiet_worker)
            atexit.register(pool.terminate)  # before the interpreter tears its modules down
            _POOL.append(pool)
        return _POOL[0]


def _parsed_in_pool(lines: Iterator[str], processes: int) -> Iterator[Record]:
    """`jsonl.iter_records(lines)` with the parsing (json, cleaning, links) done by a pool of
    processes: records in order, the first bad line's error raised after the records before it,
    a few chunks in flight so memory stays bounded."""
    pool = _parse_pool(processes)
    flight: deque = deque()
    no = 1
    while True:
        chunk = list(itertools.islice(lines, POOL_LINES))
        if chunk:
            flight.append(pool.apply_async(_parse_lines, (no, chunk)))
            no += len(chunk)
        if flight and (not chunk or len(flight) > 2 * processes):
            yield from flight.popleft().get()
        elif not chunk:
            return
