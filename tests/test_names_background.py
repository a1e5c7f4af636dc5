"""A big collection's names table (and typo corrector) is built in a background thread at start:
no question waits for it, and questions that name a paper use it once it is there."""

from __future__ import annotations

import threading

from store.answers import lexical, names
from store.answers.engine import Answers
from store.collection import db as store_db


def test_questions_do_not_wait_for_the_names_table_and_use_it_once_built(tmp_path, monkeypatch):
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    monkeypatch.setattr(lexical, "NAMES_IN_BACKGROUND", 10)  # 91 papers count as big here
    release = threading.Event()
    real = names._Aliases.add_papers

    def slow(self, db, after_seq=0):  # the background build held until the first answer is out
        release.wait(30)
        return real(self, db, after_seq)

    monkeypatch.setattr(names._Aliases, "add_papers", slow)
    answers = Answers(db, path, semantic=False)
    # The question is answered while the table is still being built (it would hang otherwise).
    assert answers.ask("clip paper?").results is not None
    assert answers._aliases is None and answers._names_build is not None
    release.set()
    answers._names_build.thread.join(30)
    monkeypatch.setattr(names._Aliases, "add_papers", real)
    answers.ask("clip paper?")
    assert answers._aliases is not None  # adopted from the background, not built by ask
    assert "clip" in answers._aliases
    # The question now finds the paper it names (the CLIP paper, by its repository's name).
    assert set(answers._named("clip paper?")) == set(answers._aliases["clip"]) != set()
    assert answers._speller is not None  # the typo corrector came after it, in the background
