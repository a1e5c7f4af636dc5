"""bot/handlers.py logic as plain functions: replies over the seed collection, addressing, buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram import Chat, Message, MessageEntity, User

from bot import formatting as fmt
from bot import handlers as h
from store.answers.engine import NO_CODE_LINK
from tests.botapi import compute_entities
from tests.helpers import assert_telegram_html, buttons

BOT_ID = 1000
BOT_NAME = "paperbot_test_bot"
RS_QUESTION = "Which papers caption remote sensing images?"
RS5M_CODE = "https://github.com/om-ai-lab/RS5M"
RS5M = "t-826d74fca928"  # RS5M and GeoRSCLIP, the seed paper with a GitHub link
FLAMINGO = "t-62daf974db6d"  # Flamingo, a seed paper without links


def texts(replies: list[fmt.Reply]) -> str:
    """All reply texts, checked to be valid Telegram HTML, joined for assertions."""
    for reply in replies:
        assert_telegram_html(reply.text)
    return "\n\n".join(reply.text for reply in replies)


# ---------------------------------------------------------------- questions


def test_question_names_papers_with_links_and_bold_terms(seed_answers) -> None:
    replies = h.reply_for_question(seed_answers, RS_QUESTION)
    text = texts(replies)
    assert "Remote Sensing" in text
    assert 'code: <a href="https://github.com/om-ai-lab/RS5M">github.com/om-ai-lab/RS5M</a>' in text
    assert "<b>remote</b> <b>sensing</b>" in text
    assert text.count("<code>/paper ") == h.ASK_LIMIT
    assert ("More", f"m|a|{h.ASK_LIMIT}|{RS_QUESTION}") in buttons(replies[-1])
    assert any(b == (f"Code {b[0][5:]}", RS5M_CODE) for b in buttons(replies[-1]))


def test_answerless_question_says_so_and_suggests_topic(seed_answers) -> None:
    [reply] = h.reply_for_question(seed_answers, "how do I bake sourdough bread at home?")
    assert reply.text.startswith("Nothing in the collection on “how do I bake sourdough")
    assert "/topic" in reply.text and reply.keyboard is None


def test_long_question_is_remembered_for_its_more_button(seed_answers) -> None:
    question = "remote sensing image captioning " * 8
    queries = h.RecentQueries()
    replies = h.reply_for_question(seed_answers, question, queries)
    [more] = [data for label, data in buttons(replies[-1]) if label == "More"]
    key = more.split("|", 3)[3]
    assert fmt.is_hashed(key) and queries.resolve(key) == question.strip()


@pytest.mark.parametrize(
    ("func", "command"),
    [
        (h.reply_for_question, "ask"),
        (h.reply_for_topic, "topic"),
        (h.reply_for_repo, "repo"),
        (h.reply_for_paper, "paper"),
    ],
)
def test_missing_argument_explains_use_with_an_example(seed_answers, func, command) -> None:
    [reply] = func(seed_answers, "  ")
    _, args, _, example = next(c for c in h.COMMANDS if c[0] == command)
    assert reply.text.startswith(f"Usage: /{command} {args} — ")
    assert f"Example: <code>/{command} {fmt.esc(example)}</code>" in reply.text


def test_every_example_we_advertise_gets_an_answer(seed_answers) -> None:
    calls = {"topic": h.reply_for_topic, "repo": h.reply_for_repo, "paper": h.reply_for_paper}
    changes = {"add", "remove"}  # change the collection: tests/test_bot_curation.py runs them
    examples = [(c[0], c[3]) for c in h.COMMANDS if c[3] and c[0] not in changes]
    examples += [
        (e[1:].split(" ", 1)[0], e.split(" ", 1)[1]) if e.startswith("/") else ("ask", e)
        for e in h.EXAMPLES
    ]
    for command, example in examples:
        replies = calls.get(command, h.reply_for_question)(seed_answers, example)
        assert "nothing" not in texts(replies), (command, example)


# ---------------------------------------------------------------- commands


def test_topic_first_page(seed_answers) -> None:
    [page] = h.reply_for_topic(seed_answers, "image captioning")
    text = texts([page])
    assert text.startswith("<b>Papers on “image captioning”</b> (1–5 of ")
    assert text.count("<code>/paper ") == fmt.PAGE_SIZE
    assert ("More", "m|t|5|image captioning") in buttons(page)


def test_repo_with_a_code_link(seed_answers) -> None:
    [reply] = h.reply_for_repo(seed_answers, "RS5M")
    assert 'code: <a href="https://github.com/om-ai-lab/RS5M">' in texts([reply])
    assert ("Code 1", "https://github.com/om-ai-lab/RS5M") in buttons(reply)


def test_repo_without_links_says_so(seed_answers) -> None:
    [reply] = h.reply_for_repo(seed_answers, "Flamingo")
    assert "Flamingo" in reply.text and f"<i>{NO_CODE_LINK}</i>" in reply.text
    assert buttons(reply) == [("Similar 1", f"s|{FLAMINGO}")]


def test_paper_in_full_and_unknown(seed_answers) -> None:
    text = texts(h.reply_for_paper(seed_answers, RS5M))
    abstract = seed_answers.paper(RS5M)["abstract"]
    assert fmt.esc(abstract) in text and f"id <code>{RS5M}</code>" in text
    unknown = texts(h.reply_for_paper(seed_answers, "<nope>"))
    assert unknown.startswith("No paper with id “&lt;nope&gt;”")


def test_similar_latest_stats_help(seed_answers) -> None:
    similar = texts(h.reply_for_similar(seed_answers, RS5M))
    assert similar.startswith("<b>Papers like “RS5M and GeoRSCLIP") and RS5M not in similar
    assert texts(h.reply_for_similar(seed_answers, "t-nope")).startswith("No paper with id")
    latest = texts(h.reply_for_latest(seed_answers))
    assert latest.startswith("<b>Recently added</b>") and latest.count("<code>/paper ") == 5
    assert "papers: 91\npapers with links: 44 (46 links)" in texts(h.reply_for_stats(seed_answers))
    help_text = texts(h.reply_for_help(seed_answers, BOT_NAME))
    assert "91 papers" in help_text and f"@{BOT_NAME}" in help_text
    for name in h.COMMAND_CALLBACKS:  # every registered command is documented
        assert f"\n/{name} " in help_text


def test_every_command_is_documented_for_deployers() -> None:
    readme = (Path(__file__).resolve().parent.parent / "deploy" / "README.md").read_text()
    for name in h.COMMAND_CALLBACKS:
        assert f"`/{name}" in readme, name


def test_unknown_command_lists_the_real_ones() -> None:
    text = texts(h.reply_for_unknown("/frobnicate"))
    assert text.startswith("I don't know /frobnicate. I know /ask, /topic, /repo")


# ---------------------------------------------------------------- buttons


def test_buttons(seed_answers) -> None:
    queries = h.RecentQueries()
    page2 = h.reply_for_button(seed_answers, "m|t|5|image captioning", queries)
    assert page2.edit and page2.alert is None
    assert "(6–10 of " in page2.replies[0].text
    from_answer = h.reply_for_button(seed_answers, f"m|a|3|{RS_QUESTION}", queries)
    assert not from_answer.edit and "(4–" in from_answer.replies[0].text
    similar = h.reply_for_button(seed_answers, f"s|{RS5M}", queries)
    assert not similar.edit and similar.replies[0].text.startswith("<b>Papers like")
    assert h.reply_for_button(seed_answers, "m|t|9000|image captioning", queries).alert == h.NO_MORE


def test_hashed_button_works_until_forgotten(seed_answers) -> None:
    long_query = "vision language model " * 6
    data = fmt.more_data("t", 5, long_query.strip())
    queries = h.RecentQueries()
    h.reply_for_topic(seed_answers, long_query, 0, queries)
    assert h.reply_for_button(seed_answers, data, queries).edit
    after_restart = h.reply_for_button(seed_answers, data, h.RecentQueries())
    assert after_restart == h.ButtonOutcome(alert=h.EXPIRED)


@pytest.mark.parametrize("data", ["", "x|1", "m|t|five|q", "old-format-42"])
def test_unknown_button_data_is_expired(seed_answers, data: str) -> None:
    assert h.reply_for_button(seed_answers, data, h.RecentQueries()).alert == h.EXPIRED


def test_recent_queries_forget_the_oldest() -> None:
    queries = h.RecentQueries(capacity=2)
    long = [f"query number {i} " * 5 for i in range(3)]
    for query in long:
        queries.remember(query)
    keys = [fmt.query_key(q) for q in long]
    assert [queries.resolve(k) for k in keys] == [None, long[1], long[2]]
    assert queries.resolve("short query") == "short query"


# ---------------------------------------------------------------- addressing


def message(
    text: str, chat_type: str = Chat.SUPERGROUP, reply_to_bot: bool = False, **kw
) -> Message:
    """A real PTB Message with the entities Telegram would attach."""
    chat = Chat(5 if chat_type == Chat.PRIVATE else -1005, chat_type)
    entities = kw.pop("entities", None)
    if entities is None:
        entities = [MessageEntity(**e) for e in compute_entities(text)]
    replied = None
    if reply_to_bot:
        bot = User(BOT_ID, "PaperBot", True, username=BOT_NAME)
        replied = Message(9, datetime.now(UTC), chat, from_user=bot, text="earlier answer")
    return Message(
        1,
        datetime.now(UTC),
        chat,
        from_user=User(5, "Ann", False),
        text=text,
        entities=entities,
        reply_to_message=replied,
    )


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (message("what is CLIP?", Chat.PRIVATE), "what is CLIP?"),
        (message(f"@{BOT_NAME} what is CLIP?"), "what is CLIP?"),
        (message(f"so @{BOT_NAME.upper()}, what is CLIP?"), "so , what is CLIP?"),
        (message("what is CLIP?", reply_to_bot=True), "what is CLIP?"),
        (message("@someone_else what is CLIP?"), None),
        (message("lunch anyone?"), None),
        (message(f"mail me at x@{BOT_NAME}.org"), None),
        (
            message(
                "PaperBot what is CLIP?",
                entities=[
                    MessageEntity(
                        MessageEntity.TEXT_MENTION, 0, 8, user=User(BOT_ID, "PaperBot", True)
                    )
                ],
            ),
            "PaperBot what is CLIP?",
        ),
    ],
    ids=[
        "private",
        "mention",
        "mention-mid",
        "reply",
        "other-bot",
        "chatter",
        "email",
        "text-mention",
    ],
)
def test_addressed_text(msg: Message, expected: str | None) -> None:
    assert h.addressed_text(msg, BOT_NAME, BOT_ID) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/frob", ("/frob", None)),
        (f"/frob@{BOT_NAME} x", ("/frob", BOT_NAME)),
        ("", ("", None)),
    ],
)
def test_command_name(text: str, expected) -> None:
    assert h.command_name(text) == expected
