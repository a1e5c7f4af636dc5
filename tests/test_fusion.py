"""The semantic stage's parts with a toy encoder (no model needed): fusion, the vector store,
embedding in the background, shipped vectors; and the question fixes of BM25: typos and names."""

from __future__ import annotations

import asyncio
import hashlib

import numpy as np
import pytest

from store.answers.engine import Answers
from store.answers.spelling import Speller, one_edit
from store.collection import db as store_db
from store.semantic import saved
from store.semantic import stage as sem
from store.semantic import vectors as vec
from store.text import tokenize


class ToyEncoder:
    """Hashed bag of stemmed words: deterministic and fast, enough to exercise the stage."""

    dim = 64

    def __init__(self, name: str = "toy-hash-encoder", dim: int = 64) -> None:
        self.name, self.dim, self.calls = name, dim, 0

    def encode(self, texts):
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for term in tokenize(text):
                out[i, int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dim] += 1
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


def seeded(tmp_path):
    path = tmp_path / "papers.db"
    db = store_db.open_db(path)
    store_db.ensure_seeded(db)
    return db, path


# ---------------------------------------------------------------- fusion


def test_fuse_weighs_standard_scores():
    lexical = {"a": 10.0, "b": 5.0, "c": 0.0}
    semantic = {"a": 0.2, "b": 0.3, "c": 0.7}
    assert [p for p, _ in sem.fuse(lexical, semantic, 1.0)] == ["a", "b", "c"]
    assert [p for p, _ in sem.fuse(lexical, semantic, 0.0)] == ["c", "b", "a"]
    # scaled scores do not change the order: only how far a paper stands out counts
    scaled = {k: v * 100 for k, v in lexical.items()}
    same, scaled_fused = sem.fuse(lexical, semantic, 0.5), sem.fuse(scaled, semantic, 0.5)
    assert [p for p, _ in same] == [p for p, _ in scaled_fused]
    assert [s for _, s in same] == pytest.approx([s for _, s in scaled_fused])


def test_fuse_an_unembedded_paper_counts_as_average_and_a_named_one_gains():
    order = [p for p, _ in sem.fuse({"new": 9.0, "a": 1.0, "b": 1.0}, {"a": 0.9, "b": 0.1}, 0.6)]
    assert order[0] == "new"  # not embedded yet: ranked by its words
    boosted = sem.fuse({"a": 2.0, "b": 1.0}, {"a": 0.5, "b": 0.4}, 0.5, bonus={"b": 3.0})
    assert boosted[0][0] == "b"
    assert sem.fuse({}, {}, 0.5) == []


# ---------------------------------------------------------------- the vector store


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_similarity_is_the_mean_of_the_whole_text_and_the_best_window(tmp_path):
    store = vec.Vectors(2, "m")
    store.put([("p1", "k1", [unit(1, 0), unit(0, 1), unit(1, 1)]), ("p2", "k2", [unit(0, 1)])])
    sims = store.similarity(unit(0, 1), ["p1", "p2", "missing"])
    assert sims == pytest.approx({"p1": (0.0 + 1.0) / 2, "p2": 1.0}, abs=1e-3)
    assert store.candidates(unit(0, 1), 1) == ["p2"]
    store.put([("p1", "k1b", [unit(0, 1)])])  # p1 changed: only its new rows count
    assert store.similarity(unit(0, 1), ["p1"])["p1"] == pytest.approx(1.0, abs=1e-3)
    store.forget(["p2"])
    assert len(store) == 1 and "p2" not in store


def test_vectors_round_trip_compactly_and_damaged_files_are_dropped(tmp_path):
    store = vec.Vectors(2, "m")
    store.put([("p1", "k1", [unit(1, 0), unit(0, 1)]), ("p2", "k2", [unit(0, 1)])])
    store.put([("p1", "k1b", [unit(1, 1)])])
    store.covered_seq, store.db_uuid = 7, "u"
    folder = tmp_path / "v"
    store.save(folder)
    loaded = vec.Vectors.load(folder, "m")
    assert loaded is not None and len(loaded) == 2 and loaded.covered_seq == 7
    assert loaded.windows.dtype == np.float16 and len(loaded.windows) == 0  # old rows compacted
    assert loaded.similarity(unit(1, 1), ["p1"])["p1"] == pytest.approx(1.0, abs=1e-3)
    assert vec.Vectors.load(folder, "another-model") is None
    saved.files_of(folder)["ends"].write_bytes(b"\x93NUMPY garbage")
    assert vec.Vectors.load(folder, "m") is None
    assert vec.Vectors.load(tmp_path / "missing", "m") is None


# ---------------------------------------------------------------- the stage in Answers


def test_a_fresh_install_takes_the_shipped_vectors_without_embedding(tmp_path):
    db, path = seeded(tmp_path)
    encoder = ToyEncoder(name=sem.MODEL_NAME, dim=384)
    answers = Answers(db, path, semantic=encoder)
    assert len(answers.vectors) == 91 and answers.unembedded() == 0
    assert encoder.calls == 0  # no paper embedded: the bundled collection's vectors ship


def test_embedding_waits_for_the_background_and_questions_meanwhile_use_bm25(tmp_path):
    db, path = seeded(tmp_path)
    encoder = ToyEncoder()
    answers = Answers(db, path, semantic=encoder)  # 91 papers to embed: too many to wait for
    assert encoder.calls == 0 and len(answers.vectors) == 0 and answers.unembedded() == 91
    assert (
        "Remote Sensing" in answers.ask("remote sensing vision-language dataset").results[0].title
    )
    seen = []
    assert answers.embed(max_papers=40, progress=seen.append) == 40 and sum(seen) == 40
    assert answers.unembedded() == 51
    again = Answers(db, path, semantic=encoder)  # resumes from what was saved
    assert len(again.vectors) == 40
    again.embed()
    assert again.unembedded() == 0 and len(again.vectors) == 91
    calls = encoder.calls
    third = Answers(db, path, semantic=encoder)
    assert len(third.vectors) == 91 and encoder.calls == calls  # loaded, not embedded again
    assert "Remote Sensing" in third.ask("remote sensing vision-language dataset").results[0].title


def test_stage_off_by_switch(tmp_path, monkeypatch):
    db, path = seeded(tmp_path)
    monkeypatch.setenv(sem.ENV_SWITCH, "off")
    assert not sem.wanted() and sem.load_encoder() is None
    answers = Answers(db, path)
    assert answers.stage == "bm25+expansion" and "PAPERBOT_SEMANTIC=off" in answers.describe_stage()
    monkeypatch.delenv(sem.ENV_SWITCH)
    assert sem.wanted()  # on by default


# ---------------------------------------------------------------- typos and names


def test_one_edit():
    assert (
        one_edit("promt", "prompt") and one_edit("lern", "learn") and one_edit("lxmret", "lxmert")
    )
    assert one_edit("cat", "cut") and not one_edit("stay", "sota") and not one_edit("same", "same")


def test_speller_corrects_unknown_words_only_to_close_frequent_ones():
    speller = Speller([("prompt", 30), ("pompt", 2), ("learn", 50), ("rare", 1)])
    assert speller.correct("promt") == "prompt"
    assert speller.correct("rar") is None  # "rare" is seen once: not a target
    assert speller.correct("xyzzy") is None and speller.correct("ab") is None


@pytest.fixture(scope="module")
def bm25_only(tmp_path_factory):
    db, path = seeded(tmp_path_factory.mktemp("bm25"))
    return Answers(db, path, semantic=False)


PROMPT_LEARNING = {
    "Learning to Prompt for Vision-Language Models",
    "MaPLe: Multi-modal Prompt Learning",
    "Mixture of Prompt Learning for Vision Language Models",
    "Active Prompt Learning in Vision Language Models",
}


def test_typos_are_answered_not_refused(bm25_only):
    titles = [h.title for h in bm25_only.ask("promt lerning for clip").results]
    assert PROMPT_LEARNING & set(titles), titles
    titles = [h.title for h in bm25_only.ask("remote sensing captoining with llms").results]
    assert titles[0] == "Large Language Models for Captioning and Retrieving Remote Sensing Images"


def test_a_paper_named_by_its_repository_is_found(tmp_path):
    db, path = seeded(tmp_path)
    answers = Answers(db, path, semantic=ToyEncoder())
    answers.embed()
    # the CLIP paper's abstract never says "CLIP": its code link does (first with the real model:
    # test_semantic.py; here the toy's meaning is noise)
    titles = [h.title for h in answers.ask("clip paper?").results]
    assert "Learning Transferable Visual Models From Natural Language Supervision" in titles[:3]
    without = Answers(db, path, semantic=answers.encoder)
    without.aliases = dict  # no names known: the paper is not found by its words alone
    titles = [h.title for h in without.ask("clip paper?").results]
    assert "Learning Transferable Visual Models From Natural Language Supervision" not in titles


def test_a_short_lower_case_word_is_not_taken_for_a_name(bm25_only):
    # "sit" is the SiT paper's name, and an English word
    assert bm25_only.ask("How do I train my puppy to sit and stay?").results == []


# ---------------------------------------------------------------- snippets that hold the answer


def test_every_fact_question_quotes_its_fact(bm25_only):
    """tests/data/eval_facts.jsonl: numbers, dataset names, sizes, each reply must quote it."""
    from store.answers.evaluation import facts, load_questions
    from tests.conftest import DATA

    result = facts(bm25_only, load_questions(DATA / "eval_facts.jsonl"))
    assert result["questions"] >= 20 and result["missed"] == []


def test_a_quantity_question_quotes_the_number_not_the_sentence_naming_the_paper(bm25_only):
    hit = bm25_only.ask("how many image text pairs was CLIP trained on?").results[0]
    assert "400 million" in hit.snippet
    hit = bm25_only.ask("how much does bottom-up patch summarization speed up training?").results[0]
    assert "50%" in hit.snippet


# ---------------------------------------------------------------- the bot embeds in the background


async def test_the_running_bot_embeds_new_papers_in_the_background(tmp_path, api):
    """A bot started over papers without vectors answers at once (BM25 for them) and gives them
    vectors in short background turns, saved at its stop."""
    from bot.app import build_application
    from bot.config import Settings
    from tests.harness import polling
    from tests.test_bot_e2e import RS_QUESTION, TOKEN

    db, path = seeded(tmp_path)
    answers = Answers(db, path, semantic=ToyEncoder())
    assert answers.unembedded() == 91
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api.base_url})
    app = build_application(settings, answers)
    async with polling(app):
        api.add_private_message(RS_QUESTION)
        [reply] = await api.wait_for_sent(1)
        assert "Remote Sensing" in reply["text"]
        for _ in range(200):
            if answers.unembedded() == 0:
                break
            await asyncio.sleep(0.1)
        assert answers.unembedded() == 0 and len(answers.vectors) == 91
    saved = vec.Vectors.load(vec.vectors_dir(path), "toy-hash-encoder")
    assert saved is not None and len(saved) == 91


def test_a_big_collection_never_makes_a_question_wait_for_the_names_table(tmp_path, monkeypatch):
    """Above NAMES_BUILT_BY_ASK papers (here: 10) ask leaves the table to /repo (59 s at 3M)."""
    from store.answers import lexical

    monkeypatch.setattr(lexical, "NAMES_BUILT_BY_ASK", 10)
    db, path = seeded(tmp_path)
    answers = Answers(db, path, semantic=False)
    assert answers.ask("clip paper?") is not None and answers._aliases is None
    assert answers.repo("CLIP").results  # /repo builds it
    assert answers._aliases is not None
