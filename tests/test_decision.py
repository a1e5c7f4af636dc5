"""The no-answer decision on the bundled collection: topics the collection lacks are refused as a
whole (not answered with the nearest paper), real questions still answered, names from links,
and a paper not embedded yet judged on BM25's evidence alone."""

from __future__ import annotations

import json

import pytest

from store.answers import decision
from store.answers.engine import Answers
from store.collection.importers import parse_text

# In the field, but no paper of the collection is on them (each answered with a paper before).
ABSENT = [
    "federated learning with non-iid clients - does fedprox actually fix client drift?",
    "low-light image enhancement methods that don't blow out the noise",
    "3D brain tumor segmentaion on BraTS MRI volumes - is nnU-Net still sota?",
    "speaker diarization for meetings w overlapping speech",
    "video frame interpolation to turn 30fps footage into 120fps slow-mo",
    "sequential recommendation w/ transformers (sasrec, bert4rec) - which one for e-commerce clicks",
    "gnn for molecular property prediction (qm9, ogb-molhiv) - which architecture is sota rn?",
]
OFF_TOPIC = ["what's the best way to get red wine out of a carpet?"]


@pytest.mark.parametrize("question", ABSENT + OFF_TOPIC)
def test_a_topic_the_collection_lacks_is_refused_with_nearest_titles(
    seed_answers: Answers, question: str
):
    answer = seed_answers.ask(question)
    assert answer.results == []
    assert 1 <= len(answer.suggestions) <= 3  # the nearest titles, shown as "not an answer"


def test_topic_refuses_what_ask_refuses(seed_answers: Answers):
    answer = seed_answers.topic("video frame interpolation 30fps footage to 120fps slow-mo")
    assert answer.results == [] and answer.total == 0


def test_a_real_question_in_unusual_words_is_still_answered(seed_answers: Answers):
    assert seed_answers.ask("why do VLMs get left and right wrong?").results


def test_the_link_owner_names_the_paper(seed_answers: Answers):
    clip = "Learning Transferable Visual Models From Natural Language Supervision"
    answer = seed_answers.ask("the original contrastive image-text model from OpenAI")
    assert answer.results[0].title == clip
    assert seed_answers.repo("openai").results[0].title == clip
    assert seed_answers.repo("openai/CLIP").results[0].title == clip


def test_a_partial_answer_names_the_part_no_paper_holds(seed_answers: Answers):
    answer = seed_answers.ask("federated prompt tuning for CLIP across clients with private data")
    assert answer.results  # prompt tuning for CLIP is there...
    assert "clients" in answer.missing  # ...the federated clients are not
    assert answer.to_json()["missing"] == answer.missing
    assert seed_answers.ask("clip paper?").missing == []


def test_the_decision_is_a_fitted_score_over_both_stages():
    weak = decision.Evidence(similarity=0.05, margin=0.01, zscore=1.5, bm25=0.5, field=-0.05)
    strong = decision.Evidence(
        similarity=0.7, margin=0.3, zscore=5.0, coverage=0.9, bm25=3.5, field=0.4
    )
    assert not decision.answered(weak, semantic=True)
    assert decision.answered(strong, semantic=True)
    assert not decision.answered(weak, semantic=False)
    assert decision.answered(strong, semantic=False)


def test_a_paper_not_embedded_yet_is_judged_on_bm25_alone(answers: Answers):
    kelp = {
        "id": "new-kelp",
        "title": "KelpNet: Mapping Kelp Forests in Aerial Images with Vision-Language Models",
        "abstract": "Kelp forests shelter marine life along rocky coasts. KelpNet segments kelp "
        "canopies in aerial images and describes them in text, trained on 12,000 annotated "
        "kelp scenes from drone surveys.",
    }
    answers.import_records(parse_text(json.dumps(kelp)), "today")
    answers.refresh()
    assert answers.vectors is not None and "new-kelp" not in answers.vectors
    found = answers.ask("which paper segments kelp forests in aerial images?")
    assert found.results[0].id == "new-kelp"
    # and no embedded paper that shares nothing with the question is put before it
    assert [h.id for h in answers.ask("kelp forests on rocky coasts").results] == ["new-kelp"]
    assert answers.ask(ABSENT[0]).results == []  # and the decision still refuses what is absent


def test_a_question_asking_a_name_quotes_the_sentence_that_gives_it(seed_answers: Answers):
    answer = seed_answers.ask("what benchmark did they build from CLIP-blind pairs?")
    top = answer.results[0]
    assert top.title.startswith("Eyes Wide Shut?")
    assert "Multimodal Visual Patterns (MMVP) benchmark" in top.snippet


def test_a_partial_reply_says_so_after_its_papers(seed_answers: Answers):
    from bot import formatting as fmt

    answer = seed_answers.ask("federated prompt tuning for CLIP across clients with private data")
    text = "\n".join(r.text for r in fmt.answer_replies(answer))
    assert text.startswith("<b>1. ")
    assert "Partly answered: none of these papers mentions “clients”" in text
