"""The names papers go by: a title's short name ("CroCo"), repository and model names from their
links ("github.com/openai/CLIP" -> clip), normalized, for `/repo` and for questions that name a
paper. Built from the database and extended as papers arrive."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

from store.collection import db as store_db
from store.collection.clean import short_name

log = logging.getLogger(__name__)


def _alias_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


# Path heads that are not an owner: a Hugging Face dataset or space, a GitHub page of its own.
_NOT_OWNERS = {"datasets", "spaces", "papers", "orgs", "topics", "models", "collections"}


def _repo_names(url: str) -> list[str]:
    """Names a link gives its paper: the repository, a sub-project, a model or a project host,
    and the owner with its hub id (`openai/CLIP`): "the OpenAI contrastive model". An owner
    naming more than three papers names none (`_named`)."""
    rest = re.sub(r"^https?://(www\.)?", "", url.lower())
    host, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    names = []
    if host in ("github.com", "gitlab.com", "huggingface.co") and len(parts) >= 2:
        names.append(parts[-1] if host == "huggingface.co" else parts[1])
        if "projects" in parts[:-1]:
            names.append(parts[-1])
        if parts[0] not in _NOT_OWNERS:  # the owner ("openai") and the hub id ("openai/clip")
            names += [parts[0], f"{parts[0]}/{names[0]}"]
    elif host.endswith(".github.io"):
        names.append(host.split(".")[0])
    return names


class _Aliases(dict):
    """Normalized name -> paper ids: names from titles first, then from links (each in the order
    the papers were stored); grows with `add_papers`."""

    def __init__(self) -> None:
        super().__init__()
        self._titles: dict[str, list[str]] = {}
        self._links: dict[str, list[str]] = {}

    @staticmethod
    def _add(table: dict[str, list[str]], name: str, pid: str) -> str | None:
        key = _alias_key(name)
        if len(key) >= 2 and pid not in table.setdefault(key, []):
            table[key].append(pid)
            return key
        return None

    def add_papers(self, db, after_seq: int = 0) -> None:
        """Add the names of the papers stored or changed after `after_seq`."""
        changed: set[str] = set()
        ids = []
        for pid, title in store_db.titles_since(db, after_seq):
            ids.append(pid)
            name = short_name(title)  # not the whole title: BM25 finds that, and a million
            key = self._add(self._titles, name, pid) if name else None  # titles cost memory
            if key:
                changed.add(key)
        for pid, links in store_db.links_for(db, ids).items():
            for link in links:
                if link["kind"] in ("code", "model", "project", "demo"):
                    for name in _repo_names(link["url"]):
                        key = self._add(self._links, name, pid)
                        if key:
                            changed.add(key)
        for key in changed:
            ids_ = list(self._titles.get(key, []))
            ids_ += [p for p in self._links.get(key, []) if p not in ids_]
            self[key] = ids_


class BackgroundNames:
    """The names table of a big collection built once in a daemon thread, on its own read-only
    connection, so that no question waits for it (12 s of Python at 1M papers, 59 s at 3M).
    Papers stored after `seq` (the index's, at the start) are added by the engine afterwards."""

    def __init__(self, db_path: Path, seq: int, then: Callable[[], object] | None = None) -> None:
        self._seq = seq
        self._table: _Aliases | None = None
        self._then = then
        self.thread = threading.Thread(
            target=self._run, args=(db_path,), name="paperbot-names", daemon=True
        )
        self.thread.start()

    def _run(self, db_path: Path) -> None:
        with contextlib.suppress(OSError, AttributeError):  # a thread's own priority: Linux
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            db = store_db.open_db(db_path, read_only=True)
            try:
                table = _Aliases()
                table.add_papers(db, 0)
                self._table = table
            finally:
                db.conn.close()
            if self._then is not None:
                self._then()  # the typo corrector, built while nobody waits for it
        except Exception as exc:  # noqa: BLE001 (the table is then built by /repo)
            log.warning("names table not built in the background: %s", exc)

    def done(self) -> bool:
        return not self.thread.is_alive()

    def take(self) -> tuple[_Aliases, int] | None:
        """The table and the seq it covers, once built (waits for the thread); None if it failed."""
        self.thread.join()
        return (self._table, self._seq) if self._table is not None else None
