"""Property-based tests: whatever goes in, the tokenizer, snippets and importers behave."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.answers.engine import best_sentences, mark_terms
from store.collection.importers import FormatError, parse_text
from store.text import split_sentences, tokenize

ANY_TEXT = st.text(max_size=600)
FIELD_VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@given(ANY_TEXT)
def test_tokenize_never_fails_and_yields_clean_terms(text):
    terms = tokenize(text)
    assert all(t and t == t.lower() and not any(c.isspace() for c in t) for t in terms)
    assert tokenize(text) == terms  # deterministic, so documents and queries agree


@given(ANY_TEXT)
def test_sentences_keep_every_word(text):
    sentences = split_sentences(text)
    assert " ".join(sentences).split() == text.split()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(abstract=ANY_TEXT, question=ANY_TEXT)
def test_snippet_is_taken_from_the_abstract_and_marks_stay_inside(seed_answers, abstract, question):
    terms = tokenize(question)
    snippet = best_sentences(abstract, terms, seed_answers.index, 2)
    for sentence in split_sentences(snippet):
        assert sentence in abstract
    for start, end in mark_terms(snippet, set(terms)):
        assert 0 <= start < end <= len(snippet)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(question=st.text(max_size=4096))
def test_any_question_gets_an_answer_object(seed_answers, question):
    answer = seed_answers.ask(question)
    assert isinstance(answer.results, list) and len(answer.results) <= 3
    json.dumps(answer.to_json())


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "title",
                "summary",
                "authors",
                "ai_keywords",
                "githubRepo",
                "publishedAt",
                "projectPage",
                "ai_summary",
            ]
        ),
        FIELD_VALUES,
    )
)
def test_hf_items_with_wrong_types_are_refused_or_imported_never_crash(paper):
    try:
        records = parse_text(json.dumps([{"paper": paper}]))
    except FormatError as exc:
        assert "\n" not in str(exc)
        return
    assert records[0]["title"] and records[0]["abstract"]


@given(
    st.dictionaries(
        st.sampled_from(["id", "title", "abstract", "authors", "links", "version", "source"]),
        FIELD_VALUES,
        min_size=1,
    )
)
def test_jsonl_lines_with_wrong_types_are_refused_or_imported(obj):
    text = json.dumps(obj) + "\n" + json.dumps(obj)
    try:
        records = parse_text(text)
    except FormatError as exc:
        assert "\n" not in str(exc)
        return
    assert all(r["title"] for r in records)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_text_are_refused_cleanly(data):
    text = data.decode("utf-8", errors="replace")
    try:
        records = parse_text(text)
    except FormatError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(r["title"] and r["abstract"] for r in records)
