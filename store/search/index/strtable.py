"""Numbered strings (the index's terms and paper ids) that load in milliseconds at any size.

A dict of the 1.4M terms and 1M ids of a million-paper index took ~1 s to build on every start of
the bot or of a `paperbot import`, and ~250 MB to hold. A table keeps its saved strings as the bytes
of their file, one per line, with a sorted array of (crc32 of the line, number) saved beside it: a
lookup is a binary search and a bytes comparison (~4 µs), and nothing is built at load. Strings
added since the load live in a dict; a bulk load, which looks up millions of strings, builds the
full dict once (`materialize`).

Numbers are positions: string i is the i-th added. A string may be added again (a re-added paper
gets a new number); lookups return its last number.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from store.files import read_head, save_array, write_tail

FOUND_MAX = 100_000  # lookups remembered
_UNKNOWN: Any = object()
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


def line_of(text: str) -> bytes:
    """A string's line in the file: itself, or JSON when it could be mistaken (newline, quote)."""
    if "\n" in text or "\r" in text or text[:1] == '"':
        text = json.dumps(text)
    return text.encode("utf-8")


def _text_of(line: bytes) -> str:
    text = line.decode("utf-8")
    return json.loads(text) if text[:1] == '"' else text


def _keys(lines: list[bytes], first: int) -> np.ndarray:
    """(crc32 << 32 | number) of lines numbered from `first`, unsorted."""
    hashes = np.fromiter(map(zlib.crc32, lines), dtype=np.uint64, count=len(lines))
    return (hashes << _SHIFT) | np.arange(first, first + len(lines), dtype=np.uint64)


class StringTable:
    """Strings numbered in order of addition, found by value without a dict of the saved ones."""

    def __init__(self) -> None:
        self._data = b""  # the saved lines, utf-8, each ending in "\n"
        self._starts = np.zeros(1, dtype=np.int64)  # line i is _data[_starts[i] : _starts[i+1]-1]
        self._keys = np.zeros(0, dtype=np.uint64)  # (crc32 << 32 | number) of saved lines, sorted
        self._new: list[str] = []  # strings numbered len(saved) + i, not saved yet
        self._latest: dict[str, int] = {}  # last number of each new string (of all: materialized)
        self._full = False
        self._found: dict[str, int | None] = {}  # recent lookups in the saved part (`get`)

    # ------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._starts) - 1 + len(self._new)

    def _saved(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, number: int) -> str:
        if number < 0:
            number += len(self)
        if not 0 <= number < len(self):
            raise IndexError(f"no string number {number}")
        saved = self._saved()
        if number < saved:
            return _text_of(self._data[self._starts[number] : self._starts[number + 1] - 1])
        return self._new[number - saved]

    def __iter__(self) -> Iterator[str]:
        if self._data:
            yield from map(_text_of, self._data.split(b"\n")[:-1])
        yield from self._new

    def get(self, text: str, default: int | None = None) -> int | None:
        """The last number of `text`, or `default`."""
        number = self._latest.get(text)
        if number is None and not self._full and self._saved():
            # A question looks its words up several times (weights, idf, snippets): remember.
            # A save replaces the memo (a string missing before may be saved now): an answer
            # found before that is not put into the new one.
            found = self._found
            number = found.get(text, _UNKNOWN)
            if number is _UNKNOWN:
                line = line_of(text)
                number = self._find(line, zlib.crc32(line))
                if found is self._found:
                    if len(found) >= FOUND_MAX:
                        self._found = {}  # full: the next lookups start a new memo
                    else:
                        found[text] = number
        return default if number is None else number

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.get(text) is not None

    def get_many(self, texts: list[str]) -> list[int | None]:
        """`get` of each, hashing and searching the saved part in bulk."""
        out = list(map(self._latest.get, texts))
        if self._full or not self._saved() or None not in out:
            return out
        missing = [i for i, n in enumerate(out) if n is None]
        lines = [line_of(texts[i]) for i in missing]
        hashes = np.fromiter(map(zlib.crc32, lines), dtype=np.uint64, count=len(lines))
        lo = np.searchsorted(self._keys, hashes << _SHIFT)
        hi = np.searchsorted(self._keys, (hashes << _SHIFT) | _LOW, side="right")
        for j in np.flatnonzero(hi > lo).tolist():
            out[missing[j]] = self._match(lines[j], int(lo[j]), int(hi[j]))
        return out

    def _find(self, line: bytes, crc: int) -> int | None:
        key = np.uint64(crc) << _SHIFT
        lo = int(self._keys.searchsorted(key))
        hi = int(self._keys.searchsorted(key | _LOW, side="right"))
        return self._match(line, lo, hi) if hi > lo else None

    def _match(self, line: bytes, lo: int, hi: int) -> int | None:
        """The highest number among keys[lo:hi] (same hash) whose line is `line`."""
        data, starts = self._data, self._starts
        for key in self._keys[lo:hi][::-1].tolist():
            number = key & 0xFFFFFFFF
            if data[starts[number] : starts[number + 1] - 1] == line:
                return number
        return None

    def items(self) -> Iterator[tuple[str, int]]:
        """(string, last number) of each distinct string."""
        return iter(dict(zip(self, range(len(self)), strict=True)).items())

    # ------------------------------------------------------------ changes

    def add(self, text: str) -> int:
        """Number `text` (again, if it has a number already: the new one wins)."""
        number = len(self)
        self._new.append(text)
        self._latest[text] = number
        return number

    def number(self, text: str) -> int:
        """`text`'s number, adding it if it has none."""
        found = self.get(text)
        return self.add(text) if found is None else found

    def materialize(self) -> None:
        """Hold every string in a dict: for bulk loads, where lookups outnumber the saved strings."""
        if not self._full:
            latest = dict(zip(self, range(len(self)), strict=True))
            self._latest, self._full = latest, True

    def dematerialize(self) -> None:
        """Drop the dict of saved strings again (after a bulk load: the bot keeps running)."""
        if self._full:
            first = self._saved()
            self._latest = {text: first + i for i, text in enumerate(self._new)}
            self._full, self._found = False, {}

    # ------------------------------------------------------------ files

    def save(self, text_path: Path, keys_path: Path, held: tuple[int, int] | None) -> int:
        """Write the table: lines appended to `text_path` when it holds `held` = (count, bytes)
        of ours (else rewritten), and the sorted keys. Returns the file's valid byte length
        (bytes past it, from an interrupted save, are ignored on load and cut by the next one)."""
        saved = self._saved()
        new_lines = [line_of(t) for t in self._new]
        data = b"".join(line + b"\n" for line in new_lines)
        write_tail(text_path, self._data, data, append=held == (saved, len(self._data)))
        if new_lines:
            keys = np.concatenate([self._keys, _keys(new_lines, saved)])
            keys.sort()
            lengths = np.fromiter(map(len, new_lines), dtype=np.int64, count=len(new_lines)) + 1
            starts = len(self._data) + np.cumsum(lengths)
            self._starts = np.concatenate([self._starts, starts])
            self._data += data
            self._keys = keys
            self._new = []
            self._found = {}  # a string not found before may be among the saved ones now
            if not self._full:
                self._latest = {}
        save_array(keys_path, self._keys)
        return len(self._data)

    @classmethod
    def load(cls, text_path: Path, keys_path: Path, count: int, size: int) -> StringTable:
        """The table saved with `count` strings in `size` bytes; ValueError if the files disagree.
        A keys file that is missing or stale is rebuilt from the lines."""
        data = read_head(text_path, size)
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        if len(ends) != count or (size and ends[-1] != size - 1):
            raise ValueError(f"{text_path.name} does not hold {count} lines")
        table = cls()
        table._data = data
        table._starts = np.concatenate([[0], ends + 1]).astype(np.int64)
        try:
            keys = np.load(keys_path, mmap_mode="r").view(np.ndarray) if count else table._keys
        except (OSError, ValueError, EOFError):
            keys = None
        if keys is None or len(keys) != count or keys.dtype != np.uint64:
            keys = np.sort(_keys(data.split(b"\n")[:-1], 0))
        table._keys = keys
        return table
