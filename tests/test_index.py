"""The BM25 index: exactly BM25Okapi's scores, and a pruned top-k identical to scoring everything."""

from __future__ import annotations

import itertools
import json
import random
import re
import unicodedata

import numpy as np
import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from store.collection import db as store_db
from store.search import sync as sync_mod
from store.search.index import (
    INDEX_FORMAT,
    Index,
    document_tokens,
    index_dir,
    persist,
    scan,
)
from store.search.index import segment as segment_mod
from store.search.sync import sync_index
from store.text import STOPWORDS, tokenize


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """The seeded collection: (db, db_path, index, ids, corpus tokens in index order)."""
    path = tmp_path_factory.mktemp("seed") / "x.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    index = sync_index(db, path)
    ids, corpus = [], []
    for pid, _seq, title, abstract, links in store_db.iter_for_index(db, 0):
        ids.append(pid)
        corpus.append(document_tokens(title, abstract, links))
    return db, path, index, ids, corpus


def sample_queries(corpus: list[list[str]], n: int, rng: random.Random) -> list[list[str]]:
    """Queries of 1-12 terms from documents, some with an unknown word or a repeated term."""
    out = []
    for _ in range(n):
        doc = rng.choice(corpus)
        q = [rng.choice(doc) for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.2:
            q.append("zzunknownzz")
        if rng.random() < 0.2:
            q.append(q[0])
        out.append(q)
    return out


def by_id(index: Index, tokens: list[str]) -> dict[str, float]:
    scores = index.scores(tokens)
    return {pid: float(scores[d]) for pid, d in index.ids.items() if index.alive[d]}


def assert_same_scores(a: Index, b: Index, queries, tol: float = 1e-12) -> None:
    for q in queries:
        sa, sb = by_id(a, q), by_id(b, q)
        assert sa.keys() == sb.keys()
        assert max((abs(sa[p] - sb[p]) for p in sa), default=0.0) <= tol
        assert [p for p, _ in a.search(q, 10)] == [p for p, _ in b.search(q, 10)] or all(
            abs(x[1] - y[1]) <= tol for x, y in zip(a.search(q, 10), b.search(q, 10), strict=True)
        )


# ---------------------------------------------------------------- BM25Okapi equality


def test_scores_equal_bm25okapi_on_seed(seed):
    _db, _path, index, ids, corpus = seed
    assert list(index.ids) == ids
    okapi = BM25Okapi(corpus)
    for q in sample_queries(corpus, 60, random.Random(1)):
        assert np.abs(okapi.get_scores(q) - index.scores(q)).max() <= 1e-9
        mine = index.search(q, 10)
        for pid, score in mine:
            assert abs(okapi.get_scores(q)[ids.index(pid)] - score) <= 1e-9


def test_pruned_search_equals_dense_on_seed(seed):
    _db, _path, index, ids, corpus = seed
    rng = random.Random(2)
    for q in sample_queries(corpus, 150, rng):
        for k in (1, 3, 10, 50):
            assert index.search(q, k) == index.search_dense(q, k)
        exclude = {rng.choice(ids), ids[0]}
        assert index.search(q, 5, exclude=exclude) == index.search_dense(q, 5, exclude=exclude)


@pytest.fixture(scope="module")
def synthetic():
    """20,000 generated papers (bench.synth), indexed in four segments, and their token lists."""
    from bench import synth

    model = synth.Model(seed=3, size=20_000)
    docs = [
        (p["id"], document_tokens(p["title"], p["abstract"]))
        for p in synth.papers(model, 0, 20_000, seed=3)
    ]
    index = Index()
    for start in range(0, len(docs), 5_000):
        index.add(docs[start : start + 5_000])
    return index, docs


def test_pruned_equals_dense_and_okapi_on_20k_synthetic(synthetic):
    index, docs = synthetic
    assert len(index.segments) == 4
    corpus = [t for _, t in docs]
    rng = random.Random(4)
    queries = sample_queries(corpus, 200, rng)
    common = [t for t, _ in sorted(index.terms.items(), key=lambda kv: -index.df[kv[1]])[:30]]
    queries += [
        rng.sample(common, rng.randint(1, 6)) for _ in range(40)
    ]  # the worst case for pruning
    for q in queries:
        assert index.search(q, 10) == index.search_dense(q, 10)
    okapi = BM25Okapi(corpus)
    for q in queries[:12] + queries[-4:]:
        assert np.abs(okapi.get_scores(q) - index.scores(q)).max() <= 1e-9
        top = np.lexsort((np.arange(len(corpus)), -okapi.get_scores(q)))[:10]
        assert [docs[i][0] for i in top] == [p for p, _ in index.search(q, 10)]


# ---------------------------------------------------------------- changes


def test_two_segments_score_as_one_shot_build(seed):
    *_, ids, corpus = seed
    pairs = list(zip(ids, corpus, strict=True))
    one = Index()
    one.add(pairs)
    two = Index()
    two.add(pairs[:40])
    two.add(pairs[40:])
    assert len(two.segments) == 2
    assert_same_scores(one, two, sample_queries(corpus, 50, random.Random(5)))


def test_changed_paper_scores_as_corpus_of_its_new_version(seed):
    *_, ids, corpus = seed
    pairs = list(zip(ids, corpus, strict=True))
    changed = ids[7]
    new_tokens = corpus[8][:40] + ["brandnewterm"] * 3
    index = Index()
    index.add(pairs)
    index.add([(changed, new_tokens)])
    assert index.size == len(ids)
    expected_pairs = [(p, new_tokens if p == changed else t) for p, t in pairs]
    expected = Index()
    expected.add(expected_pairs)
    queries = sample_queries(corpus, 40, random.Random(6)) + [["brandnewterm"], corpus[7][:5]]
    assert_same_scores(index, expected, queries)
    # and against BM25Okapi over the live collection (ids in the changed index's order)
    live = sorted(index.ids.items(), key=lambda kv: kv[1])
    okapi = BM25Okapi([dict(expected_pairs)[p] for p, _ in live])
    for q in queries:
        mine = index.scores(q)
        ref = okapi.get_scores(q)
        assert max(abs(mine[d] - ref[i]) for i, (_, d) in enumerate(live)) <= 1e-9
    assert index.search(["brandnewterm"], 3)[0][0] == changed


def test_paper_replaced_twice_in_one_batch_keeps_its_last_version(seed):
    *_, ids, corpus = seed
    index = Index()
    index.add([("a", corpus[0]), ("b", corpus[1]), ("a", corpus[2])])
    expected = Index()
    expected.add([("b", corpus[1]), ("a", corpus[2])])
    assert_same_scores(index, expected, sample_queries(corpus[:3], 20, random.Random(7)))


def test_merge_keeps_scores(seed, monkeypatch):
    *_, ids, corpus = seed
    pairs = list(zip(ids, corpus, strict=True))
    one = Index()
    one.add(pairs)
    many = Index()
    for start in range(0, len(pairs), 7):  # 13 adds: the newest segments get merged on the way
        many.add(pairs[start : start + 7])
    assert len(many.segments) <= segment_mod.MERGE_SEGMENTS
    many.add([(ids[3], corpus[4]), (ids[10], corpus[11])])  # retire two, then merge them away
    one.add([(ids[3], corpus[4]), (ids[10], corpus[11])])
    queries = sample_queries(corpus, 50, random.Random(8))
    assert_same_scores(one, many, queries)
    monkeypatch.setattr(segment_mod, "MERGE_SEGMENTS", 1)  # the next add folds the small ones
    before = len(many.segments)
    many.add([(ids[5], corpus[6])])
    one.add([(ids[5], corpus[6])])
    assert len(many.segments) < before
    assert_same_scores(one, many, queries)
    for q in queries:
        assert many.search(q, 10) == many.search_dense(q, 10)


def test_daily_adds_never_rewrite_a_bulk_segment(seed, monkeypatch):
    """After a bulk load, small daily segments fold among themselves; the bulk-sized ones are
    left as they are (rewriting them would copy the whole collection in the bot's refresh)."""
    *_, ids, corpus = seed
    monkeypatch.setattr(segment_mod, "SYNC_BATCH", 20)
    monkeypatch.setattr(segment_mod, "MERGE_SEGMENTS", 4)
    pairs = list(zip(ids, corpus, strict=True))
    index = Index()
    for start in range(0, 60, 20):  # three "bulk" segments of SYNC_BATCH papers
        index.add(pairs[start : start + 20])
    bulk = list(index.segments)
    for start in range(60, len(pairs), 2):  # then many small days
        index.add(pairs[start : start + 2])
        assert index.segments[:3] == bulk  # the very same objects: never merged or copied
    assert len(index.segments) <= 3 + segment_mod.MERGE_SEGMENTS
    one = Index()
    one.add(pairs)
    assert_same_scores(one, index, sample_queries(corpus, 30, random.Random(9)))


def test_save_load_round_trip_then_append(seed, tmp_path):
    *_, ids, corpus = seed
    pairs = list(zip(ids, corpus, strict=True))
    index = Index()
    index.add(pairs[:60])
    index.add([("odd\nid", corpus[1]), ('"quoted"', corpus[2])])
    index.save(tmp_path)
    loaded = Index.load(tmp_path)
    queries = sample_queries(corpus, 40, random.Random(9))
    for q in queries:
        assert loaded.search(q, 10) == index.search(q, 10)
        assert np.array_equal(loaded.scores(q), index.scores(q))
    assert list(loaded.ids) == list(index.ids) and list(loaded.terms) == list(index.terms)
    # The next save appends; bytes past the committed length (an interrupted save) are ignored.
    loaded.add(pairs[60:] + [(ids[0], corpus[5])])
    ids_file = tmp_path / json.loads((tmp_path / "meta.json").read_text())["files"]["ids"]
    with open(ids_file, "ab") as fh:
        fh.write(b"garbage\n")
    loaded.save(tmp_path)
    assert b"garbage" not in ids_file.read_bytes()  # appended to, in place, the tail cut
    again = Index.load(tmp_path)
    for q in queries:
        assert again.search(q, 10) == loaded.search(q, 10)
        assert np.array_equal(again.scores(q), loaded.scores(q))
    assert list(again.ids) == list(loaded.ids)


def test_sync_index_catches_up_with_new_papers(tmp_path):
    path = tmp_path / "x.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    sync_index(db, path)
    store_db.upsert_papers(
        db,
        [
            {
                "title": "Quokka routing for sparse mixture experts",
                "abstract": "We route tokens with quokka.",
                "links": [],
                "source": "test",
            }
        ],
    )
    caught_up = sync_index(db, path)
    assert len(caught_up.segments) == 2
    rebuilt = Index.load(index_dir(path))
    assert list(rebuilt.ids) == list(caught_up.ids)
    assert rebuilt.search(["quokka"], 3) == caught_up.search(["quokka"], 3)
    assert rebuilt.search(["quokka"], 3)[0][0] == caught_up.ids[-1]


def test_stale_format_is_rebuilt(tmp_path):
    path = tmp_path / "x.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    index = sync_index(db, path)
    meta = index_dir(path) / "meta.json"
    meta.write_text(meta.read_text().replace(f'"format": {INDEX_FORMAT}', '"format": 1'))
    assert Index.load(index_dir(path)) is None
    lock = (index_dir(path) / ".lock").stat().st_ino
    (index_dir(path) / "ids.txt").write_text("a format-5 leftover\n")
    assert list(sync_index(db, path).ids) == list(index.ids)
    # Rebuilt in place: the lock file another process may hold stays; leftovers are gone.
    assert (index_dir(path) / ".lock").stat().st_ino == lock
    assert not (index_dir(path) / "ids.txt").exists()
    assert Index.load(index_dir(path)) is not None


# ---------------------------------------------------------------- the tokenizer's fast path


# The tokenizer's definition, written out here on its own (not borrowed from store/text.py, whose
# fast path it checks): words, their parts, stopwords, Snowball stems; model names kept as written.
REF_WORD = re.compile(r"[^\W_]+(?:[.\-/+'’][^\W_]+)*")
REF_PARTS = re.compile(r"[.\-/+'’]")
REF_STEMMER = Stemmer.Stemmer("english")


def reference_term(part: str) -> str | None:
    """The index term of one word part: None for a stopword, a lone letter or a 60+ run."""
    if part in STOPWORDS or (len(part) == 1 and not part.isdigit()) or len(part) > 60:
        return None
    return REF_STEMMER.stemWord(part) if part.isalpha() else part


def reference_tokenize(text: str) -> list[str]:
    """The tokenizer as first written (regex over the whole text, no caches): the definition."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for match in REF_WORD.finditer(text):
        word = match.group(0)
        if re.fullmatch(r"\d+(?:[.,]\d+)*", word):
            out.append(word)
            continue
        parts = [p for p in REF_PARTS.split(word) if p]
        if len(parts) > 1 and parts[-1] in ("s", "t", "re", "ve", "ll", "d", "m"):
            parts = parts[:-1]
        for part in parts:
            term = reference_term(part)
            if term:
                out.append(term)
        if "-" in word and 1 < len(parts) <= 3:
            compound = reference_term("".join(parts))
            if compound:
                out.append(compound)
    return out


def test_tokenize_matches_reference_on_seed(seed):
    db = seed[0]
    for _pid, _seq, title, abstract, links in store_db.iter_for_index(db, 0):
        for text in (title, abstract, links):
            assert tokenize(text) == reference_tokenize(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("aZ9-./+'’_ \t\n\u00a0\u2003éﬁ①Ⅻİ,;()")) | st.characters(),
        max_size=60,
    )
)
def test_tokenize_matches_reference_on_any_text(text):
    assert tokenize(text) == reference_tokenize(text)
    assert tokenize(text) == reference_tokenize(text)  # and again, from the caches


def test_weighted_search_equals_dense_weighted_sum(synthetic):
    index, docs = synthetic
    rng = random.Random(10)
    for q in sample_queries([t for _, t in docs], 60, rng):
        weights = {t: rng.choice([1.0, 0.5, 0.25, 2.0]) for t in q}
        dense = sum(w * index.scores([t]) for t, w in weights.items())
        found = index.search_weighted(weights, 10)
        for pid, score in found:
            assert abs(dense[index.ids.get(pid)] - score) <= 1e-9
        top = np.lexsort((np.arange(len(dense)), -dense))[:10]
        expected = [(index.ids[d], float(dense[d])) for d in top if dense[d] > 0]
        assert [p for p, _ in found] == [p for p, _ in expected] or all(
            abs(a[1] - b[1]) <= 1e-9 for a, b in zip(found, expected, strict=True)
        )
    terms = list(dict.fromkeys(docs[0][1]))
    assert index.search_weighted(dict.fromkeys(terms, 1.0), 5) == index.search(terms, 5)


# ---------------------------------------------------------------- bulk indexing in a pool


def _index_state(index: Index):
    """Everything an index holds, its segments folded into one (the pool cuts segments at other
    papers than the sequential path: the content is what must be equal)."""
    avgdl, norm = index.stats()[1:]
    one = segment_mod.merged(index.segments, len(index.terms), index.alive, norm, avgdl)
    return (
        list(index.ids),
        list(index.terms),
        index.df.tolist(),
        index.doc_len.tolist(),
        index.alive.tolist(),
        index.acronyms,
        index.covered_seq,
        (one.lo, one.hi, one.offsets.tolist(), one.docs.tolist(), one.tfs.tolist()),
    )


def test_sync_index_in_a_pool_builds_the_same_index(tmp_path, monkeypatch):
    """The pool path (big catch-ups) gives exactly the sequential index: ids, term numbers,
    postings, lengths, mined acronyms; with a changed paper and more segments than one."""
    from bench import synth
    from store.collection.importers.jsonl import iter_records

    model = synth.Model(seed=5, size=3_000)
    papers = synth.papers(model, 0, 3_000, seed=5)
    papers[7]["abstract"] += " We use Remote Sensing (RS) data."
    built = []
    for pool in (False, True):
        path = tmp_path / f"{pool}.db"
        db = store_db.open_db(path)
        store_db.upsert_papers(db, iter_records(json.dumps(p) for p in papers))
        changed = dict(
            papers[3], abstract="A new abstract about Large Language Models (LLMs).", version=2
        )
        store_db.upsert_papers(db, iter_records([json.dumps(changed)]))
        monkeypatch.setattr(sync_mod, "POOL_MIN", 1 if pool else 10**9)
        monkeypatch.setattr(sync_mod, "POOL_CHUNK", 700)
        monkeypatch.setattr(segment_mod, "SYNC_BATCH", 1_000)
        index = sync_index(db, path)
        assert Index.load(index_dir(path)) is not None
        built.append(index)
    assert _index_state(built[0]) == _index_state(built[1])
    assert any(a.startswith("rs\t") for a in built[1].acronyms)
    assert any(a.startswith("llms\t") for a in built[1].acronyms)


def test_index_kept_current_file_by_file_equals_a_fresh_build(tmp_path, monkeypatch):
    """`paperbot import` of many files: each committed file is counted by the pool while the next
    one is written; a paper changed by a later file ends as its newer version. The result answers
    exactly as an index built afterwards from the final database."""
    from bench import synth
    from store.collection.importers.jsonl import iter_records
    from store.search.sync import IndexSync

    monkeypatch.setattr(sync_mod, "POOL_MIN", 500)
    monkeypatch.setattr(sync_mod, "POOL_CHUNK", 300)
    monkeypatch.setattr(segment_mod, "SYNC_BATCH", 1_000)
    model = synth.Model(seed=7, size=3_000)
    papers = synth.papers(model, 0, 3_000, seed=7)
    files = [papers[i : i + 600] for i in range(0, 3_000, 600)]
    changed = dict(papers[5], abstract="Now about Vision Transformers (ViT) only.", version=2)
    files[3] = files[3] + [changed]
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    sync = IndexSync(db, path)
    for batch in files:
        store_db.upsert_papers(db, iter_records(json.dumps(p) for p in batch))
        sync.committed()
    assert sync.pool is not None  # the pool took files while the others were written
    live = sync.finish()
    assert live.size == 3_000 and len(live.segments) > 1  # a segment per SYNC_BATCH papers
    assert any(a.startswith("vit\t") for a in live.acronyms)

    monkeypatch.setattr(sync_mod, "POOL_MIN", 10**9)
    fresh = sync_index(db, None)  # in memory, one pass over the final database
    assert live.stats()[1] == fresh.stats()[1]
    words = dict.fromkeys(document_tokens(changed["title"], changed["abstract"]), 1.0)
    mine, theirs = (x.scores_of(words, [papers[5]["id"]]) for x in (live, fresh))
    assert abs(mine[papers[5]["id"]] - theirs[papers[5]["id"]]) <= 1e-9
    rng = random.Random(3)
    corpus = [document_tokens(p["title"], p["abstract"]) for p in papers]
    for q in sample_queries(corpus, 40, rng) + [["vision", "transform"]]:
        got, want = live.search(q, 10), fresh.search(q, 10)
        assert [p for p, _ in got] == [p for p, _ in want]
        assert all(abs(a - b) <= 1e-9 for (_, a), (_, b) in zip(got, want, strict=True))
    reloaded = Index.load(index_dir(path))
    assert reloaded is not None and reloaded.covered_seq == store_db.max_seq(db)


def test_scores_of_given_papers_equal_the_weighted_search(synthetic):
    index, docs = synthetic
    rng = random.Random(8)
    for _ in range(20):
        doc = rng.choice(docs)[1]
        weights = {t: rng.choice([1.0, 0.5, 0.35]) for t in rng.sample(doc, min(5, len(doc)))}
        top = index.search_weighted(weights, 30)
        ids = [p for p, _ in top] + [rng.choice(docs)[0] for _ in range(5)] + ["unknown"]
        got = index.scores_of(weights, ids)
        for pid, score in top:
            assert abs(got[pid] - score) <= 1e-9
        assert "unknown" not in got


@pytest.mark.parametrize("sparse_share", [0, 10**9], ids=["every-document", "touched-only"])
def test_compiled_scan_of_common_terms_equals_dense(monkeypatch, sparse_share):
    """Questions reading many postings take the compiled scan (here: every question, in three
    slices run in parallel, or ranking only the documents the postings touch); it returns
    exactly the dense top k, ties included, also after later, longer papers raised avgdl above
    the first segments' and with a retired paper."""
    from bench import synth

    monkeypatch.setattr(scan, "SPARSE_SHARE", sparse_share)
    monkeypatch.setattr(scan, "SCAN_MIN", 0)
    monkeypatch.setattr(scan, "SCAN_RATIO", 0)
    monkeypatch.setattr(scan, "SCAN_THREADS", 3)
    monkeypatch.setattr(scan, "SCAN_PART_MIN", 1_000)
    monkeypatch.setattr(scan, "_SCAN_POOL", None)
    model = synth.Model(seed=5, size=6_000)
    papers = synth.papers(model, 0, 6_000, seed=5)
    docs = [(p["id"], document_tokens(p["title"], p["abstract"])) for p in papers]
    index = Index()
    for start in range(0, 4_000, 2_000):
        index.add(docs[start : start + 2_000])
    # Longer documents later: avgdl grows, so the first segments' contributions grow too.
    index.add([(pid, tokens * 3) for pid, tokens in docs[4_000:]])
    index.add([(docs[7][0], docs[9][1])])  # a replaced paper: retired in the first segment
    index.add([(f"twin-{i}", docs[11][1]) for i in range(12)])  # equal scores across slices
    assert index.stats()[1] > max(s.avgdl for s in index.segments[:2])
    corpus = [t for _, t in docs]
    rng = random.Random(6)
    common = [t for t, _ in sorted(index.terms.items(), key=lambda kv: -index.df[kv[1]])[:40]]
    queries = [rng.sample(common, rng.randint(2, 10)) for _ in range(80)]
    queries += [q + rng.sample(common, 3) for q in sample_queries(corpus, 40, rng)]
    queries.append(docs[11][1][:6])
    scanned = []
    real_scan = scan.top_k_scan
    monkeypatch.setattr(scan, "top_k_scan", lambda *a: scanned.append(1) or real_scan(*a))
    for q in queries:
        for k in (1, 10, 30):
            assert index.search(q, k) == index.search_dense(q, k)
        exclude = {rng.choice(docs)[0], docs[0][0]}
        assert index.search(q, 10, exclude=exclude) == index.search_dense(q, 10, exclude=exclude)
    assert len(scanned) == 4 * len(queries)
    twin_query = docs[11][1][:6]
    top = [pid for pid, _ in index.search(twin_query, 30)]
    first = top.index(docs[11][0])
    assert top[first : first + 13] == [docs[11][0]] + [f"twin-{i}" for i in range(12)]
    # Ties at the cut: the earlier papers are kept.
    alone = {docs[11][0]}
    assert index.search(twin_query, 4, alone) == index.search_dense(twin_query, 4, alone)
    assert [p for p, _ in index.search(twin_query, 4, alone)] == [f"twin-{i}" for i in range(4)]
    assert not index.scratch.array.any()  # the shared accumulator is left clean for the next one
    live = [t for _, t in docs[:4_000]] + [t * 3 for _, t in docs[4_000:]]
    live[7] = docs[9][1]
    live += [docs[11][1]] * 12
    okapi = BM25Okapi(live)
    position = {pid: i for i, (pid, _) in enumerate(docs)}
    position.update({f"twin-{i}": len(docs) + i for i in range(12)})
    for q in queries[:8]:
        scores = okapi.get_scores(q)
        for pid, score in index.search(q, 10):
            assert abs(scores[position[pid]] - score) <= 1e-9


def test_term_frequencies_over_255_keep_their_value_across_segments_and_merges(monkeypatch):
    """Postings store tfs in one byte when they fit; a segment with a larger tf keeps two, and a
    merge of both kinds keeps every count: scores stay BM25Okapi's."""
    docs = [(f"p{i}", ["graph", "neural", f"w{i % 7}"] * (1 + i % 3)) for i in range(40)]
    long_doc = ("spam", ["graph"] * 300 + ["neural"])
    okapi = BM25Okapi([t for _, t in docs] + [long_doc[1]])
    for merged in (False, True):
        if merged:  # the second add folds both segments into one
            monkeypatch.setattr(segment_mod, "MERGE_SEGMENTS", 1)
        index = Index()
        index.add(docs[:20])
        index.add(docs[20:] + [long_doc])
        kinds = [s.tfs.dtype for s in index.segments]
        assert kinds == ([np.uint16] if merged else [np.uint8, np.uint16])
        for q in (["graph"], ["graph", "neural", "w3"]):
            assert np.allclose(index.scores(q), okapi.get_scores(q), rtol=0, atol=1e-9)
            assert index.search(q, 3) == index.search_dense(q, 3)


def test_a_paper_that_only_gains_a_link_is_indexed_again(tmp_path):
    """Links not written in the abstract are part of the indexed text: a re-import that only adds
    one must reach the index (the paper gets a new seq), as a rebuild would."""
    from store.collection.importers.jsonl import iter_records

    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    paper = {"id": "2401.00001", "title": "Sparse Probing", "abstract": "We probe models."}
    others = [{"title": f"Other {n}", "abstract": f"Unrelated work {n}."} for n in range(3)]
    store_db.upsert_papers(db, iter_records(json.dumps(p) for p in [paper, *others]))
    index = sync_index(db, path)
    assert index.search(["zanzibarnet"]) == []
    linked = dict(paper, links=[{"url": "https://github.com/lab/zanzibarnet", "kind": "code"}])
    result = store_db.upsert_papers(db, iter_records([json.dumps(linked)]))
    assert result.updated == 1
    index = sync_index(db, path, index)
    assert [p for p, _ in index.search(["zanzibarnet"])] == ["2401.00001"]


def test_questions_of_common_words_without_numba_are_answered_by_maxscore(synthetic, monkeypatch):
    """If numba cannot load on a machine, every question still gets the exact answer."""
    index, docs = synthetic
    monkeypatch.setattr(scan, "SCAN_MIN", 0)
    monkeypatch.setattr(scan, "SCAN_RATIO", 0)
    monkeypatch.setattr(scan, "_KERNELS", [None])
    monkeypatch.setattr(scan, "top_k_scan", None)  # would raise if called
    for q in sample_queries([t for _, t in docs], 20, random.Random(4)):
        assert index.search(q, 10) == index.search_dense(q, 10)


@pytest.mark.parametrize(
    ("sparse_share", "loop"),
    [(0, "accumulate"), (10**9, "accumulate_touched")],
    ids=["every-document", "touched-only"],
)
def test_a_failing_scan_leaves_the_shared_scratch_clean(synthetic, monkeypatch, sparse_share, loop):
    """An error inside one slice of the scan (memory, interrupt) fails that question only: the
    accumulator shared by every question is zeroed and the next question is exact."""
    from store.search.index import kernels

    index, docs = synthetic
    monkeypatch.setattr(scan, "SPARSE_SHARE", sparse_share)
    monkeypatch.setattr(scan, "SCAN_MIN", 0)
    monkeypatch.setattr(scan, "SCAN_RATIO", 0)
    monkeypatch.setattr(scan, "SCAN_THREADS", 2)
    monkeypatch.setattr(scan, "SCAN_PART_MIN", 10)
    real = getattr(kernels, loop)
    calls = itertools.count()  # next() is atomic: the slices call from two threads

    def flaky(*args):
        n = next(calls)
        done = real(*args)
        if n == 2:
            raise MemoryError("simulated")
        return done

    monkeypatch.setattr(kernels, loop, flaky)
    q = docs[3][1][:8]
    with pytest.raises(MemoryError):
        index.search(q, 10)
    assert not index.scratch.array.any()
    assert index.search(q, 10) == index.search_dense(q, 10)


def test_two_processes_saving_the_same_index_folder_leave_it_loadable(tmp_path):
    """The bot and a `paperbot import` both keep `<db>.index/`: whichever saves last, the folder
    holds a complete index (a segment whose files the other one's save removed is written again)."""
    from store.collection.importers.jsonl import iter_records

    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    bot = sync_index(db, path)
    cli = Index.load(index_dir(path))

    def add(n: int) -> None:
        papers = [
            {"title": f"Fresh paper {n}-{i}", "abstract": f"Topic {n} idea {i}."} for i in range(5)
        ]
        store_db.upsert_papers(db, iter_records(json.dumps(p) for p in papers))

    add(1)
    bot = sync_index(db, path, bot)  # saves its new segment
    add(2)
    cli = sync_index(db, path, cli)  # saves its own view: the bot's segment files go
    add(3)
    bot = sync_index(db, path, bot)  # the bot's older segment must be written again
    loaded = Index.load(index_dir(path))
    assert loaded is not None and loaded.size == bot.size == 91 + 15
    fresh = sync_index(db, None, Index())
    for q in (["fresh", "paper"], ["topic", "3", "idea"], ["linear", "map", "imag"]):
        assert [p for p, _ in loaded.search(q, 10)] == [p for p, _ in fresh.search(q, 10)]


def test_saves_of_two_views_of_one_folder_interleaved_leave_the_last_one(tmp_path):
    """Two processes that loaded the same folder and save in turns: the folder always holds the
    last saver's ids and terms (its appends never land after the other one's lines)."""
    first = Index()
    first.add([("p0", ["zero", "common"]), ("p1", ["one", "common"])])
    first.save(tmp_path)
    bot, cli = Index.load(tmp_path), Index.load(tmp_path)
    bot.add([("pa", ["apple", "common"])])
    bot.save(tmp_path)
    cli.add([("pb", ["berry", "common"])])
    cli.save(tmp_path)
    bot.add([("pc", ["cherry", "common"])])
    bot.save(tmp_path)
    loaded = Index.load(tmp_path)
    assert list(loaded.ids) == ["p0", "p1", "pa", "pc"] == list(bot.ids)
    assert list(loaded.terms) == list(bot.terms)
    for word, paper in (("apple", "pa"), ("cherry", "pc"), ("zero", "p0")):
        assert [p for p, _ in loaded.search([word], 3)] == [paper]
    assert loaded.ids.get("pb") is None and loaded.search(["berry"], 3) == []
    # Each state's files only: the other view's are gone once a save committed.
    named = set(json.loads((tmp_path / "meta.json").read_text())["files"].values())
    texts = {p.name for p in tmp_path.glob("*.txt")}
    assert texts == {n for n in named if n.endswith(".txt")}


def test_a_save_cut_short_before_meta_leaves_the_previous_index(tmp_path, monkeypatch):
    """Everything a save writes has a name of its own until meta.json names it: a crash at any
    point before that leaves the previous state loadable and whole."""
    index = Index()
    index.add([(f"p{i}", ["beta", f"word{i}"]) for i in range(5)])
    index.save(tmp_path)
    index.add([("p5", ["delta", "beta"])])

    def crash(path, text):
        raise OSError("power cut")

    monkeypatch.setattr(persist, "write_text", crash)
    with pytest.raises(OSError):
        index.save(tmp_path)
    monkeypatch.undo()
    loaded = Index.load(tmp_path)
    assert list(loaded.ids) == [f"p{i}" for i in range(5)] and loaded.search(["delta"], 3) == []
    assert [p for p, _ in loaded.search(["word1"], 3)] == ["p1"]
    index.save(tmp_path)  # the next save completes it
    assert [p for p, _ in Index.load(tmp_path).search(["delta"], 3)] == ["p5"]


def test_an_empty_keys_file_is_rebuilt_not_fatal(tmp_path):
    """In a folder saved before checksums (nothing says the keys file changed), the keys are
    rebuilt from the lines; with checksums, the folder is found damaged (then rebuilt from the
    database by `sync_index`)."""
    index = Index()
    index.add([(f"p{i}", ["beta", f"word{i}"]) for i in range(5)])
    index.save(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / meta["files"]["terms-keys"]).write_bytes(b"")
    assert Index.load(tmp_path) is None
    del meta["checksums"], meta["check"]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    loaded = Index.load(tmp_path)
    assert [p for p, _ in loaded.search(["word3"], 3)] == ["p3"]


def test_a_bulk_catch_up_does_not_keep_the_dicts_of_strings(tmp_path, monkeypatch):
    """A refresh that meets a big import builds the dicts of terms and ids for its lookups, and
    drops them afterwards: the running bot stays at the string tables' memory."""
    from store.collection.importers.jsonl import iter_records

    monkeypatch.setattr(sync_mod, "POOL_MIN", 10)
    monkeypatch.setattr(sync_mod, "POOL_CHUNK", 10)
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    index = sync_index(db, path)
    papers = [{"title": f"Bulk paper {i}", "abstract": f"Bulk idea number {i}."} for i in range(40)]
    store_db.upsert_papers(db, iter_records(json.dumps(p) for p in papers))
    index = sync_index(db, path, index)
    assert not index.terms._full and not index.ids._full
    assert index.terms._latest == {} and index.ids._latest == {}
    assert [p for p, _ in index.search(["bulk", "39"], 1)] == [
        p for p, _ in sync_index(db, None, Index()).search(["bulk", "39"], 1)
    ]


def test_a_segment_half_written_by_a_failed_save_is_written_whole_by_the_next(
    tmp_path, monkeypatch
):
    """Disk full while a new segment's files are written: the next save writes them all again
    instead of naming a segment whose files are missing in meta.json."""
    index = Index()
    index.add([(f"p{i}", ["beta", f"word{i}"]) for i in range(5)])
    index.save(tmp_path)
    index.add([("p5", ["delta", "beta"])])
    real_save = persist.save_array

    def full_disk(path, array):
        if path.name.endswith("-tfs.npy"):
            raise OSError("no space left on device")
        real_save(path, array)

    monkeypatch.setattr(persist, "save_array", full_disk)
    with pytest.raises(OSError):
        index.save(tmp_path)
    monkeypatch.undo()
    index.save(tmp_path)
    loaded = Index.load(tmp_path)
    assert loaded is not None
    assert [p for p, _ in loaded.search(["delta"], 3)] == ["p5"]
