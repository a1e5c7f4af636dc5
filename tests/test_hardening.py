"""Issue 7, hardening: the real Application against the Bot API stand-in on 127.0.0.1.

Bad input, Bot API faults while answering, polling faults, and the daily push under faults. Every
test asserts what a user would notice: a clear short reply (or a short alert under a button),
messages Telegram accepts, an unchanged collection, and a bot that still answers afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import random
import re
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from unittest import mock

import pytest
from telegram.error import Forbidden, NetworkError, TimedOut
from telegram.ext import Application, ApplicationBuilder

import bot.app as bot_app
from bot import formatting as fmt
from bot import handlers as h
from bot.config import Settings
from bot.push import push_all
from bot.schedule import bot_sender
from store.answers.engine import Answers, clean_query
from store.collection import db as store_db
from store.collection.importers import parse_text, read_file
from store.text import shorten
from tests.botapi import BOT_USERNAME, DEFAULT_GROUP_ID, FakeBotAPI
from tests.conftest import FIXTURES
from tests.harness import polling
from tests.helpers import assert_telegram_html

TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
USER = 4242
GROUP = DEFAULT_GROUP_ID
ADMIN = 777
RS_QUESTION = "Which papers caption remote sensing images?"
RS5M_CODE = "https://github.com/om-ai-lab/RS5M"
SEED_PAPERS = 91
# Control characters other than newline and tab: nothing the bot sends should contain them.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ALERT_LIMIT = 200  # Telegram's limit for answerCallbackQuery text
READ_TIMEOUT = 0.4  # seconds the bot waits for Telegram in tests that time out (PTB: 5)
SLOW = 0.7  # how long the stand-in holds a request that times out
SHORT = 600  # a "short" reply: what a user reads at a glance (visible characters)
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled collection, imported and indexed once; each test works on its own copy."""
    folder = tmp_path_factory.mktemp("seeded")
    Answers.open(folder / "papers.db").db.close()
    return folder


@pytest.fixture
def engine(seeded_dir: Path, tmp_path: Path) -> Iterator[Answers]:
    folder = tmp_path / "db"
    shutil.copytree(seeded_dir, folder)
    answers = Answers.open(folder / "papers.db")
    yield answers
    answers.db.close()


@contextlib.asynccontextmanager
async def running_bot(
    api: FakeBotAPI, answers: Answers, read_timeout: float | None = None, **env: str
) -> AsyncIterator[Application]:
    """`paperbot run`'s lifecycle on the stub; no per-user limit unless a test sets one.

    `read_timeout` shortens the client's wait for an answer (PTB's default is 5 s), so that a
    timed-out request costs the test well under a second.
    """
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "PAPERBOT_RATE_LIMIT": "0",
            **env,
        }
    )
    builder = mock.patch.object(
        bot_app, "ApplicationBuilder", lambda: ApplicationBuilder().read_timeout(read_timeout)
    )
    with builder if read_timeout else contextlib.nullcontext():
        app = bot_app.build_application(settings, answers)
    async with polling(app):
        yield app


def snapshot(answers: Answers) -> tuple[int, bool, str]:
    """(paper count, integrity ok, digest of every row of every table but the bot's inbox)."""
    db = answers.db
    digest = hashlib.sha256()
    # the inbox records every update, answer_papers every answer's papers (for follow-ups)
    for table in sorted(set(db.table_names()) - {"inbox", "answer_papers"}):
        rows = sorted(repr(row) for row in db.execute(f"select * from [{table}]"))
        digest.update(f"{table}:{len(rows)}:{''.join(rows)}".encode())
    return store_db.paper_count(db), store_db.integrity_ok(db), digest.hexdigest()


def visible(text: str) -> str:
    """What the user reads: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def buttons(params: dict) -> list[tuple[str, str]]:
    """(text, callback data or url) of a sent or edited message's keyboard."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url")) for row in rows for b in row]


def assert_everything_sent_is_valid(api: FakeBotAPI) -> None:
    """Every text the bot sent or edited in is Telegram HTML within 4096, free of control
    characters; every button's data fits 64 bytes; every alert fits Telegram's 200."""
    edits = api.requests_for("editMessageText")
    for params in api.sent() + edits:
        assert_telegram_html(params["text"])
        assert fmt.utf16_len(params["text"]) <= 4096
        assert not CONTROL.search(params["text"]), repr(params["text"])
        for _, data in buttons(params):
            assert data and len(data.encode("utf-8")) <= 64, data
    for params in api.requests_for("answerCallbackQuery"):
        assert len(params.get("text") or "") <= ALERT_LIMIT


async def assert_still_answers(api: FakeBotAPI, user_id: int = 99) -> None:
    """A normal question from a fresh private chat gets its normal answer."""
    api.add_private_message(RS_QUESTION, user_id=user_id)
    [answer] = await api.wait_for_sent(1, chat_id=user_id)
    assert f'<a href="{RS5M_CODE}">' in answer["text"], answer["text"]


def add_papers(answers: Answers, text: str) -> None:
    answers.import_records(parse_text(text), name="test")
    answers.refresh()


# ---------------------------------------------------------------- 1. bad input

# Every case comes from its own chat, so replies can be told apart though updates run concurrently.
# (where, text, expected): `where` is "private" or "group"; `expected` names a check below
# ("reply": an answer or the "nothing on it" note, whichever the ranking decides).
EMPTY = [
    ("private", "/ask", "usage ask"),
    ("private", "/ask    ", "usage ask"),
    ("private", "/ask \x00\x1b \u200b", "usage ask"),
    ("private", "   ", "usage ask"),
    ("private", "\x00", "usage ask"),
    ("private", "\x1b\x07\x00\x7f", "usage ask"),
    ("group", "/ask", "usage ask"),
    ("group", "/ask    ", "usage ask"),
    ("group", f"/ask@{BOT_USERNAME}", "usage ask"),
    ("group", f"/ask@{BOT_USERNAME}   \x00 ", "usage ask"),
    ("group", f"@{BOT_USERNAME}", "usage ask"),
    ("group", f"@{BOT_USERNAME}   ", "usage ask"),
    ("private", "/topic", "usage topic"),
    ("private", "/topic   \x00", "usage topic"),
    ("private", "/repo  ", "usage repo"),
    ("private", "/paper", "usage paper"),
    ("private", "/paper \x1b", "usage paper"),
]
LONG_RS = ("remote sensing <b>captions</b> & " * 200)[:4096]
HOSTILE = [
    ("private", LONG_RS, "answer"),
    ("group", "/ask " + LONG_RS[:4091], "answer"),
    ("private", "<b>x</b> *y* _z_ [a](b) &amp;", "nothing"),
    ("group", "/ask <b>x</b> *y* _z_ [a](b) &amp;", "nothing"),
    ("private", "\" * OR NEAR( '; DROP TABLE papers; --", "reply"),
    ("group", "/ask \" * OR NEAR( '; DROP TABLE papers; --", "reply"),
    ("private", "'; DROP TABLE papers; --", "reply"),
    ("private", 'NEAR(remote sensing, 5) OR "captions" *', "answer"),
    ("private", "😀🔥🚀", "nothing"),
    ("group", f"@{BOT_USERNAME} 🛰️📡", "nothing"),
    ("private", "مرحبا שלום", "nothing"),
    ("private", "ما هي الأوراق عن remote sensing images? מה לגבי captioning", "answer"),
    ("group", "/ask ما هي الأوراق عن remote sensing images? מה לגבי", "answer"),
    ("private", "\x1b[31m", "nothing"),
    ("private", "remote\x00sensing\x07 images\x1b captions", "answer"),
    ("group", "/ask remote\x00sensing \x1b[31m", "reply"),
    ("private", "\u202eremote sensing\u202c", "answer"),
]
WORDS = "satellite image caption model remote sensing video language code dataset benchmark"
TOPIC_500 = "/topic " + " ".join(random.Random(7).choices(WORDS.split(), k=500))
COMMANDS = [
    ("private", TOPIC_500, "topic"),
    ("private", "/paper nonexistent-0000", "not found"),
    ("private", "/paper ../../etc/passwd", "not found"),
    ("private", "/paper <script>alert(1)</script> & " + "x" * 3000, "not found"),
    ("group", f"/paper@{BOT_USERNAME} t-deadbeef0000", "not found"),
    ("private", "/repo $(rm -rf /) %s %n {0} ../../ <b> \x00", "nothing"),
    ("private", "/repo " + "A" * 4000, "nothing"),
    ("private", "/repo 😀", "nothing"),
    ("group", "/repo " + "CLIP" * 1000, "nothing"),
    ("private", "/frobnicate <b>&amp;", "unknown"),
]


def expect(kind: str, text: str, reply: str) -> None:
    """The reply a user should see for `text`, by kind."""
    shown = visible(reply)
    parts = text.split(maxsplit=1)
    argument = (parts[1] if len(parts) > 1 else "") if text.startswith("/") else text
    argument = re.sub(rf"@{BOT_USERNAME}\b", " ", argument)
    echo = shorten(clean_query(argument), fmt.ECHO_CHARS)
    if kind == "reply":
        kind = "answer" if shown.startswith("1. ") else "nothing"
    if kind.startswith("usage"):
        command = kind.split()[1]
        assert shown.startswith(f"Usage: /{command} "), shown
        assert "Example: /" in shown
    elif kind == "nothing":
        assert shown.startswith(f"Nothing in the collection on “{echo}”."), (shown, echo)
        assert "/topic" in shown
    elif kind == "not found":
        assert shown.startswith(f"No paper with id “{echo}” in the collection."), (shown, echo)
    elif kind == "unknown":
        assert shown.startswith("I don't know /frobnicate. I know /ask"), shown
    elif kind == "answer":
        assert shown.startswith("1. ") and "/paper " in shown, shown
        return  # an answer is as long as its papers, and still one message
    elif kind == "topic":
        assert shown.startswith(f"Papers on “{echo}” (1–5 of "), shown
        return
    assert len(shown) <= SHORT, shown


async def ask_each(api: FakeBotAPI, cases: list[tuple[str, str, str]]) -> list[tuple]:
    """Send every case from its own chat; wait for each chat's reply; return (case, replies)."""
    sent = []
    for n, (where, text, kind) in enumerate(cases):
        user = 10_000 + n
        if where == "private":
            api.add_private_message(text, user_id=user)
            chat = user
        else:
            chat = GROUP - n
            update = api.add_group_message(text, chat_id=chat, user_id=user)
        sent.append((where, text, kind, chat, None if where == "private" else update))
    await api.wait_for(lambda calls: all(api.sent(c[3]) for c in sent), timeout=10)
    await asyncio.sleep(0.2)  # a second, unwanted reply would show up by now
    return [(case, api.sent(case[3])) for case in sent]


@pytest.mark.parametrize("cases", [EMPTY, HOSTILE, COMMANDS], ids=["empty", "hostile", "commands"])
async def test_bad_input_gets_a_clear_short_reply_and_changes_nothing(
    api: FakeBotAPI, engine: Answers, cases: list, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshot(engine)
    assert before[:2] == (SEED_PAPERS, True)
    async with running_bot(api, engine):
        for (where, text, kind, _chat, update), replies in await ask_each(api, cases):
            assert len(replies) == 1, (text[:80], [r["text"][:80] for r in replies])
            [reply] = replies
            expect(kind, text, reply["text"])
            if where == "group":  # in a group the reply quotes the question
                quoted = reply["reply_parameters"]["message_id"]
                assert quoted == update["message"]["message_id"]
        assert_everything_sent_is_valid(api)
        await assert_still_answers(api)
    assert snapshot(engine) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no handler failed


async def test_long_topic_pages_with_its_hashed_more_button(api: FakeBotAPI, engine: Answers):
    """500 words: a short echo, and More still works (the query is remembered behind a hash).
    The words are on one subject: /topic pages only the papers on it."""
    async with running_bot(api, engine):
        api.add_private_message("/topic " + " ".join(["image captioning"] * 250))
        [page] = await api.wait_for_sent(1)
        [more] = [data for label, data in buttons(page) if label == "More"]
        assert fmt.is_hashed(more.split("|")[3])
        api.add_callback_query(more, message_id=api.sent_messages()[0]["message_id"])
        await api.wait_for(lambda calls: bool(api.requests_for("editMessageText")))
        [edit] = api.requests_for("editMessageText")
        assert "(6–" in edit["text"] and edit["text"].startswith(page["text"].split("(1–")[0])
        assert_everything_sent_is_valid(api)


FORGED = [
    ("\x89PNG\r\n\x1a\n\x00\ufffd\ufffd", h.EXPIRED),
    ("", h.EXPIRED),
    ("|||", h.EXPIRED),
    ("m|t|-5|x", h.EXPIRED),
    ("m|t|²|vision", h.EXPIRED),  # "²".isdigit(): this one used to raise and show the apology
    ("m|z|5|vision", h.EXPIRED),
    ("m|t|5|", h.EXPIRED),
    ("m|t|5|~0123456789abcdef", h.EXPIRED),  # stale: a hashed query from before a restart
    ("m|a|3|~ffffffffffffffff", h.EXPIRED),
    ("m|t|99999999|x", h.NO_MORE),
    ("m|t|" + "9" * 60 + "|vision", h.NO_MORE),
    ("m|t|5|" + "x" * 300, h.NO_MORE),
]
FORGED_SIMILAR = ["s|../../etc", "s|" + "y" * 300, "s|<b>&amp;\x00", "s||"]


async def test_forged_and_stale_buttons_get_a_short_alert(
    api: FakeBotAPI, engine: Answers, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshot(engine)
    async with running_bot(api, engine):
        for n, (data, _) in enumerate(FORGED):
            api.add_callback_query(data, message_id=500 + n, user_id=20_000 + n)
        for n, data in enumerate(FORGED_SIMILAR):
            api.add_callback_query(data, message_id=600 + n, user_id=30_000 + n)
        count = len(FORGED) + len(FORGED_SIMILAR)
        await api.wait_for(lambda calls: len(api.requests_for("answerCallbackQuery")) >= count)
        await api.wait_for_sent(len(FORGED_SIMILAR))
        await asyncio.sleep(0.2)
        # Presses were queued in order, and the stand-in numbers query ids in that order.
        answered = sorted(
            api.requests_for("answerCallbackQuery"), key=lambda p: int(p["callback_query_id"])
        )
        assert len({p["callback_query_id"] for p in answered}) == len(answered) == count
        for (data, alert), params in zip(FORGED, answered[: len(FORGED)], strict=True):
            assert params.get("text") == alert and params.get("show_alert") is True, data
        for n, data in enumerate(FORGED_SIMILAR):  # a forged Similar: "no such paper", once
            [reply] = api.sent(30_000 + n)
            echo = shorten(clean_query(data[2:]), fmt.ECHO_CHARS)
            assert visible(reply["text"]).startswith(f"No paper with id “{echo}”"), reply["text"]
        assert not api.requests_for("editMessageText")  # no page was overwritten
        assert len(api.sent()) == len(FORGED_SIMILAR)  # and no apology anywhere
        assert_everything_sent_is_valid(api)
        await assert_still_answers(api)
    assert snapshot(engine) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_button_pressed_while_the_bot_was_down_still_turns_the_page(
    api: FakeBotAPI, engine: Answers
) -> None:
    """Telegram refuses to answer a callback query that is too old (the bot was down): the page
    should still change, and no apology should appear for a press that worked."""
    async with running_bot(api, engine):
        api.add_private_message("/topic image captioning")
        [page] = await api.wait_for_sent(1)
        message_id = api.sent_messages()[0]["message_id"]
        api.fail_next("answerCallbackQuery", "400", count=2, description=TOO_OLD)
        api.add_callback_query("m|t|5|image captioning", message_id=message_id)
        await api.wait_for(lambda calls: bool(api.requests_for("editMessageText")), timeout=3)
        await asyncio.sleep(0.2)
        assert "(6–" in api.message(USER, message_id)["text"]
        assert api.sent_texts() == [page["text"]]  # no apology
        await assert_still_answers(api)


# ---------------------------------------------------------------- 2. Bot API faults while answering


def handler_errors(caplog: pytest.LogCaptureFixture) -> list[BaseException]:
    """Exceptions the bot's error handler logged (with their tracebacks)."""
    return [
        r.exc_info[1]
        for r in caplog.records
        if r.name == "bot.handlers" and r.levelno == logging.ERROR and r.exc_info
    ]


async def test_flood_limit_while_answering_is_retried(
    api: FakeBotAPI, engine: Answers, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(api, engine):
        api.fail_next("sendMessage", "429", retry_after=1)
        api.add_private_message(RS_QUESTION)
        [answer] = await api.wait_for_sent(1, timeout=5)
        assert RS5M_CODE in answer["text"]
        assert len(api.requests_for("sendMessage")) == 2  # refused once, then delivered
        assert handler_errors(caplog) == []
        await assert_still_answers(api)


@pytest.mark.parametrize("kind", ["500", "502", "close"])
async def test_failed_send_is_logged_apologised_for_and_the_bot_goes_on(
    api: FakeBotAPI, engine: Answers, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    async with running_bot(api, engine) as app:
        api.fail_next("sendMessage", kind)
        api.add_private_message(RS_QUESTION)
        [apology] = await api.wait_for_sent(1)
        assert apology["text"] == h.APOLOGY
        [error] = handler_errors(caplog)
        assert isinstance(error, NetworkError) and not isinstance(error, TimedOut)
        assert app.running and app.updater.running
        await assert_still_answers(api)
        assert_everything_sent_is_valid(api)


async def test_timed_out_send_is_apologised_for_and_never_repeated(
    api: FakeBotAPI, engine: Answers, caplog: pytest.LogCaptureFixture
) -> None:
    """A timeout may or may not have delivered the answer: the bot says sorry, never re-sends.
    LATE's answer reaches Telegram after the client gave up; LOST's never does."""
    late, lost = 50_001, 50_002
    async with running_bot(api, engine, read_timeout=READ_TIMEOUT):
        for user, deliver in ((late, True), (lost, False)):
            api.fail_next("sendMessage", "timeout", delay=SLOW, deliver=deliver)
            api.add_private_message(RS_QUESTION, user_id=user)
            await api.wait_for(
                lambda calls, u=user: any(
                    p["chat_id"] == u for p in api.requests_for("sendMessage")
                )
            )
        for user in (late, lost):
            await api.wait_for(lambda calls, u=user: h.APOLOGY in api.sent_texts(u), timeout=3)
        errors = handler_errors(caplog)
        assert len(errors) == 2 and all(isinstance(e, TimedOut) for e in errors)
        await assert_still_answers(api)
        await asyncio.sleep(SLOW)  # past the stand-in's delay: the late answer has landed
    for user, answered in ((late, 1), (lost, 0)):
        texts = api.sent_texts(user)
        assert sum(RS5M_CODE in t for t in texts) == answered, texts
        assert texts.count(h.APOLOGY) == 1 and len(texts) == answered + 1


async def test_blocked_chat_is_logged_and_not_retried(
    api: FakeBotAPI, engine: Answers, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(api, engine):
        api.forbidden_chats.add(USER)
        api.add_private_message(RS_QUESTION)
        await api.wait_for(lambda calls: bool(handler_errors(caplog)))
        [error] = handler_errors(caplog)
        assert isinstance(error, Forbidden)
        await assert_still_answers(api)  # other chats are served meanwhile
        attempts = [p for p in api.requests_for("sendMessage") if p["chat_id"] == USER]
        assert len(attempts) == 1  # no apology to a chat that blocked the bot
        api.forbidden_chats.discard(USER)  # the user unblocks the bot and asks again
        api.add_private_message(RS_QUESTION)
        [answer] = await api.wait_for_sent(1, chat_id=USER)
        assert RS5M_CODE in answer["text"]


async def test_polling_recovers_from_get_updates_failures(
    api: FakeBotAPI, engine: Answers, caplog: pytest.LogCaptureFixture
) -> None:
    """getUpdates fails (500, then a dropped connection): polling retries, every later question
    is answered exactly once."""
    async with running_bot(api, engine) as app:
        for n, kind in enumerate(["500", "close"]):
            # The first message wakes the pending long poll; the next poll then fails and the
            # second message has to wait for polling to recover.
            api.fail_next("getUpdates", kind)
            polls = len(api.requests_for("getUpdates"))
            api.add_private_message("remote sensing", user_id=40_000 + n)
            await api.wait_for_sent(1, chat_id=40_000 + n)
            await api.wait_for(lambda calls, p=polls: len(api.requests_for("getUpdates")) > p + 1)
            api.add_private_message(RS_QUESTION, user_id=41_000 + n)
            [answer] = await api.wait_for_sent(1, chat_id=41_000 + n, timeout=5)
            assert RS5M_CODE in answer["text"]
        await asyncio.sleep(0.2)
        assert app.updater.running
        assert Counter(p["chat_id"] for p in api.sent()) == {
            40_000: 1, 40_001: 1, 41_000: 1, 41_001: 1
        }  # fmt: skip
        polling_errors = [
            r for r in caplog.records if r.name.startswith("telegram.ext") and r.exc_info
        ]
        assert len(polling_errors) >= 2, [r.getMessage() for r in caplog.records]


# ---------------------------------------------------------------- 3. the push under faults

CHAT = -1001


def new_paper(n: int) -> str:
    return f"Hardening paper R{n}: Studying Widgets\n\n" + (
        f"We study widget number {n} of the hardening set in depth. " * 8
    )


PAPER_TAG = re.compile(r"Hardening paper R(\d+)")


async def test_push_command_timeout_is_uncertain_and_never_resent(
    api: FakeBotAPI, engine: Answers
) -> None:
    store_db.subscribe(engine.db, CHAT)
    add_papers(engine, read_file(FIXTURES / "hf_daily.json"))
    async with running_bot(api, engine, read_timeout=READ_TIMEOUT, PAPERBOT_ADMINS=str(ADMIN)):
        api.fail_next("sendMessage", "timeout", delay=SLOW, deliver=True)
        api.add_private_message("/push", user_id=ADMIN)
        [summary] = await api.wait_for_sent(1, chat_id=ADMIN, timeout=5)
        assert "1 chats failed (see log)" in summary["text"]
        assert set(store_db.ledger(engine.db, CHAT).values()) == {"uncertain"}
        await api.wait_for_sent(1, chat_id=CHAT, timeout=3)  # Telegram had taken it after all
        api.add_private_message("/push", user_id=ADMIN)
        await api.wait_for_sent(2, chat_id=ADMIN)
        assert "0 papers in 0 messages" in api.sent_texts(ADMIN)[-1]
    [digest] = api.sent_texts(CHAT)
    assert "Glacier" in digest and "Lighthouse" in digest


async def test_push_command_closed_connection_sends_on_the_next_run(
    api: FakeBotAPI, engine: Answers
) -> None:
    store_db.subscribe(engine.db, CHAT)
    add_papers(engine, read_file(FIXTURES / "hf_daily.json"))
    async with running_bot(api, engine, PAPERBOT_ADMINS=str(ADMIN)):
        api.fail_next("sendMessage", "close")
        api.add_private_message("/push", user_id=ADMIN)
        [summary] = await api.wait_for_sent(1, chat_id=ADMIN)
        assert "1 chats failed (see log)" in summary["text"]
        assert api.sent(CHAT) == [] and store_db.ledger(engine.db, CHAT) == {}
        api.add_private_message("/push", user_id=ADMIN)
        await api.wait_for_sent(2, chat_id=ADMIN)
        assert "1 chats: 2 papers in 1 messages" in api.sent_texts(ADMIN)[-1]
    [digest] = api.sent_texts(CHAT)
    assert "Glacier" in digest and "Lighthouse" in digest
    assert set(store_db.ledger(engine.db, CHAT).values()) == {"sent"}


# What a fault does to one sendMessage: "sure" = surely not delivered (must come in a later run),
# "late" = timed out but delivered, "lost" = timed out and never delivered (must not be resent).
FAULTS = {
    "500": ("500", {}, "sure"),
    "502": ("502", {}, "sure"),
    "close": ("close", {}, "sure"),
    "429": ("429", {"retry_after": 1}, "retried"),  # the app's rate limiter retries at once
    "timeout-late": ("timeout", {"delay": SLOW, "deliver": True}, "late"),
    "timeout-lost": ("timeout", {"delay": SLOW, "deliver": False}, "lost"),
}


# Chats join at different runs, so that faults (which hit a run's sends in chat id order: -1002,
# -1001, 5001) land on each of them: a private chat first, then two groups.
JOINS = {0: [5001], 2: [CHAT], 4: [-1002]}


def active_chats(run: int) -> int:
    return sum(len(chats) for joined, chats in JOINS.items() if joined <= run)


def fault_plan(seed: int, runs: int = 7) -> list[list[str]]:
    """Every kind of fault at least once in a random order, a second fault in some runs (never
    more faults than the run has sends: one per subscribed chat, each has a new paper)."""
    rng = random.Random(seed)
    kinds = list(FAULTS)
    rng.shuffle(kinds)
    plan = [[kind] for kind in kinds] + [[rng.choice(kinds)] for _ in range(runs - len(kinds))]
    for run in range(runs):
        while len(plan[run]) < active_chats(run) and rng.random() < 0.5:
            plan[run].append(rng.choice(["500", "close", "timeout-lost", "timeout-late"]))
    return plan


@pytest.mark.parametrize("seed", [6])
async def test_push_delivers_each_paper_at_most_once_and_surely_failed_ones_later(
    api: FakeBotAPI, engine: Answers, seed: int
) -> None:
    plan = fault_plan(seed)
    joined_at: dict[int, int] = {}
    tried: dict[tuple[int, int], list[str]] = {}  # (chat, paper) -> effect of each send of it
    async with running_bot(api, engine, read_timeout=READ_TIMEOUT) as app:
        send = bot_sender(app.bot)
        for run, faults in enumerate([*plan, []]):  # the faulted runs, then a clean one
            for chat in JOINS.get(run, []):
                store_db.subscribe(engine.db, chat)
                joined_at[chat] = run
            add_papers(engine, new_paper(run))
            for kind in faults:
                method_kind, options, _ = FAULTS[kind]
                api.fail_next("sendMessage", method_kind, **options)
            first = len(api.requests_for("sendMessage"))
            await push_all(engine, send)
            attempts = api.requests_for("sendMessage")[first:]
            assert len(attempts) >= len(faults)  # every fault was used in its own run
            for n, params in enumerate(attempts):  # faults hit sends in the order they arrive
                effect = FAULTS[faults[n]][2] if n < len(faults) else "ok"
                for paper in PAPER_TAG.findall(params["text"]):
                    tried.setdefault((params["chat_id"], int(paper)), []).append(effect)
        await asyncio.sleep(SLOW)  # every late delivery has landed (or was dropped)
    ids = {
        int(PAPER_TAG.match(title)[1]): pid
        for pid, title in engine.db.execute("select id, title from papers where title like 'Hard%'")
    }
    assert sorted(ids) == list(range(len(plan) + 1))
    for chat, since in joined_at.items():
        delivered = Counter(
            int(p) for text in api.sent_texts(chat) for p in PAPER_TAG.findall(text)
        )
        assert set(delivered) <= set(range(since, len(plan) + 1))  # nothing from before joining
        statuses = store_db.ledger(engine.db, chat)
        for paper in range(since, len(plan) + 1):
            effects = tried[(chat, paper)]
            *before, last = effects
            # Sent again only after a send that surely failed (or that the rate limiter retried);
            # never after one that may have arrived. The final clean run leaves nothing behind.
            assert set(before) <= {"sure", "retried"} and last in ("ok", "late", "lost"), effects
            assert delivered[paper] == (0 if last == "lost" else 1), (chat, paper, effects)
            expected = "uncertain" if last in ("late", "lost") else "sent"
            assert statuses[ids[paper]] == expected, (chat, paper, effects)
    faulted = {chat for (chat, _), effects in tried.items() if set(effects) - {"ok"}}
    assert faulted == set(joined_at), tried  # every chat met some fault
    assert snapshot(engine)[1]
