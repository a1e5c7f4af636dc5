"""The vectors folder on disk (`<db>.vectors/`): generations committed by one rename.

A generation is `meta.json` (the manifest, written to a temporary name, synced and renamed over
the old one: the commit point) naming one *base* of four append-only files:

    <base>.paper.f16    float16 rows, one per saved paper row (dim wide)
    <base>.windows.f16  float16 rows, the papers' windows one after another
    <base>.ends.i64     int64, where each paper row's windows end in the windows file
    <base>.ids.txt      "paper id<TAB>text key<TAB>change number" lines, one per paper row

The manifest says how much of each file belongs to it, as segments (one per save, each with the
crc32 of what it added), and which papers were forgotten (removed) at which row. A save appends
the rows embedded since the last one as a new segment (seconds at 100k papers are not spent
rewriting what did not change); bytes past the manifest's lengths (an append that was killed or
met a full disk) are ignored by readers and cut by the next save. So the previous generation stays
whole until the new manifest is renamed in, and a crash or a full disk at any instant leaves the
last good state loadable. A save that compacts (many dead rows) writes a new base; the old base's
files are deleted only after the new manifest is in.

Two writers (the bot and a `paperbot embed`, or a folder copied in) take the folder's lock to
save; each generation has a random token, so a writer notices a generation it did not make and
merges it instead of overwriting it (`store.semantic.vectors.Vectors.save`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = 4
KINDS = ("paper", "windows", "ends", "ids")
SUFFIX = {"paper": ".paper.f16", "windows": ".windows.f16", "ends": ".ends.i64", "ids": ".ids.txt"}
CHUNK_BYTES = 4 << 20
NO_ROOM = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@dataclass
class Manifest:
    """What one generation holds (meta.json)."""

    model: str
    dim: int
    covered_seq: int = 0
    db_uuid: str = ""
    base: str = ""
    token: str = ""
    generation: int = 0
    papers: int = 0  # live papers (for `paperbot stats`, without loading)
    windows: int = 0
    segments: list[dict] = field(default_factory=list)  # cumulative sizes and each one's crc32
    forgotten: dict[str, int] = field(default_factory=dict)  # paper -> rows when it was removed

    @property
    def rows(self) -> int:
        return self.segments[-1]["rows"] if self.segments else 0

    def size(self, kind: str) -> int:
        """Bytes of the file of `kind` that belong to this generation."""
        return self.segments[-1]["bytes"][kind] if self.segments else 0

    def to_json(self) -> str:
        body = {"format": FORMAT, **self.__dict__}
        return json.dumps(body)


def read_manifest(folder: Path) -> dict | None:
    """meta.json as a dict (any format), None when absent or not JSON."""
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def manifest_of(raw: dict) -> Manifest:
    """A format-4 manifest from its JSON (KeyError/TypeError when it is not one)."""
    fields = {k: raw[k] for k in Manifest.__dataclass_fields__}
    return Manifest(**fields)


def stamp(folder: Path) -> tuple[int, int, int] | None:
    """meta.json's identity (inode, mtime, size): cheap to compare, to notice a new generation."""
    try:
        st = os.stat(folder / "meta.json")
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def path_of(folder: Path, base: str, kind: str) -> Path:
    return folder / f"{base}{SUFFIX[kind]}"


def files_of(folder: Path) -> dict[str, Path]:
    """The current generation's files by kind, and its manifest ("meta")."""
    man = manifest_of(read_manifest(folder) or {})
    return {**{k: path_of(folder, man.base, k) for k in KINDS}, "meta": folder / "meta.json"}


def new_base() -> str:
    return "v" + secrets.token_hex(6)


def verify(folder: Path, man: Manifest) -> bool:
    """Every segment's bytes match their crc32 (a disk fault or a stray write: embed again)."""
    for kind in KINDS:
        path, at = path_of(folder, man.base, kind), 0
        try:
            with open(path, "rb") as fh:
                for seg in man.segments:
                    end = seg["bytes"][kind]
                    if _crc(fh, end - at) != seg["crc32"][kind]:
                        return False
                    at = end
        except (OSError, ValueError):
            return False
    return True


def _crc(fh, size: int) -> int:
    crc, left = 0, size
    while left > 0:
        chunk = fh.read(min(CHUNK_BYTES, left))
        if not chunk:
            raise ValueError("shorter than its manifest says")
        crc = zlib.crc32(chunk, crc)
        left -= len(chunk)
    return crc


def read_arrays(folder: Path, man: Manifest):
    """(paper float32, windows float16 memory-mapped, starts int64, ids, keys, seqs) of a
    generation."""
    rows, dim = man.rows, man.dim
    paper = np.fromfile(path_of(folder, man.base, "paper"), np.float16, rows * dim)
    paper = paper.reshape(rows, dim).astype(np.float32)
    if man.windows:
        shape = (man.windows, dim)
        windows = np.memmap(path_of(folder, man.base, "windows"), np.float16, "r", shape=shape)
    else:
        windows = np.zeros((0, dim), dtype=np.float16)
    ends = np.fromfile(path_of(folder, man.base, "ends"), np.int64, rows)
    starts = np.concatenate([np.zeros(1, np.int64), ends])
    with open(path_of(folder, man.base, "ids"), "rb") as fh:
        text = fh.read(man.size("ids")).decode()
    lines = [line.split("\t") for line in text.split("\n") if line]
    ids = [line[0] for line in lines]
    keys = [line[1] if len(line) > 1 else "" for line in lines]
    seqs = [int(line[2]) if len(line) > 2 else 0 for line in lines]
    return paper, windows, starts, ids, keys, seqs


def write_generation(
    folder: Path, man: Manifest, parts: dict[str, bytes], rows: int, append: bool
) -> Manifest:
    """Commit `man` (its covered_seq, papers, windows, forgotten as they are to be) with `parts`
    (bytes per kind, `rows` paper rows) as its new last segment: appended after its segments'
    lengths (`append`: its base is on disk) or as its base's only one. Returns the manifest now
    on disk. On an OSError what was written is undone and the previous generation is as it was."""
    if not append:
        man.segments = []
    written: list[tuple[Path, int]] = []
    seg: dict = {"rows": man.rows + rows, "bytes": {}, "crc32": {}}
    try:
        for kind in KINDS:
            path, at = path_of(folder, man.base, kind), man.size(kind)
            written.append((path, at))
            _put(path, at, parts[kind])
            seg["bytes"][kind] = at + len(parts[kind])
            seg["crc32"][kind] = zlib.crc32(parts[kind])
        new = Manifest(**{**man.__dict__, "segments": [*man.segments, seg]})
        new.token, new.generation = secrets.token_hex(8), man.generation + 1
        _commit(folder, new)
    except OSError:
        for path, at in written:
            if append:
                _cut(path, at)
            else:
                path.unlink(missing_ok=True)
        (folder / "meta.json.tmp").unlink(missing_ok=True)
        raise
    keep = {"meta.json", ".lock", *(path_of(folder, new.base, k).name for k in KINDS)}
    for path in folder.iterdir():  # an older base, a killed save's leftovers
        if path.name not in keep and path.is_file():
            path.unlink(missing_ok=True)
    return new


def _put(path: Path, at: int, data: bytes) -> None:
    """Write `data` at byte `at` of `path` (cut there first: bytes past it are a killed save's)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, at)
        os.lseek(fd, at, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    hook("wrote " + path.name.split(".", 1)[1])


def _cut(path: Path, size: int) -> None:
    with contextlib.suppress(OSError):  # else ignored by readers, cut by the next save
        os.truncate(path, size)


def _commit(folder: Path, man: Manifest) -> None:
    tmp = folder / "meta.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, man.to_json().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    hook("wrote meta.json.tmp")
    os.replace(tmp, folder / "meta.json")
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    hook("renamed meta.json")


def hook(step: str) -> None:
    """Tests stop a save between its steps: PAPERBOT_TEST_VECTORS_STOP=<step> kills the process
    there (SIGKILL, as a crash or an OOM kill would)."""
    if os.environ.get("PAPERBOT_TEST_VECTORS_STOP") == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def why_not_writable(folder: Path) -> str | None:
    """Why vectors cannot be saved in `folder` (a file there, a read-only mount, no permission),
    found before any embedding: None when a file can be made there."""
    if folder.exists() and not folder.is_dir():
        return f"the vectors path {folder} is not a folder: move that file away"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot write the vectors in {folder} ({exc.strerror or exc}): make it writable"
    return None
