"""Query expansion: acronyms mined from abstracts, field synonyms, the no-answer rule with them."""

from __future__ import annotations

import numpy as np
import pytest

from store.answers.engine import Answers
from store.answers.evaluation import evaluate, load_questions, refusals
from store.collection import db as store_db
from store.search.expansion import (
    Vocabulary,
    add_definitions,
    definitions_in,
    expand,
    field_vocabulary,
    parse_definition,
    rm3_terms,
)
from store.text import tokenize
from tests.conftest import DATA
from tests.helpers import dense_weighted_scores


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    """The seed collection answered by BM25 + expansion only (what the default install runs)."""
    path = tmp_path_factory.mktemp("light") / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    return Answers(db, path, semantic=False)


@pytest.fixture(scope="module")
def plain(light):
    return Answers(light.db, light.db_path, index=light.index, expansion=False, semantic=False)


def acronyms_of(texts: list[str]) -> Vocabulary:
    """An acronym vocabulary built the way the engine builds it from the index's definitions."""
    vocab = Vocabulary()
    for text in texts:
        add_definitions(vocab, map(parse_definition, definitions_in(text)))
    return vocab


def test_acronyms_are_mined_with_their_long_forms():
    texts = [
        "Image-text data in the field of remote sensing (RS) is scarce.",
        "Large language models (LLMs) and Contrastive Language-Image Pre-training (CLIP).",
        "Self-supervised vIsion Transformers (SiT) work. Tasks: (i) one, (ii) two (textual).",
    ]
    pairs: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for short, long_, _words in (parse_definition(d) for t in texts for d in definitions_in(t)):
        pairs.setdefault(short, set()).add(long_)
    assert pairs[("rs",)] == {("remot", "sens")}
    assert ("larg", "languag", "model") in pairs[("llms",)]
    assert ("contrast", "languag", "imag", "languageimag", "pre", "train", "pretrain") in pairs[
        ("clip",)
    ]
    assert ("sit",) in pairs
    assert ("ii",) not in pairs and ("textual",) not in pairs


def test_expansion_adds_equivalents_both_ways_at_lower_weight():
    vocab = acronyms_of(["Image-text data in remote sensing (RS) is scarce."])
    forward = expand(tokenize("RS captioning"), [vocab])
    assert forward.weights["rs"] == 1.0
    assert 0 < forward.weights["remot"] < 1 and 0 < forward.weights["sens"] < 1
    assert forward.equivalents["rs"] == {"remot", "sens"}
    backward = expand(tokenize("remote sensing"), [vocab])
    assert 0 < backward.weights["rs"] < 1


def test_field_synonyms_are_general_and_phrase_aware():
    vocab = field_vocabulary()
    exp = expand(tokenize("satellite pictures without labels"), [vocab])
    assert {"remot", "sens", "aerial"} <= exp.equivalents["satellit"]
    assert "imag" in exp.equivalents["pictur"]
    assert "selfsupervis" in exp.weights  # "without labels" -> self-supervised
    assert all(w <= 1.0 for w in exp.weights.values())
    # a word that is in no group expands to nothing
    assert expand(tokenize("sourdough"), [vocab]).weights == {"sourdough": 1.0}


def test_expansion_drops_terms_the_collection_lacks():
    vocab = Vocabulary()
    vocab.add_group([("photo",), ("imag",), ("zzunseen",)], 0.5)
    exp = expand(["photo"], [vocab], known=lambda t: t != "zzunseen")
    assert "imag" in exp.weights and "zzunseen" not in exp.weights


def test_rm3_prefers_telling_words_of_the_best_documents():
    docs = [({"sens": 3, "remot": 3, "the": 9}, 2.0), ({"sens": 1, "imag": 5}, 1.0)]
    idf = {"sens": 3.0, "remot": 3.0, "the": 0.01, "imag": 0.1}.get
    out = rm3_terms(docs, idf, exclude={"remot"}, n_terms=2)
    assert list(out) == ["sens", "imag"]
    assert abs(sum(out.values()) - 1.0) < 1e-9


def test_without_expansion_scores_are_bm25okapi(plain: Answers):
    terms = tokenize("remote sensing image text dataset dataset")
    weights = plain._expand(terms).weights
    assert np.allclose(dense_weighted_scores(plain.index, weights), plain.index.scores(terms))


def test_expansion_finds_the_paper_in_other_words(light: Answers, plain: Answers):
    question = "Which papers deal with satellite or aerial imagery paired with text?"
    assert "Remote Sensing" in light.ask(question).results[0].title
    assert not any("Remote Sensing" in h.title for h in plain.ask(question).results[:1])


def test_snippet_marks_the_equivalent_that_matched(light: Answers):
    top = light.ask("satellite imagery paired with text").results[0]
    bold = {top.snippet[a:b].lower() for a, b in top.marks}
    assert bold & {"remote", "sensing", "rs"}


def test_matching_uses_equivalents(light: Answers):
    ids = [pid for (pid,) in light.db.execute("select id from papers")]
    chosen = light.matching("satellite imagery", ids)
    titles = {p["title"] for p in store_db.get_papers(light.db, chosen).values()}
    assert titles and all("Remote Sensing" in t or "GeoRSCLIP" in t for t in titles)


def test_equivalents_do_not_make_off_topic_questions_relevant(light: Answers):
    lines = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
    assert refusals(light, [q for q in lines if q.strip()])["answered"] == []
    for question in ("How do I take better photos of my dog?", "surface codes for qubits"):
        assert light.ask(question).results == []


def test_relevance_counts_an_equivalent_with_its_own_specificity():
    spec = {"photo": 4.0, "dog": 4.0}
    ok, coverage = Answers._relevant(spec, {"imag"}, {"photo": {"imag": 0.3}})
    assert not ok and coverage == pytest.approx(0.3 / 8.0)
    ok, coverage = Answers._relevant(spec, {"imag", "dog"}, {"photo": {"imag": 3.0}})
    assert ok and coverage == pytest.approx(7.0 / 8.0)


def test_expansion_keeps_literal_and_gains_on_paraphrase(light: Answers, plain: Answers):
    literal = load_questions(DATA / "eval_literal.jsonl")
    paraphrase = load_questions(DATA / "eval_paraphrase.jsonl")
    assert len(paraphrase) >= 40
    assert evaluate(light, literal)["recall@1"] >= 0.98
    with_exp = evaluate(light, paraphrase)
    without = evaluate(plain, paraphrase)
    assert with_exp["recall@3"] >= 0.65
    assert with_exp["recall@3"] > without["recall@3"]
    assert light.stage == "bm25+expansion" and plain.stage == "bm25"


def test_held_out_paraphrases_are_found_without_losing_ground(light: Answers, plain: Answers):
    """The held-out set (written from the listing alone, never used for tuning): the default
    install finds a right paper in the top three for 9 in 10, and expansion does not cost any."""
    heldout = load_questions(DATA / "eval_paraphrase_heldout.jsonl")
    assert len(heldout) >= 40
    assert sum(len(q["expected"]) > 1 for q in heldout) >= 6  # some with several right papers
    with_exp = evaluate(light, heldout)
    assert with_exp["recall@3"] >= 0.9
    assert with_exp["recall@3"] >= evaluate(plain, heldout)["recall@3"]
