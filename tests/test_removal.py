"""Removing papers: the database records each removal, the index and vectors replay it, and BM25's
statistics are exactly those of a collection that never held the paper (the rank-bm25 oracle)."""

from __future__ import annotations

import random

import numpy as np
from click.testing import CliRunner
from rank_bm25 import BM25Okapi

from bot.cli import cli
from store.answers.engine import Answers
from store.collection import db as store_db
from store.search.index import Index, document_tokens, index_dir
from store.search.sync import sync_index
from tests.test_index import sample_queries

RS5M = "t-826d74fca928"


def corpus_of(db) -> tuple[list[str], list[list[str]]]:
    """The live papers' ids and token lists, in change order (the index's document order)."""
    ids, corpus = [], []
    for pid, _seq, title, abstract, links in store_db.iter_for_index(db, 0):
        ids.append(pid)
        corpus.append(document_tokens(title, abstract, links))
    return ids, corpus


def assert_okapi(index: Index, ids: list[str], corpus: list[list[str]], queries) -> None:
    """Every live document scores as BM25Okapi over `corpus` (to 1e-9); removed ones are gone."""
    okapi = BM25Okapi(corpus)
    assert index.size == len(ids)
    docs = [index.ids.get(pid) for pid in ids]
    assert all(d is not None and index.alive[d] for d in docs)
    for q in queries:
        mine, ref = index.scores(q), okapi.get_scores(q)
        assert max(abs(mine[d] - ref[i]) for i, d in enumerate(docs)) <= 1e-9
        assert {pid for pid, _ in index.search(q, 20)} <= set(ids)
        assert index.search(q, 10) == index.search_dense(q, 10)


def test_index_remove_scores_as_bm25okapi_over_the_rest(seeded_db):
    ids, corpus = corpus_of(seeded_db)
    index = Index()
    index.add(list(zip(ids, corpus, strict=True)))
    gone = set(random.Random(3).sample(ids, 12)) | {RS5M}
    assert index.remove([*gone, "no-such-paper"]) == len(gone)
    assert index.remove(gone) == 0  # already retired: nothing changes twice
    keep = [i for i, pid in enumerate(ids) if pid not in gone]
    queries = sample_queries(corpus, 60, random.Random(4)) + [["rs5m", "georsclip"]]
    assert_okapi(index, [ids[i] for i in keep], [corpus[i] for i in keep], queries)
    assert index.search(["rs5m"], 5) == []  # a word only the removed paper held


def test_removals_reach_a_saved_index_without_a_rebuild(db_path, seeded_db):
    sync_index(seeded_db, db_path)
    uuid = store_db.db_uuid(seeded_db)
    other = corpus_of(seeded_db)[0][5]
    named = store_db.paper_ids_named(seeded_db, [RS5M, other, "nope"])
    assert named == {RS5M: RS5M, other: other}
    assert sorted(store_db.delete_papers(seeded_db, named.values())) == sorted(named.values())
    assert store_db.db_uuid(seeded_db) == uuid  # no new identity: the index replays removals
    index = sync_index(seeded_db, db_path)
    ids, corpus = corpus_of(seeded_db)
    assert len(ids) == 89 and RS5M not in ids
    assert len(index.segments) == 1  # retired in place, not rebuilt
    queries = sample_queries(corpus, 40, random.Random(5))
    assert_okapi(index, ids, corpus, queries)
    assert_okapi(Index.load(index_dir(db_path)), ids, corpus, queries)  # saved as retired
    assert index.covered_seq == store_db.max_seq(seeded_db)


def test_a_paper_removed_then_added_again_is_back(db_path, seeded_db):
    paper = store_db.get_paper(seeded_db, RS5M)
    sync_index(seeded_db, db_path)
    store_db.delete_papers(seeded_db, [RS5M])
    store_db.upsert_papers(seeded_db, [{**paper, "source": "listing"}])  # after the removal
    index = sync_index(seeded_db, db_path)
    ids, corpus = corpus_of(seeded_db)
    assert RS5M in ids and len(ids) == 91
    assert_okapi(index, ids, corpus, [["rs5m"], ["remote", "sensing"]])
    assert index.search(["rs5m"], 1)[0][0] == RS5M


def test_a_running_engine_forgets_papers_another_process_removed(db_path, seeded_db):
    engine = Answers(seeded_db, db_path, semantic=False)
    assert engine.ask("RS5M remote sensing image text pairs").results[0].id == RS5M
    other = store_db.open_db(db_path)
    store_db.delete_papers(other, [RS5M])
    other.close()
    engine.refresh()
    assert RS5M not in [h.id for h in engine.ask("RS5M remote sensing image text pairs").results]
    assert engine.paper(RS5M) is None


def test_cli_remove_ids_and_demo(db_path, seeded_db):
    runner = CliRunner()
    out = runner.invoke(cli, ["--db", str(db_path), "remove", RS5M, "2501.99999"])
    assert out.exit_code == 1
    assert out.output.splitlines() == [f"removed: {RS5M}", "not in the collection: 2501.99999"]
    ask = runner.invoke(cli, ["--db", str(db_path), "ask", "--json", "RS5M remote sensing"])
    assert RS5M not in ask.output
    uuid = store_db.db_uuid(seeded_db)
    demo = runner.invoke(cli, ["--db", str(db_path), "remove", "--demo"])
    assert demo.exit_code == 0 and demo.output == "removed 90 demo papers\n"
    assert store_db.paper_count(seeded_db) == 0 and store_db.db_uuid(seeded_db) == uuid
    index = sync_index(seeded_db, db_path)
    assert index.size == 0 and np.all(index.df == 0)
    assert runner.invoke(cli, ["--db", str(db_path), "remove"]).exit_code == 2
