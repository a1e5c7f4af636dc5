"""The semantic stage with the real all-MiniLM-L6-v2 on the seed: the numpy encoder with the weights
shipped in the package, so it always runs (no torch; tests/test_encoder.py checks the encoder
against torch's vectors). The parts with a toy encoder are in tests/test_fusion.py."""

from __future__ import annotations

import numpy as np
import pytest

from store.answers.engine import Answers
from store.answers.evaluation import evaluate, load_questions, refusals
from store.collection import db as store_db
from store.semantic import stage as sem
from tests.conftest import DATA


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
    chunks = sem.paper_passages("Title", abstract)
    assert chunks[0] == "Title. " + abstract  # the whole text first
    assert all(c.startswith("Title. ") for c in chunks[1:])
    assert {"One.", "Five."} <= {w for c in chunks for w in c.split()}


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


def test_minilm_finds_the_issue_examples(minilm: Answers):
    cases = {
        "Who hooks a frozen language model up to images with nothing but one linear layer?": "Linearly Mapping from Image to Text Space",
        "the one where the model decides by itself to look at a region of the image again": "Introducing Visual Perception Token into Multimodal Large Language Model",
        "vision transformers that learn without labels": "SiT: Self-supervised vIsion Transformer",
    }
    for question, title in cases.items():
        assert title in [h.title for h in minilm.ask(question).results[:3]], question


def test_minilm_names_and_typos_come_first(minilm: Answers):
    cases = {
        "clip paper?": "Learning Transferable Visual Models From Natural Language Supervision",
        "what is croco": "CroCo: Self-Supervised Pre-training for 3D Vision Tasks by Cross-View Completion",
        "flamngo few shot": "Flamingo: a Visual Language Model for Few-Shot Learning",
    }
    for question, title in cases.items():
        assert minilm.ask(question).results[0].title == title, question


REST = ("names_typos", "lab_b", "facts")


def test_minilm_refuses_only_what_neither_stage_finds(minilm: Answers):
    """Issue 19's contract: no more than 1% of the real questions refused, pooled over every
    answerable set (the no-answer decision trades that for refusing topics the collection lacks;
    today 2 of 456: "Which model also listens to the soundtrack of a clip...", "...a
    pix2pix-style editor"), and every off-topic one refused (test_minilm_stage_on_the_seed)."""
    asked, refused = 0, []
    for name in (*("literal", "paraphrase", "paraphrase_heldout", "paraphrase_hard"), *REST):
        items = load_questions(DATA / f"eval_{name}.jsonl")
        asked += len(items)
        refused += [i["question"] for i in items if not minilm.ask(i["question"]).results]
    assert len(refused) <= 0.01 * asked, refused
