"""Unknown topic terms: a question's technical words that no paper of the collection uses (the
no-answer decision's `unknown` feature), and the everyday words, typos, shorthands and split
names that are not."""

from __future__ import annotations

from store.answers import unknown_terms
from store.answers.engine import Answers
from store.text import tokenize

# The collection's terms in these tests (stemmed, as the index holds them).
KNOWN = set(tokenize("efficient lxmert pruning weights language models skyeyegpt visual tokens"))


def known(term: str) -> bool:
    return term in KNOWN


def found(question: str, shorthand=frozenset()) -> dict[str, float]:
    return unknown_terms.candidates(question, known, lambda t: None, shorthand.__contains__)


def test_a_technical_word_no_paper_uses_is_an_unknown_topic_term():
    words = found("unstructured pruning of language model weights like SparseGPT or RLHF-tuned")
    assert {"sparsegpt", "rlhf"} <= set(words)
    assert words["sparsegpt"] == 0.0  # not an English word at all
    assert unknown_terms.unknown(unknown_terms.rarest(words)) == 1.0


def test_everyday_words_typos_quantities_and_split_names_are_not():
    words = found("effcient lxmret tongues 400M 1024px skyeye gpt")
    assert "effcient" not in words and "lxmret" not in words  # one edit from a collection word
    assert "400m" not in words and "1024px" not in words  # a number with its unit
    assert "skyeye" not in words  # SkyEyeGPT typed in two words
    assert words["tongues"] >= unknown_terms.RARE_ZIPF  # everyday English: a candidate, not rare
    assert unknown_terms.unknown(unknown_terms.rarest(words)) == 0.0


def test_a_word_the_collection_knows_or_a_shorthand_it_expands_is_not():
    assert found("visual tokens pruning") == {}
    assert found("vlm pruning", shorthand={"vlm"}) == {}


def test_the_decision_refuses_an_absent_topic_named_by_its_term(seed_answers: Answers):
    """Both answered with a paper before (the issue: SparseGPT -> "Feather the Throttle", a
    visual token pruning paper), though no paper of the collection uses "SparseGPT" or "RLHF"."""
    for question in (
        "unstructured weight pruning of LLMs like SparseGPT or Wanda?",
        "which paper does RLHF with human preference rankings on LVLM answers?",
    ):
        answer = seed_answers.ask(question)
        assert answer.results == [], question
        assert answer.suggestions  # the nearest titles, as "not an answer"


def test_a_real_question_with_an_unusual_word_is_still_answered(seed_answers: Answers):
    """A typo no speller fixes, an everyday word the papers lack, a name in two words."""
    for question, title in {
        "lxmret pretraining tasks?": "LXMERT",
        "How many non-English tongues can you add when training an image chatbot?": "Centurio",
        "skyeye gpt rs instrction tuning": "SkyEyeGPT",
    }.items():
        titles = [h.title for h in seed_answers.ask(question).results[:3]]
        assert any(t.startswith(title) for t in titles), question


def test_words_in_another_script_are_not_judged_by_english_rarity():
    assert found("ما هي الأوراق عن pruning? מה לגבי weights") == {}
