"""Derived files beside the database (index, vectors), written temp-then-rename.

A reader never sees half a file: each write goes to a temporary name in the same folder and is
renamed over the old one, so a crash leaves the previous version or the new one.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

CHUNK_BYTES = 4 << 20  # read size when checksumming a file


def save_array(path: Path, array: np.ndarray) -> None:
    """np.save, atomically."""
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, np.asarray(array))
    os.replace(tmp, path)


def write_tail(path: Path, head: bytes, tail: bytes, append: bool) -> int:
    """Make `path` hold `head` then `tail`. With `append` (the file is known to start with
    `head`), it is cut to `head` and `tail` written after it in place; else the whole is written
    anew, atomically. Returns the valid length: bytes past it, from an interrupted append, are
    ignored by readers and cut by the next append."""
    if append and path.exists():
        with open(path, "r+b") as fh:
            fh.truncate(len(head))
            fh.seek(len(head))
            fh.write(tail)
    else:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(head + tail)
        os.replace(tmp, path)
    return len(head) + len(tail)


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes of `path`; ValueError if it is shorter (not what its meta says)."""
    with open(path, "rb") as fh:
        data = fh.read(size)
    if len(data) != size:
        raise ValueError(f"{path.name} is shorter than its index says")
    return data


def write_text(path: Path, text: str) -> None:
    """Path.write_text, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextmanager
def folder_lock(folder: Path, exclusive: bool) -> Iterator[None]:
    """An advisory lock on a derived folder (flock on `<folder>/.lock`): one process saves at a time
    and none loads mid-save, as the bot and a `paperbot import` may both keep the same index.
    Where it cannot be taken (a read-only folder, no flock), the files' own checks still hold."""
    try:
        import fcntl

        handle = open(folder / ".lock", "a+b")  # noqa: SIM115 (held across the yield)
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def file_crc(path: Path, size: int | None = None) -> int:
    """crc32 of the first `size` bytes of `path` (all of it when None), read in chunks through
    the page cache (never memory-mapped: checking a file must not grow the process). ValueError
    if the file is shorter than `size`."""
    crc, left = 0, size
    with open(path, "rb") as fh:
        while left is None or left > 0:
            chunk = fh.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            if left is not None:
                left -= len(chunk)
    if left:
        raise ValueError(f"{path.name} is shorter than its index says")
    return crc


def remove_unnamed(folder: Path, keep: set[str]) -> None:
    """Delete the files of `folder` not in `keep` (the lock file always stays): what a save that
    did not reach its commit point, or an older state, left behind."""
    for path in folder.iterdir():
        if path.name not in keep and path.name != ".lock" and path.is_file():
            path.unlink(missing_ok=True)
