"""arXiv ids in text: every way a colleague writes one, and no false ids in ordinary text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.collection.clean import parse_arxiv_id
from store.collection.importers.arxiv_ids import (
    OLD_ARCHIVES,
    ArxivRef,
    find_refs,
    parse_ref,
    valid_new_id,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2103.00020", ArxivRef("2103.00020")),
        ("2103.00020v2", ArxivRef("2103.00020", 2)),
        ("arXiv:1412.6980", ArxivRef("1412.6980")),
        ("cs/0112017", ArxivRef("cs/0112017")),
        ("math.GT/0309136v1", ArxivRef("math/0309136", 1)),
        ("https://arxiv.org/abs/2103.00020v3", ArxivRef("2103.00020", 3)),
        ("http://arxiv.org/pdf/2103.00020v2.pdf", ArxivRef("2103.00020", 2)),
        ("arxiv.org/pdf/2103.00020", ArxivRef("2103.00020")),
        ("https://arxiv.org/html/2103.00020v1", ArxivRef("2103.00020", 1)),
        ("https://export.arxiv.org/abs/hep-th/9901001", ArxivRef("hep-th/9901001")),
        ("https://huggingface.co/papers/2504.08385", ArxivRef("2504.08385")),
        ("10.48550/arXiv.2103.00020", ArxivRef("2103.00020")),
        ("https://doi.org/10.48550/ARXIV.cs/0112017", ArxivRef("cs/0112017")),
        ("see <https://arxiv.org/abs/2103.00020>.", ArxivRef("2103.00020")),
    ],
)
def test_every_written_form(text, expected):
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "nonsense",
        "1999.12345",  # month 99
        "2103.0002",  # four digits after 2014
        "1312.00020",  # five digits before 2015
        "0612.1234",  # new style began in April 2007
        "foo/0112017",  # no such archive
        "cs/0813017",  # month 13
        "https://example.com/2103.00020",  # someone else's page
        "2103.00020v0",
        "version 3.14159 and 1234.5678",
    ],
)
def test_text_that_names_no_paper(text):
    assert parse_ref(text) is None


def test_several_papers_in_a_message_in_order_each_once():
    text = (
        "compare https://arxiv.org/abs/2103.00020v2 with huggingface.co/papers/2504.08385 "
        "and (cs/0112017); also 2103.00020 again, doi:10.48550/arXiv.2504.07777"
    )
    assert find_refs(text) == [
        ArxivRef("2103.00020", 2),
        ArxivRef("2504.08385"),
        ArxivRef("cs/0112017"),
        ArxivRef("2504.07777"),
    ]


def _yymm(first: int, last: int):
    """YYMM strings of real months between two years (two-digit, may wrap past 99)."""
    return st.tuples(st.integers(first, last), st.integers(1, 12)).map(
        lambda ym: f"{ym[0] % 100:02d}{ym[1]:02d}"
    )


new_ids = st.one_of(
    st.tuples(_yymm(2008, 2014), st.integers(1, 9999)).map(lambda t: f"{t[0]}.{t[1]:04d}"),
    st.tuples(_yymm(2015, 2029), st.integers(1, 99999)).map(lambda t: f"{t[0]}.{t[1]:05d}"),
)
old_ids = st.tuples(
    st.sampled_from(OLD_ARCHIVES),
    st.one_of(st.just(""), st.sampled_from([".GT", ".AI", ".CV", ".str-el"])),
    _yymm(1992, 2006),
    st.integers(1, 999),
).map(lambda t: (f"{t[0]}/{t[2]}{t[3]:03d}", f"{t[0]}{t[1]}/{t[2]}{t[3]:03d}"))
versions = st.one_of(st.none(), st.integers(1, 30))
FORMS = [
    "{id}{v}",
    "arXiv:{id}{v}",
    "https://arxiv.org/abs/{id}{v}",
    "http://arxiv.org/pdf/{id}{v}.pdf",
    "arxiv.org/pdf/{id}{v}",
    "https://arxiv.org/html/{id}{v}",
    "https://doi.org/10.48550/arXiv.{id}",
    "10.48550/arXiv.{id}",
]
words = st.text(st.sampled_from("abcdefghij XYZ,;:!?()"), max_size=30)


@given(new_ids, versions, st.sampled_from([*FORMS, "https://huggingface.co/papers/{id}{v}"]))
def test_new_style_ids_in_every_form_are_found(arxiv_id, version, form):
    suffix = f"v{version}" if version else ""
    ref = parse_ref(form.format(id=arxiv_id, v=suffix))
    expect_version = version if "{v}" in form else None
    assert ref == ArxivRef(arxiv_id, expect_version)
    assert valid_new_id(ref.id)


@given(old_ids, versions, st.sampled_from(FORMS))
def test_old_style_ids_lose_their_subject_class(ids, version, form):
    normal, written = ids
    suffix = f"v{version}" if version else ""
    ref = parse_ref(form.format(id=written, v=suffix))
    assert ref == ArxivRef(normal, version if "{v}" in form else None)


@given(words, new_ids, versions, st.sampled_from(FORMS), words)
def test_an_id_amid_words_is_found_and_normalized_ids_read_back_as_themselves(
    before, arxiv_id, version, form, after
):
    suffix = f"v{version}" if version else ""
    text = f"{before} {form.format(id=arxiv_id, v=suffix)} {after}"
    refs = find_refs(text)
    assert arxiv_id in [r.id for r in refs]
    for ref in refs:  # normalized: no version in the id, and it parses back to itself
        assert parse_ref(ref.id) == ArxivRef(ref.id)
        assert parse_ref(str(ref)) == ref


@given(new_ids, versions)
def test_bare_ids_agree_with_the_feeds_id_parser(arxiv_id, version):
    text = arxiv_id + (f"v{version}" if version else "")
    ref = parse_ref(text)
    assert (ref.id, ref.version) == parse_arxiv_id(text)


@given(st.text(st.characters(blacklist_categories=("Nd",)), max_size=200))
def test_text_without_digits_names_no_paper(text):
    assert find_refs(text) == []
