"""Properties of bot/formatting.py: whatever a paper or a user holds, every reply Telegram gets is
valid HTML within 4096 UTF-16 units, and every button's data fits 64 bytes and decodes again.

A reply that breaks one of these rules makes Telegram refuse the whole sendMessage: the user sees
the apology (or nothing) instead of an answer.
"""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from bot import formatting as fmt
from bot import handlers as h
from store.answers.engine import Answer, Hit, clean_query
from tests.helpers import assert_telegram_html

# Control characters other than newline and tab: a reply must never echo them back to the user.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# ---------------------------------------------------------------- strategies

HOSTILE = [
    "<", ">", "&", '"', "'", "&amp;", "&lt;", "&#0;", "&bogus;", "<b>", "</b>", "<a href=x>",
    "</a>", "<script>", "*y*", "_z_", "[a](b)", "`", "|", "~", "\\", "\x00", "\x1b[31m", "\r\n",
    "\u200b", "\u202e", "\ufeff", "😀", "👩‍🔬", "🇺🇦", "مرحبا", "שלום", "漢字", "e\u0301", "\U0001d54f",
    " ", "\n", "\t", "NEAR(", "OR", "'; DROP TABLE papers; --",
]  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=20).map("".join),
)
LONG_TEXT = st.one_of(
    TEXT,
    st.builds(lambda piece, n: piece * n, st.sampled_from(HOSTILE + ["word ", "😀 ", "x"]),
              st.integers(100, 2500)),
)  # fmt: skip
HOSTILE_URLS = [
    "javascript:alert(1)",
    'https://x.org/"><script>alert(1)</script>',
    "https://x.org/a b",
    "https://x .org",
    "ftp://x.org/a",
    "data:text/html,<b>x</b>",
    "https://x.org/<b>",
    "https://x.org/?a=1&b=2",
    "https://例え.jp/",
    "http://[::1]/",
    "https:///path",
    "",
    "https://github.com/" + "a" * 3000,
]
URL = st.one_of(
    st.none(),
    st.sampled_from(HOSTILE_URLS),
    st.builds(
        lambda host, path: f"https://{host}/{path}",
        st.text(alphabet="abcXYZ019.-", min_size=1, max_size=20),
        TEXT,
    ),
    st.text(max_size=40),
)
LINKS = st.lists(
    st.fixed_dictionaries(
        {
            "url": URL.map(lambda u: u or ""),
            "kind": st.sampled_from(["code", "model", "demo", "project", "other", "weird"]),
        }
    ),
    max_size=4,
)
PAPER_ID = st.one_of(
    st.builds("t-{:012x}".format, st.integers(0, 16**12 - 1)),
    st.builds("{}.{:05d}".format, st.integers(1000, 9999), st.integers(0, 99999)),
    st.text(min_size=1, max_size=80),
)


@st.composite
def hits(draw) -> Hit:
    snippet = draw(LONG_TEXT)
    bound = len(snippet) + 5
    marks = draw(st.lists(st.tuples(st.integers(-5, bound), st.integers(-5, bound)), max_size=8))
    return Hit(
        id=draw(PAPER_ID),
        title=draw(LONG_TEXT),
        score=draw(st.floats(allow_nan=False, allow_infinity=False)),
        snippet=snippet,
        url=draw(URL),
        links=draw(LINKS),
        marks=marks,
    )


HITS = st.lists(hits(), max_size=5)


@st.composite
def answers(draw, max_offset: int = fmt.MAX_OFFSET) -> Answer:
    results = draw(HITS)
    offset = draw(st.integers(0, max_offset))
    total = offset + len(results) + draw(st.integers(0, 10**6))
    query = draw(LONG_TEXT)
    if results:  # the engine finds papers only for words: its query is cleaned and never empty
        query = clean_query(query) or "x"
    return Answer(
        query=query,
        results=results,
        suggestions=draw(st.lists(LONG_TEXT, max_size=3)),
        total=total,
        offset=offset,
    )


# ---------------------------------------------------------------- the properties


def check(replies: list[fmt.Reply]) -> None:
    """Telegram accepts every message; every button fits and means what it was made for."""
    assert replies, "no reply at all"
    for reply in replies:
        assert_telegram_html(reply.text)
        assert fmt.utf16_len(reply.text) <= 4096
        rows = reply.keyboard.inline_keyboard if reply.keyboard else ()
        for button in (b for row in rows for b in row):
            if button.url is not None:
                assert fmt.is_safe_url(button.url), button.url
                continue
            data = button.callback_data
            assert isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64, data
            assert fmt.parse_callback(data) is not None, data  # never "expired" at birth


def visible(text: str) -> str:
    """What the user reads: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def no_control_echo(replies: list[fmt.Reply]) -> None:
    for reply in replies:
        assert not CONTROL.search(reply.text), repr(reply.text)


@given(answers())
def test_answer_and_repo_replies(answer: Answer) -> None:
    check(fmt.answer_replies(answer))
    check(fmt.repo_replies(answer))


@given(answers())
def test_topic_page(answer: Answer) -> None:
    page = fmt.topic_page(answer)
    check([page])
    if answer.results:
        nav = [
            b for row in page.keyboard.inline_keyboard for b in row if b.text in ("Back", "More")
        ]
        for button in nav:  # paging moves within the list and stays within MAX_OFFSET
            parsed = fmt.parse_callback(button.callback_data)
            assert parsed.offset <= fmt.MAX_OFFSET and parsed.mode == "t"


@given(LONG_TEXT, st.lists(LONG_TEXT, max_size=3))
def test_nothing_found(query: str, suggestions: list[str]) -> None:
    replies = fmt.nothing_found(query, suggestions)
    check(replies)
    assert len(replies) == 1 and replies[0].keyboard is None
    first_line = replies[0].text.split("\n")[0]
    assert not CONTROL.search(first_line), repr(first_line)  # the user's text, echoed cleanly
    assert len(visible(first_line)) <= 60 + fmt.ECHO_CHARS  # a short echo, however long the query


@given(HITS, LONG_TEXT)
def test_latest_and_similar_replies(papers: list[Hit], source_title: str) -> None:
    check(fmt.latest_replies(papers))
    check(fmt.similar_replies(Answer(source_title, papers, total=len(papers))))


@given(
    st.fixed_dictionaries(
        {"papers": st.integers(0, 10**9), "papers_with_links": st.integers(0, 10**9)}
    ),
    st.one_of(st.none(), st.text(max_size=64)),
    st.lists(LONG_TEXT, max_size=6),
)
def test_help_replies(stats: dict, bot_username: str | None, extra_examples: list[str]) -> None:
    check(fmt.help_replies(stats, h.command_help(), h.EXAMPLES + extra_examples, bot_username))


@given(
    st.fixed_dictionaries(
        {
            "id": PAPER_ID,
            "title": LONG_TEXT,
            "abstract": LONG_TEXT,
            "links": LINKS,
        },
        optional={
            "url": URL,
            "authors": st.lists(LONG_TEXT, max_size=60),
            "arxiv_id": st.one_of(PAPER_ID, TEXT),
            "published": TEXT,
            "added_at": TEXT,
        },
    )
)
def test_paper_replies(paper: dict) -> None:
    replies = fmt.paper_replies(paper)
    check(replies)
    assert all(r.keyboard is None for r in replies[:-1])  # the buttons go under the last part


@given(LONG_TEXT)
def test_unknown_ids_and_commands_are_echoed_short_and_clean(text: str) -> None:
    for replies in (fmt.paper_not_found(text), fmt.unknown_command_replies(text, ["ask"])):
        check(replies)
        no_control_echo(replies)
        assert len(visible(replies[0].text)) <= 200 + fmt.ECHO_CHARS


@given(st.sampled_from([name for name, *_ in h.COMMANDS]))
def test_usage_replies(command: str) -> None:
    check(h.usage(command))


@given(st.one_of(st.none(), TEXT, st.builds("|".join, st.lists(TEXT, max_size=5))))
def test_any_callback_data_decodes_or_is_refused(data: str | None) -> None:
    """Forged button data never raises: it decodes to a valid action or to None ("expired")."""
    parsed = fmt.parse_callback(data)
    if parsed is not None:
        assert parsed.action in ("more", "similar") and parsed.key
        assert parsed.action == "similar" or (parsed.mode in ("t", "a") and parsed.offset >= 0)


def test_callback_offsets_are_ascii_digits() -> None:
    """Regression: "²" and "١٢" pass str.isdigit(); the first made int() raise in the handler."""
    for offset in ("²", "١٢", "-5", "+5", " 5", "5 ", "", "0x5"):
        assert fmt.parse_callback(f"m|t|{offset}|vision") is None, offset
    assert fmt.parse_callback("s||x") == fmt.Callback("similar", key="|x")  # ids may hold "|"
