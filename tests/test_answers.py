"""Answers over the bundled collection: ask, no-answer, snippets, topic paging, repo, similar."""

from __future__ import annotations

import json

import pytest

from store.answers.engine import Answers, mark_terms
from store.answers.evaluation import evaluate, load_questions, refusals
from store.text import split_sentences, tokenize
from tests.conftest import DATA
from tests.helpers import dense_weighted_scores


def test_ask_finds_the_paper_and_quotes_the_answering_sentence(seed_answers: Answers):
    answer = seed_answers.ask(
        "Which paper maps image features into a frozen LM with one linear projection?"
    )
    top = answer.results[0]
    assert top.title == "Linearly Mapping from Image to Text Space"
    assert "single linear projection" in top.snippet
    assert top.links == [{"url": "https://github.com/jmerullo/limber", "kind": "code"}]
    bold = {top.snippet[a:b].lower() for a, b in top.marks}
    assert {"linear", "frozen"} <= bold


def test_ask_returns_three_by_default_and_respects_limit(seed_answers: Answers):
    assert len(seed_answers.ask("remote sensing vision-language dataset").results) == 3
    assert len(seed_answers.ask("remote sensing vision-language dataset", limit=1).results) == 1


@pytest.mark.parametrize(
    "question",
    ["What is the weather in Paris tomorrow?", "qwxz plmk vbrt", "", "   ", "🍕🎉", "the of and"],
)
def test_nothing_relevant_returns_no_results(seed_answers: Answers, question: str):
    assert seed_answers.ask(question).results == []


def test_off_topic_question_gets_labelled_suggestions_only(seed_answers: Answers):
    answer = seed_answers.ask("protein folding with molecular dynamics simulation")
    assert answer.results == []
    # what the user reads instead: one to three titles of papers that do exist, weak matches
    assert 1 <= len(answer.suggestions) <= 3
    titles = {p["title"] for p in seed_answers.papers(list(seed_answers.index.ids)).values()}
    assert set(answer.suggestions) <= titles


def test_sql_and_fts_syntax_is_just_words(seed_answers: Answers):
    answer = seed_answers.ask('"remote sensing" OR 1=1; DROP TABLE papers; -- NEAR(clip*)')
    assert answer.results and "Remote Sensing" in answer.results[0].title
    assert seed_answers.stats()["papers"] == 91


def test_sentence_splitting_survives_abbreviations_decimals_and_urls():
    text = (
        "We test e.g. CLIP and BLIP, i.e. two models, as in Radford et al. which is older. "
        "See Fig. 2 for the 85.3% top-1 result. Code is at https://github.com/a/b.c and more. Done."
    )
    assert split_sentences(text) == [
        "We test e.g. CLIP and BLIP, i.e. two models, as in Radford et al. which is older.",
        "See Fig. 2 for the 85.3% top-1 result.",
        "Code is at https://github.com/a/b.c and more.",
        "Done.",
    ]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("vision-language", ["vision", "languag", "visionlanguag"]),
        ("GPT-4 and 2D/3D", ["gpt", "4", "gpt4", "2d", "3d"]),
        ("CLIP MaPLe GiT LLaVA", ["clip", "mapl", "git", "llava"]),
        ("85.3 1024 10x", ["85.3", "1024", "10x"]),
        ("The models are training", ["model", "train"]),
    ],
)
def test_tokenizer_for_this_field(text, terms):
    assert tokenize(text) == terms


def test_marks_cover_query_words_only():
    text = "Frozen language models map images."
    spans = mark_terms(text, set(tokenize("frozen image")))
    assert [text[a:b] for a, b in spans] == ["Frozen", "images"]


def test_topic_pages_without_overlap(seed_answers: Answers):
    first = seed_answers.topic("remote sensing", offset=0, limit=2)
    second = seed_answers.topic("remote sensing", offset=2, limit=2)
    assert first.total == second.total >= 4
    assert len(first.results) == len(second.results) == 2
    assert not {h.id for h in first.results} & {h.id for h in second.results}
    assert all(len(h.snippet) <= 221 for h in first.results)


def test_repo_by_acronym_not_in_title(seed_answers: Answers):
    answer = seed_answers.repo("CLIP")
    top = answer.results[0]
    assert top.title == "Learning Transferable Visual Models From Natural Language Supervision"
    assert top.links_by_kind() == {"code": ["https://github.com/OpenAI/CLIP"]}


def test_repo_by_title_name_groups_links(seed_answers: Answers):
    top = seed_answers.repo("pivot").results[0]
    assert top.links_by_kind() == {
        "demo": ["https://huggingface.co/spaces/pivot-prompt/pivot-prompt-demo"],
        "project": ["https://pivot-prompt.github.io"],
    }


def test_repo_of_paper_without_links_invents_none(seed_answers: Answers):
    top = seed_answers.repo("CroCo").results[0]
    assert top.title.startswith("CroCo:")
    assert top.links == []


def test_similar_excludes_itself_and_stays_on_subject(seed_answers: Answers):
    rs5m = seed_answers.repo("RS5M").results[0]
    similar = seed_answers.similar(rs5m.id, limit=3)
    assert rs5m.id not in [h.id for h in similar.results]
    assert any("Remote Sensing" in h.title for h in similar.results)
    assert seed_answers.similar("no-such-id").results == []


def test_json_contract(seed_answers: Answers):
    """README's `--json` contract, the whole shape: no key more, no key less, the right types."""
    data = seed_answers.ask("remote sensing").to_json()
    assert data.keys() == {"query", "results", "suggestions", "total", "offset"}
    assert data["query"] == "remote sensing" and data["suggestions"] == []
    assert isinstance(data["total"], int) and data["offset"] == 0
    assert data["results"] and data["total"] >= len(data["results"])
    for item in data["results"]:
        assert item.keys() == {"id", "title", "score", "snippet", "url", "links", "marks"}
        assert isinstance(item["score"], float) and item["snippet"] and item["title"]
        assert all(link.keys() == {"url", "kind"} for link in item["links"])
        for start, end in item["marks"]:
            assert 0 <= start < end <= len(item["snippet"])
    assert json.loads(json.dumps(data)) == data  # plain JSON, nothing lost on the way


def test_literal_questions_floor(seed_answers: Answers):
    report = evaluate(seed_answers, load_questions(DATA / "eval_literal.jsonl"))
    assert report["questions"] >= 40
    assert report["recall@1"] >= 0.9 and report["recall@3"] >= 0.97


def test_nonsense_questions_are_refused(seed_answers: Answers):
    lines = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
    report = refusals(seed_answers, [q for q in lines if q.strip()])
    assert report["answered"] == []


# ---------------------------------------------------------------- cost that does not grow with the collection


def test_ranked_equals_dense_scoring_of_the_expanded_query(seed_answers: Answers):
    """`ask` ranks by the pruned top-k: the same papers, in the same order, as the dense sum."""
    import numpy as np

    for question in [
        "remote sensing vision-language dataset",
        "photo caption",
        "LLM hallucination",
    ]:
        terms = seed_answers._query_terms(question)
        exp = seed_answers._expand(terms)
        dense = dense_weighted_scores(seed_answers.index, exp.weights)
        hits = np.flatnonzero(dense > 0)
        hits = hits[np.lexsort((hits, -dense[hits]))][:15]
        top = seed_answers._lexical_top(exp.weights, 15)
        assert [p for p, _ in top] == [seed_answers.index.ids[d] for d in hits]
        assert np.allclose([s for _, s in top], dense[hits], rtol=1e-12)


def test_matching_scores_only_the_given_papers(seed_answers: Answers):
    ids = list(seed_answers.index.ids)
    picked = seed_answers.matching("remote sensing", ids)
    assert picked and set(picked) <= set(ids)
    assert seed_answers.matching("remote sensing", [*picked[:1], "no-such-id"]) == picked[:1]
    assert seed_answers.matching("qwxz plmk", ids[:10]) == []


def test_term_frequencies_read_back_equal_what_the_index_counted(seed_answers: Answers):
    from store.collection import db as store_db
    from store.search.index import count_document

    for pid, _seq, title, abstract, links in list(store_db.iter_for_index(seed_answers.db))[:20]:
        counted = count_document(title, abstract, links)
        assert seed_answers.term_frequencies(pid) == dict(
            zip(counted.terms, counted.counts, strict=True)
        )


def test_acronyms_and_aliases_grow_with_imports(tmp_path):
    """New papers' acronyms expand queries and their names resolve, without a rescan."""
    from store.collection import db as store_db
    from store.collection.importers import parse_text

    path = tmp_path / "papers.db"
    answers = Answers.open(path)
    before = len(answers.vocabularies()[1])
    assert (
        answers.repo("Zorblatt").results == []
        or answers.repo("Zorblatt").results[0].title != "Zorblatt: a test"
    )
    record = {
        "title": "Zorblatt: a test",
        "abstract": "We study quasi stellar widgets (QSW) at scale. Code: https://github.com/lab/zorb-code",
    }
    store_db.upsert_papers(answers.db, parse_text(json.dumps(record)))
    answers.refresh()
    assert len(answers.vocabularies()[1]) > before
    assert "qsw" in {p[0] for p in answers.vocabularies()[1].groups if len(p) == 1}
    assert answers.repo("Zorblatt").results[0].title == "Zorblatt: a test"
    assert answers.repo("zorb-code").results[0].title == "Zorblatt: a test"
    reopened = Answers.open(path)  # mined definitions are saved with the index
    assert len(reopened.vocabularies()[1]) == len(answers.vocabularies()[1])


def test_a_subscription_selects_a_paper_by_its_repository_name_as_ask_does(tmp_path):
    """The code link's words count for the no-answer rule in both `ask` and subscriptions."""
    from store.collection import db as store_db
    from store.collection.importers import parse_text

    answers = Answers.open(tmp_path / "papers.db")
    record = {
        "id": "x-1",
        "title": "Sparse routing for mixture experts",
        "abstract": "We route tokens sparsely across experts and study load balance at scale.",
        "links": [{"url": "https://github.com/lab/quokkaroute", "kind": "code"}],
    }
    store_db.upsert_papers(answers.db, parse_text(json.dumps(record)))
    answers.refresh()
    assert answers.ask("quokkaroute").results[0].id == "x-1"
    assert answers.matching("quokkaroute", ["x-1"]) == ["x-1"]
