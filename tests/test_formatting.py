"""bot/formatting.py: escaping, bold marks, chunking to 4096, keyboards and callback data."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import formatting as fmt
from store.answers.engine import NO_CODE_LINK, Answer, Hit, clean_query
from tests.helpers import assert_telegram_html, buttons


def hit(**overrides) -> Hit:
    """A result with sensible defaults; tests override what they are about."""
    values = dict(
        id="t-1",
        title="RS5M: a dataset",
        score=1.0,
        snippet="Remote sensing images with captions.",
        url="https://arxiv.org/abs/2306.11300",
        links=[{"url": "https://github.com/om-ai-lab/RS5M", "kind": "code"}],
        marks=[(0, 6), (7, 14)],
    )
    values.update(overrides)
    return Hit(**values)


# ---------------------------------------------------------------- escaping and bold


def test_highlight_bolds_marked_spans_and_escapes_the_rest() -> None:
    text = "a <b> & remote sensing"
    assert (
        fmt.highlight(text, [(8, 14), (15, 22)]) == "a &lt;b&gt; &amp; <b>remote</b> <b>sensing</b>"
    )


@pytest.mark.parametrize(
    "marks",
    [[(5, 3)], [(0, 100)], [(0, 4), (2, 6)], [(-1, 2)]],
    ids=["reversed", "past-the-end", "overlapping", "negative"],
)
def test_highlight_skips_bad_spans(marks) -> None:
    out = fmt.highlight("abcdefgh", marks)
    assert_telegram_html(out)
    assert html.unescape(re.sub("</?b>", "", out)) == "abcdefgh"


def test_highlight_cuts_long_text_and_drops_marks_beyond_the_cut() -> None:
    text = "word " * 400 + "remote"
    out = fmt.highlight(text, [(0, 4), (len(text) - 6, len(text))], limit=50)
    assert out.startswith("<b>word</b> word") and out.endswith("…")
    assert "remote" not in out and len(out) < 80


def test_hit_block_links_title_and_code_and_bolds_terms() -> None:
    block = fmt.hit_block(hit(title="RS5M <&> GeoRSCLIP"), 2)
    assert block.splitlines() == [
        '<b>2. <a href="https://arxiv.org/abs/2306.11300">RS5M &lt;&amp;&gt; GeoRSCLIP</a></b>',
        "<b>Remote</b> <b>sensing</b> images with captions.",
        'code: <a href="https://github.com/om-ai-lab/RS5M">github.com/om-ai-lab/RS5M</a>',
        "<code>/paper t-1</code>",
    ]


def test_hit_without_links_says_so() -> None:
    block = fmt.hit_block(hit(url=None, links=[]), 1)
    assert f"<i>{NO_CODE_LINK}</i>" in block and "<a " not in block


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", 'https://x.org/"><script>', "https://x .org", "ftp://x.org/a", ""],
)
def test_unusable_urls_are_neither_links_nor_buttons(url: str) -> None:
    bad = hit(url=url, links=[{"url": url, "kind": "code"}])
    block = fmt.hit_block(bad, 1)
    assert_telegram_html(block)
    assert "<a " not in block
    assert all(not b.url for row in fmt.hit_rows([bad]) for b in row)


def test_other_link_kinds_are_listed() -> None:
    links = [
        {"url": "https://huggingface.co/org/model", "kind": "model"},
        {"url": "https://proj.github.io", "kind": "project"},
    ]
    block = fmt.hit_block(hit(links=links), 1)
    assert f"<i>{NO_CODE_LINK}</i>" in block
    assert 'model: <a href="https://huggingface.co/org/model">huggingface.co/org/model</a>' in block
    assert 'project: <a href="https://proj.github.io">proj.github.io</a>' in block


# ---------------------------------------------------------------- chunking


def test_chunk_packs_blocks_without_splitting_them() -> None:
    blocks = [f"<b>{i}</b> " + "x" * 1000 for i in range(10)]
    messages = fmt.chunk(blocks)
    assert len(messages) == 3
    assert "\n\n".join(messages) == "\n\n".join(blocks)
    for message in messages:
        assert_telegram_html(message)


def test_chunk_counts_utf16_units() -> None:
    emoji_block = "😀" * 1500  # 3000 UTF-16 units, 1500 code points
    messages = fmt.chunk([emoji_block, emoji_block])
    assert len(messages) == 2


def test_oversized_block_becomes_plain_text_that_fits() -> None:
    block = "<b>title</b>\n" + "&amp;&amp; " * 5000
    [message] = fmt.chunk([block])
    assert_telegram_html(message)
    assert message.startswith("title\n&amp;&amp; &amp;&amp;") and message.endswith("&amp;&amp;…")


def test_split_plain_keeps_every_word() -> None:
    text = " ".join(f"w{i}&" for i in range(3000))
    pieces = fmt.split_plain(text, 2000)
    assert all(fmt.utf16_len(p) <= 2000 for p in pieces) and len(pieces) > 1
    assert html.unescape(" ".join(pieces)) == text


# ---------------------------------------------------------------- callback data


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300), st.integers(0, fmt.MAX_OFFSET), st.sampled_from("ta"))
def test_more_data_fits_and_round_trips(text: str, offset: int, mode: str) -> None:
    query = clean_query(text) or "x"
    data = fmt.more_data(mode, offset, query)
    assert 1 <= len(data.encode("utf-8")) <= fmt.MAX_DATA
    parsed = fmt.parse_callback(data)
    assert parsed == fmt.Callback("more", mode=mode, offset=offset, key=fmt.query_key(query))
    assert fmt.is_hashed(parsed.key) or parsed.key == query


def test_short_queries_travel_in_the_button_long_ones_as_a_hash() -> None:
    assert fmt.query_key("image captioning") == "image captioning"
    assert fmt.query_key("ü" * 27) == "ü" * 27  # 54 bytes: fits
    long = "ü" * 28  # 56 bytes: would not fit next to the largest offset
    assert fmt.query_key(long) == fmt.query_key(long) and fmt.is_hashed(fmt.query_key(long))
    assert fmt.is_hashed(fmt.query_key("~looks like a hash"))  # never mistaken for one


def test_similar_data_carries_the_paper_id() -> None:
    assert fmt.similar_data("t-826d74fca928") == "s|t-826d74fca928"
    assert fmt.parse_callback("s|t-826d74fca928") == fmt.Callback("similar", key="t-826d74fca928")
    assert fmt.similar_data("x" * 63) is None


@pytest.mark.parametrize("data", [None, "", "m", "m|t|x|q", "m|z|5|q", "m|t|5|", "s|", "zz|1"])
def test_parse_callback_refuses_garbage(data) -> None:
    assert fmt.parse_callback(data) is None


# ---------------------------------------------------------------- replies and keyboards


def test_answer_with_more_results_gets_a_more_button() -> None:
    answer = Answer("remote sensing", [hit(), hit(id="t-2", links=[])], total=7)
    [reply] = fmt.answer_replies(answer)
    assert_telegram_html(reply.text)
    assert buttons(reply) == [
        ("Code 1", "https://github.com/om-ai-lab/RS5M"),
        ("Similar 1", "s|t-1"),
        ("Similar 2", "s|t-2"),
        ("More", "m|a|2|remote sensing"),
    ]


def test_topic_pages_have_back_and_more() -> None:
    first = fmt.topic_page(Answer("vision", [hit()] * 5, total=12, offset=0))
    middle = fmt.topic_page(Answer("vision", [hit()] * 5, total=12, offset=5))
    last = fmt.topic_page(Answer("vision", [hit()] * 2, total=12, offset=10))
    nav = [[b for b in buttons(r) if b[0] in ("Back", "More")] for r in (first, middle, last)]
    assert nav == [
        [("More", "m|t|5|vision")],
        [("Back", "m|t|0|vision"), ("More", "m|t|10|vision")],
        [("Back", "m|t|5|vision")],
    ]
    assert "(6–10 of 12)" in middle.text and middle.text.count("<code>/paper") == 5


def test_nothing_found_is_plain_and_points_to_topic() -> None:
    [reply] = fmt.nothing_found("<script>" * 100, ["A <title>"])
    assert_telegram_html(reply.text)
    assert reply.text.startswith("Nothing in the collection on “&lt;script&gt;")
    assert "/topic" in reply.text and "• A &lt;title&gt;" in reply.text and "/add" in reply.text
    assert reply.keyboard is None


def test_long_paper_is_split_and_keyboard_goes_last() -> None:
    paper = {
        "id": "t-9",
        "title": "A long one",
        "abstract": "Words & more words. " * 600,
        "authors": ["A. Author", "B. <Writer>"],
        "url": "https://arxiv.org/abs/2401.00001",
        "arxiv_id": "2401.00001",
        "links": [{"url": "https://github.com/a/b", "kind": "code"}],
        "added_at": "2026-01-02T03:04:05Z",
    }
    replies = fmt.paper_replies(paper)
    assert len(replies) >= 3
    for reply in replies:
        assert_telegram_html(reply.text)
    assert [r.keyboard is not None for r in replies] == [False] * (len(replies) - 1) + [True]
    assert "B. &lt;Writer&gt;" in replies[0].text and "added 2026-01-02" in replies[0].text
    assert 'code: <a href="https://github.com/a/b">' in replies[-1].text
