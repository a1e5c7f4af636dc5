"""Index folders saved by the code before `store/search/index/` became a package (format 6, no checksums
in meta.json) load as they are: no rebuild, the same answers. The old folder is made at test time by
the old code itself, read from git history (skipped where the history is not at hand)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from store.collection import db as store_db
from store.search.index import Index, index_dir
from store.search.sync import sync_index

ROOT = Path(__file__).resolve().parent.parent
OLD_COMMIT = (
    "1e45cc72629aa9fe33d878111cb413d99d1e240c"  # the last commit with store/search/index.py
)


def _old_index_module(tmp_path: Path):
    """store/search/index.py as of OLD_COMMIT, imported under another name."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:store/search/index.py"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the old index code is not in this checkout's git history")
    path = tmp_path / "old_index.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_index", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_index"] = module
    spec.loader.exec_module(module)
    return module


def test_a_folder_saved_by_the_old_code_loads_without_rebuild(tmp_path):
    old = _old_index_module(tmp_path)
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    before = old.sync_index(db, path)
    folder = index_dir(path)
    meta = json.loads((folder / "meta.json").read_text())
    assert "checksums" not in meta
    files = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    loaded = Index.load(folder)
    assert loaded is not None and list(loaded.ids) == list(before.ids)
    index = sync_index(db, path)  # nothing changed: nothing rebuilt, nothing saved
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == files
    for words in (["linear", "layer", "frozen"], ["remote", "sensing"], ["vision", "language"]):
        assert index.search(words, 10) == before.search(words, 10)
        assert (index.scores(words) == before.scores(words)).all()

    quokka = {"title": "Quokka routing", "abstract": "We route quokka tokens.", "links": []}
    store_db.upsert_papers(db, [{**quokka, "source": "test"}])
    index = sync_index(db, path, index)  # the next save adds checksums, format unchanged
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["format"] == 6 and "checksums" in meta
    reloaded = Index.load(folder, check_now=True)
    assert reloaded is not None and reloaded.search(["quokka"], 1)[0][0] == index.ids[-1]
