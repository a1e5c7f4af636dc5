"""The semantic stage: fusion and the vector store as pure code (hand-made vectors, a toy encoder),
then the real all-MiniLM-L6-v2 stage on the seed: the numpy encoder with the weights shipped in the
package, so it always runs (no torch; tests/test_encoder.py checks the encoder against torch)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from store import db as store_db
from store import semantic as sem
from store.answers import Answers
from store.evaluation import evaluate, load_questions, refusals
from store.text import tokenize
from tests.conftest import DATA


def test_fuse_trusts_bm25_for_literal_and_meaning_for_paraphrase():
    lexical = {"a": 10.0, "b": 5.0}
    semantic = {"a": 0.2, "b": 0.3, "c": 0.6}
    assert [p for p, _ in sem.fuse(lexical, semantic, trust=1.0)][:2] == ["a", "b"]
    assert [p for p, _ in sem.fuse(lexical, semantic, trust=0.0)][0] == "c"
    blended = dict(sem.fuse(lexical, semantic, trust=0.5, floor=0.0))
    assert blended["a"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.2 / 0.6)
    assert blended["c"] == pytest.approx(0.5 * 1.0)


def test_fuse_handles_empty_sides_and_breaks_ties_by_bm25():
    assert sem.fuse({}, {}, 0.5) == []
    assert [p for p, _ in sem.fuse({"x": 1.0}, {}, 0.3)] == ["x"]
    assert [p for p, _ in sem.fuse({}, {"y": 0.4, "z": 0.9}, 0.3)] == ["z", "y"]
    tied = sem.fuse({"p": 2.0, "q": 4.0}, {"p": 0.5, "q": 0.5}, trust=0.0)
    assert [p for p, _ in tied] == ["q", "p"]


def test_lexical_confidence_is_a_clamped_ramp():
    assert sem.lexical_confidence(0.05, 0.1, 0.85) == 0.0
    assert sem.lexical_confidence(0.9, 0.1, 0.85) == 1.0
    assert sem.lexical_confidence(0.475, 0.1, 0.85) == pytest.approx(0.5)


def test_vectors_keep_the_best_chunk_per_paper_and_replace_changed_papers(tmp_path):
    vectors = sem.Vectors(2)
    vectors.put([("p1", [[1, 0], [0, 1]]), ("p2", [[0.6, 0.8]])])
    sims = vectors.similarities(np.array([0.0, 1.0]))
    assert vectors.ids == ["p1", "p2"] and sims.tolist() == pytest.approx([1.0, 0.8])
    vectors.put([("p1", [[1, 0]])])  # p1 changed: its old chunks go
    assert vectors.similarities(np.array([0.0, 1.0]))[vectors.row_of["p1"]] == pytest.approx(0.0)
    vectors.covered_seq, vectors.db_uuid = 7, "u"
    vectors.save(tmp_path / "v")
    loaded = sem.Vectors.load(tmp_path / "v")
    assert loaded is not None and loaded.owners == vectors.owners and loaded.covered_seq == 7
    assert np.array_equal(loaded.matrix, vectors.matrix)
    assert sem.Vectors.load(tmp_path / "v", model="another-model") is None
    assert sem.Vectors.load(tmp_path / "missing") is None


def test_question_scaffolding_is_not_embedded():
    assert (
        sem.question_text("Which papers deal with satellite imagery?")
        == "deal with satellite imagery"
    )
    assert sem.question_text("The one where the model zooms in") == "the model zooms in"
    assert sem.question_text("Is there a survey of prompts?") == "survey of prompts"
    assert sem.question_text("Which") == "Which"


def test_paper_chunks_cover_the_whole_abstract():
    abstract = "One. Two. Three. Four. Five."
    chunks = sem.paper_chunks("Title", abstract)
    assert chunks[0] == "Title"
    assert all(c.startswith("Title. ") for c in chunks[1:])
    assert {"One.", "Five."} <= {w for c in chunks for w in c.split()}


class ToyEncoder:
    """Hashed bag of stemmed words: deterministic, no torch, enough to exercise the stage."""

    name = "toy-hash-encoder"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts):
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for term in tokenize(text):
                out[i, int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dim] += 1
            norm = np.linalg.norm(out[i])
            out[i] /= norm or 1.0
        return out


def test_stage_stores_vectors_beside_the_db_and_reuses_them(tmp_path):
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    encoder = ToyEncoder()
    answers = Answers(db, path, semantic=encoder)
    assert answers.stage == "bm25+expansion+semantic"
    assert "toy-hash-encoder" in answers.describe_stage()
    assert (tmp_path / "papers.db.vectors" / "vectors.npy").exists()
    assert len(answers.vectors) == 91
    embedded = encoder.calls
    again = Answers(db, path, semantic=encoder)  # loaded, not embedded again
    assert len(again.vectors) == 91 and encoder.calls == embedded
    answer = again.ask("remote sensing vision-language dataset")
    assert "Remote Sensing" in answer.results[0].title
    assert set(answer.to_json()["results"][0]) >= {
        "id",
        "title",
        "score",
        "snippet",
        "url",
        "links",
    }
    assert again.ask("How do I fix a leaky kitchen faucet?").results == []


def test_stage_off_says_how_to_turn_it_on(tmp_path):
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    answers = Answers(db, path, semantic=False)
    assert answers.stage == "bm25+expansion"
    assert "semantic stage" in answers.describe_stage()
    assert not (tmp_path / "papers.db.vectors").exists()


def test_environment_switch(monkeypatch):
    monkeypatch.delenv(sem.ENV_SWITCH, raising=False)
    assert not sem.wanted() and sem.load_encoder() is None  # opt-in, even when installed
    monkeypatch.setenv(sem.ENV_SWITCH, "off")
    assert not sem.wanted()
    monkeypatch.setenv(sem.ENV_SWITCH, "on")
    assert sem.wanted()


def test_installed_means_the_model_folder_is_there(tmp_path, monkeypatch):
    monkeypatch.delenv("PAPERBOT_MODEL_DIR", raising=False)
    assert sem.installed()  # shipped in the package, with no torch
    monkeypatch.setenv("PAPERBOT_MODEL_DIR", str(tmp_path / "nowhere"))
    assert not sem.installed()
    monkeypatch.setenv(sem.ENV_SWITCH, "on")
    assert sem.load_encoder() is None  # a missing model falls back to the light stages


# ---------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    assert sem.installed()
    path = tmp_path_factory.mktemp("semantic") / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    return Answers(db, path, semantic=sem.Encoder())


def test_minilm_vectors_are_unit_length(minilm: Answers):
    vectors = minilm.encoder.encode(["remote sensing", "a frozen language model"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_minilm_stage_on_the_seed(minilm: Answers):
    literal = evaluate(minilm, load_questions(DATA / "eval_literal.jsonl"))
    paraphrase = evaluate(minilm, load_questions(DATA / "eval_paraphrase.jsonl"))
    assert literal["recall@1"] >= 0.98
    assert paraphrase["recall@3"] >= 0.78
    lines = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
    assert refusals(minilm, [q for q in lines if q.strip()])["answered"] == []
    refused = [
        item["question"]
        for item in load_questions(DATA / "eval_paraphrase.jsonl")
        if not minilm.ask(item["question"]).results
    ]
    assert refused == []


def test_minilm_finds_the_issue_examples(minilm: Answers):
    cases = {
        "Who hooks a frozen language model up to images with nothing but one linear layer?": "Linearly Mapping from Image to Text Space",
        "the one where the model decides by itself to look at a region of the image again": "Introducing Visual Perception Token into Multimodal Large Language Model",
        "vision transformers that learn without labels": "SiT: Self-supervised vIsion Transformer",
    }
    for question, title in cases.items():
        assert title in [h.title for h in minilm.ask(question).results[:3]], question
