"""The real Application over HTTP against the Bot API stand-in (tests/botapi.py), and `paperbot run`.

Each test starts the bot the way production does (initialize, post_init, start, long polling),
feeds updates through the stand-in and asserts what the bot sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import time as dtime
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner
from telegram.ext import Application, CommandHandler

from bot import handlers as h
from bot.app import MAINTENANCE, bot_commands
from bot.cli import cli
from bot.config import ConfigError, Settings, TokenFilter, install_token_filter, mask
from store.answers.engine import Answer, Answers, Hit
from tests.botapi import BOT_USERNAME, DEFAULT_GROUP_ID, DEFAULT_USER_ID, FakeBotAPI
from tests.harness import TOKEN, running_bot
from tests.helpers import assert_telegram_html

SECRET = TOKEN.split(":")[1]
USER = DEFAULT_USER_ID
GROUP = DEFAULT_GROUP_ID
RS_QUESTION = "Which papers caption remote sensing images?"
RS5M_CODE = "https://github.com/om-ai-lab/RS5M"
ROOT = Path(__file__).resolve().parent.parent


@pytest_asyncio.fixture
async def bot(api: FakeBotAPI, seed_answers) -> AsyncIterator[Application]:
    async with running_bot(api, seed_answers) as app:
        yield app


def keyboard(params: dict) -> list[tuple[str, str]]:
    """(text, callback data or url) of the buttons of a sent or edited message."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url")) for row in rows for b in row]


def one_sent(api: FakeBotAPI, containing: str, chat_id: int | None = None) -> dict:
    """The single sent message whose text contains `containing`."""
    found = [p for p in api.sent(chat_id) if containing in p["text"]]
    assert len(found) == 1, (containing, api.sent_texts(chat_id))
    return found[0]


# ---------------------------------------------------------------- conversation


async def test_private_question(api: FakeBotAPI, bot: Application) -> None:
    api.add_private_message(RS_QUESTION)
    [reply] = await api.wait_for_sent(1)

    assert_telegram_html(reply["text"])
    assert reply["chat_id"] == USER and reply["parse_mode"] == "HTML"
    assert reply["link_preview_options"] == {"is_disabled": True}
    assert f'code: <a href="{RS5M_CODE}">github.com/om-ai-lab/RS5M</a>' in reply["text"]
    assert "<b>remote</b> <b>sensing</b>" in reply["text"]
    assert ("More", f"m|a|3|{RS_QUESTION}") in keyboard(reply)
    assert any(label.startswith("Code ") and url == RS5M_CODE for label, url in keyboard(reply))
    assert "reply_parameters" not in reply  # no quoting in a private chat


async def test_commands_menu_help_and_simple_commands(api: FakeBotAPI, bot: Application) -> None:
    expected = [{"command": c.command, "description": c.description} for c in bot_commands()]
    assert api.commands_for() == expected
    registered = {
        command
        for group in bot.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }
    # every command is in the menu and /help, except the maintainers' /fetch and /push
    assert (
        registered - set(MAINTENANCE)
        == {c[0] for c in h.COMMANDS}
        == {c["command"] for c in expected}
    )

    for text in ("/help", "/start", "/stats", "/latest", "/paper t-826d74fca928"):
        api.add_private_message(text)
    sent = await api.wait_for_sent(5)
    for params in sent:
        assert_telegram_html(params["text"])
    help_texts = [p["text"] for p in sent if "Example questions" in p["text"]]
    assert len(help_texts) == 2  # /start introduces the bot like /help
    help_text = help_texts[0]
    assert all(f"\n/{name}" in help_text for name in h.COMMAND_CALLBACKS)
    assert one_sent(api, "papers with links: 44")
    assert one_sent(api, "Recently added")
    assert one_sent(api, "id <code>t-826d74fca928</code>")


async def test_group_mention_reply_and_ask_chatter_ignored(
    api: FakeBotAPI, bot: Application
) -> None:
    api.add_group_message("lunch anyone? remote sensing is fun")  # chatter: no answer
    api.add_group_message("@someone_else what is CLIP?")  # another addressee
    api.add_group_message("/topic@some_other_bot vision")  # another bot's command
    asked = api.add_group_message(f"@{BOT_USERNAME} {RS_QUESTION}")
    [answer] = await api.wait_for_sent(1, chat_id=GROUP)
    quoted = answer["reply_parameters"]
    assert quoted["message_id"] == asked["message"]["message_id"]
    assert quoted["allow_sending_without_reply"] is True  # answers even if the question is gone
    assert RS5M_CODE in answer["text"]

    bot_message_id = api.sent_messages(GROUP)[0]["message_id"]
    api.add_group_message("and video understanding?", reply_to_bot_message_id=bot_message_id)
    api.add_group_message(f"/ask@{BOT_USERNAME} code generation from natural language")
    await api.wait_for_sent(3, chat_id=GROUP)
    await asyncio.sleep(0.2)  # give a wrongly answered chatter message time to show up
    assert len(api.sent(GROUP)) == 3
    for question in ("and video understanding?", "code generation from natural language"):
        best = bot.bot_data["answers"].ask(question).results[0]
        assert any(f"<code>/paper {best.id}</code>" in text for text in api.sent_texts(GROUP))


async def test_topic_paging_with_the_more_button(api: FakeBotAPI, bot: Application) -> None:
    api.add_private_message("/topic image captioning")
    [page1] = await api.wait_for_sent(1)
    assert "(1–5 of " in page1["text"] and ("More", "m|t|5|image captioning") in keyboard(page1)
    message_id = api.sent_messages()[0]["message_id"]

    api.add_callback_query("m|t|5|image captioning", message_id=message_id)
    await api.wait_for(lambda calls: any(m == "editMessageText" for m, _ in calls))
    edited = api.message(USER, message_id)
    assert "(6–10 of " in edited["text"]
    assert ("Back", "m|t|0|image captioning") in keyboard(edited)
    assert_telegram_html(edited["text"])

    api.add_callback_query("m|t|0|image captioning", message_id=message_id)
    await api.wait_for(lambda calls: len(api.requests_for("editMessageText")) == 2)
    assert api.message(USER, message_id)["text"] == page1["text"]
    assert len(api.requests_for("answerCallbackQuery")) == 2 and len(api.sent()) == 1


async def test_old_buttons_after_a_restart(api: FakeBotAPI, bot: Application) -> None:
    """This bot never saw these queries: a literal one still pages, a hashed one has expired."""
    api.add_callback_query("m|t|5|image captioning", message_id=77)  # 12 papers on it
    await api.wait_for(lambda calls: bool(api.requests_for("editMessageText")))
    assert "(6–" in api.message(USER, 77)["text"]

    api.add_callback_query("m|t|5|~0123456789abcdef", message_id=78)
    await api.wait_for(lambda calls: len(api.requests_for("answerCallbackQuery")) == 2)
    expired = api.requests_for("answerCallbackQuery")[-1]
    assert expired["text"] == h.EXPIRED and expired["show_alert"] is True
    assert len(api.requests_for("editMessageText")) == 1

    api.add_callback_query("s|t-826d74fca928", message_id=77)  # Similar: a new message
    [similar] = await api.wait_for_sent(1)
    assert similar["text"].startswith("<b>Papers like “RS5M and GeoRSCLIP")


async def test_repo_with_and_without_links(api: FakeBotAPI, bot: Application) -> None:
    for text in ("/repo RS5M", "/repo Flamingo", "/repo"):
        api.add_private_message(text)
    await api.wait_for_sent(3)
    with_link = one_sent(api, "RS5M and GeoRSCLIP")
    assert ("Code 1", RS5M_CODE) in keyboard(with_link)
    without = one_sent(api, "Flamingo: a Visual Language Model")
    assert "<i>no code link in the abstract</i>" in without["text"]
    assert all(url is None or "http" not in url for _, url in keyboard(without))
    usage = one_sent(api, "Usage: /repo NAME")
    assert "Example: <code>/repo CLIP</code>" in usage["text"]


async def test_an_absent_topic_in_the_group_reads_as_a_refusal(
    api: FakeBotAPI, bot: Application
) -> None:
    question = "federated learning with non-iid clients - does fedprox actually fix client drift?"
    api.add_group_message(f"@{BOT_USERNAME} {question}")
    [reply] = await api.wait_for_sent(1, chat_id=GROUP)
    text = reply["text"]
    assert_telegram_html(text)
    assert text.startswith("Nothing in the collection on “federated learning with non-iid")
    assert "Nearest, not an answer:" in text and "\n• " in text  # titles, not answers
    assert "<code>/paper " not in text and "1. " not in text  # no paper presented as the answer
    assert "<code>/add ARXIV_ID</code>" in text
    search = "https://arxiv.org/search/?query=federated+learning+with+non-iid+clients"
    assert f'<a href="{search}' in text


async def test_user_html_and_answerless_question(api: FakeBotAPI, bot: Application) -> None:
    api.add_private_message("<b>bold</b> <script>alert(1)</script> & how to bake sourdough?")
    [reply] = await api.wait_for_sent(1)
    assert_telegram_html(reply["text"])
    assert reply["text"].startswith(
        "Nothing in the collection on “&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;alert(1)"
    )
    assert "<script>" not in reply["text"] and "/topic" in reply["text"]


async def test_4000_character_message(api: FakeBotAPI, bot: Application) -> None:
    text = ("remote sensing images <captions> & " * 200)[:4000]
    api.add_private_message(text)
    sent = await api.wait_for_sent(1)
    for params in sent:
        assert_telegram_html(params["text"])
    [more] = [data for label, data in keyboard(sent[-1]) if label == "More"]
    assert len(more.encode()) <= 64 and more.startswith("m|a|3|~")

    api.add_callback_query(more, message_id=api.sent_messages()[-1]["message_id"])
    await api.wait_for_sent(2)  # the hashed query is remembered: More still works
    assert "(4–" in api.sent_texts()[-1]


async def test_unknown_command(api: FakeBotAPI, bot: Application) -> None:
    api.add_group_message("/frobnicate")  # maybe another bot's: silence
    api.add_group_message(f"/frobnicate@{BOT_USERNAME}")
    api.add_private_message("/frobnicate now")
    await api.wait_for_sent(2)
    await asyncio.sleep(0.2)
    assert len(api.sent()) == 2
    for params in api.sent():
        assert params["text"].startswith("I don't know /frobnicate. I know /ask, /topic")


async def test_error_is_logged_answered_and_the_bot_keeps_running(
    api: FakeBotAPI, bot: Application, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail_next("sendMessage", "400", description="Bad Request: can't parse entities")
    api.add_private_message("/stats")
    [apology] = await api.wait_for_sent(1)
    assert apology["text"] == h.APOLOGY
    assert any(
        r.exc_info and "can't parse entities" in str(r.exc_info[1]).lower() for r in caplog.records
    )

    api.add_private_message("/stats")
    await api.wait_for_sent(2)
    assert "papers: 91" in api.sent_texts()[-1]


async def test_refused_keyboard_falls_back_to_plain_text(api: FakeBotAPI, bot: Application) -> None:
    api.fail_next("sendMessage", "400", description="Bad Request: BUTTON_URL_INVALID")
    api.add_private_message("/repo RS5M")
    [reply] = await api.wait_for_sent(1)
    assert RS5M_CODE in reply["text"] and "reply_markup" not in reply
    assert len(api.requests_for("sendMessage")) == 2


class SlowAnswers:
    """The real engine, except that every question takes a while: shows updates run side by side."""

    def __init__(self, engine: Answers, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

    def ask(self, question: str, limit: int = 3, only: set[str] | None = None) -> Answer:
        time.sleep(self.seconds)  # blocking on purpose: it must run in a worker thread
        hit = Hit("t-1", f"Paper for {question}", 1.0, "A snippet.", None, [])
        return Answer(question, [hit], total=1)


async def test_questions_run_concurrently_off_the_event_loop(
    api: FakeBotAPI, seed_answers: Answers
) -> None:
    gaps: list[float] = []

    async def heartbeat() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.02)
            gaps.append(time.monotonic() - before)

    async with running_bot(api, SlowAnswers(seed_answers, 0.5)):
        beat = asyncio.create_task(heartbeat())
        started = time.monotonic()
        for n in range(4):
            api.add_private_message(f"question {n}", user_id=USER + n)
        await api.wait_for_sent(4)
        elapsed = time.monotonic() - started
        beat.cancel()
    assert elapsed < 1.5  # one after the other would take 2 s
    assert max(gaps) < 0.3  # the loop kept turning while the searches slept
    firsts = sorted(text.split("\n")[0] for text in api.sent_texts())
    assert firsts == [f"<b>1. Paper for question {n}</b>" for n in range(4)]


# ---------------------------------------------------------------- running it: settings


def test_settings_from_env_reads_every_setting() -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": "http://127.0.0.1:8081/bot",
            "PAPERBOT_DB": "/data/papers.db",
            "PAPERBOT_WEBHOOK_SECRET": "s3cret_-",
            "PAPERBOT_LOG_LEVEL": "debug",
            "PAPERBOT_ALLOWED_CHATS": "-1001234567890, 42",
            "PAPERBOT_ADMINS": "7 8",
            "PAPERBOT_PUSH_TIME": "08:30",
            "PAPERBOT_TIMEZONE": "Europe/Berlin",
            "PAPERBOT_RATE_LIMIT": "10",
            "PAPERBOT_ADD": "Admins",
        }
    )
    assert settings == Settings(
        token=TOKEN,
        api_url="http://127.0.0.1:8081/bot",
        db_path=Path("/data/papers.db"),
        webhook_secret="s3cret_-",
        log_level="DEBUG",
        allowed_chats=frozenset({-1001234567890, 42}),
        admins=frozenset({7, 8}),
        push_time=dtime(8, 30),
        timezone="Europe/Berlin",
        rate_limit=10,
        add_policy="admins",
    )
    assert settings.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert SECRET not in repr(settings)
    defaults = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert defaults == Settings(token=TOKEN) and defaults.base_file_url is None


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / "deploy" / ".env.example").read_text()
    source = (ROOT / "bot" / "config.py").read_text()
    names = set(re.findall(r'get\("([A-Z_]+)"', source))
    assert len(names) >= 14
    extra = {"PAPERBOT_WEBHOOK_URL", "PAPERBOT_LISTEN", "PAPERBOT_PORT", "PAPERBOT_SEMANTIC"}
    for name in names | extra:
        assert f"{name}=" in example, name


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "12:" + SECRET}, "TELEGRAM_BOT_TOKEN is malformed"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN + " junk"}, "TELEGRAM_BOT_TOKEN is malformed"),
        ({"TELEGRAM_API_URL": "127.0.0.1:8081"}, "TELEGRAM_API_URL must be an http(s) URL"),
        ({"PAPERBOT_PUSH_TIME": "25:00"}, "PAPERBOT_PUSH_TIME must be HH:MM"),
        ({"PAPERBOT_TIMEZONE": "Mars/Olympus"}, "PAPERBOT_TIMEZONE is not a known"),
        ({"PAPERBOT_ADMINS": "alice"}, "PAPERBOT_ADMINS must be a comma-separated"),
        ({"PAPERBOT_RATE_LIMIT": "-1"}, "PAPERBOT_RATE_LIMIT must be a whole number"),
        ({"PAPERBOT_ADD": "everyone"}, "PAPERBOT_ADD must be members or admins"),
        ({"PAPERBOT_WEBHOOK_SECRET": "has space"}, "PAPERBOT_WEBHOOK_SECRET must be"),
        ({"PAPERBOT_LOG_LEVEL": "loud"}, "PAPERBOT_LOG_LEVEL must be one of"),
    ],
)
def test_bad_settings_are_one_line_errors(env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, **env})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and SECRET not in str(caught.value)


def test_token_is_masked_in_every_log_record() -> None:
    assert mask(f"POST https://api.telegram.org/bot{TOKEN}/getMe", TOKEN) == (
        "POST https://api.telegram.org/bot123456:***/getMe"
    )
    out = io.StringIO()
    root = logging.getLogger("paperbot-test-root")
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    child = logging.getLogger("paperbot-test-root.httpx")
    child.setLevel(logging.INFO)
    try:
        install_token_filter(TOKEN, root)
        assert sum(isinstance(f, TokenFilter) for f in handler.filters) == 1
        child.info("HTTP Request: POST %s/bot%s/getUpdates", "http://x", TOKEN)
        try:
            raise RuntimeError(f"connect failed for /bot{TOKEN}/getMe")
        except RuntimeError:
            child.exception("request failed")
    finally:
        root.removeHandler(handler)
    logged = out.getvalue()
    assert SECRET not in logged
    assert logged.count("123456:***") == 2 and "RuntimeError" in logged


# ---------------------------------------------------------------- running it: `paperbot run`


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, [], "paperbot run: TELEGRAM_BOT_TOKEN is not set"),
        (
            {"TELEGRAM_BOT_TOKEN": "123:" + SECRET},
            [],
            "paperbot run: TELEGRAM_BOT_TOKEN is malformed",
        ),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN},
            ["--webhook-url", "http://x.org/hook"],
            "must be an https://",
        ),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN},
            ["--secret-token", "bad secret"],
            "PAPERBOT_WEBHOOK_SECRET",
        ),
    ],
)
def test_run_refuses_bad_configuration_with_exit_code_2(
    env: dict, args: list, message: str
) -> None:
    clean = {name: None for name in os.environ if name.startswith(("TELEGRAM_", "PAPERBOT_"))}
    result = CliRunner().invoke(cli, ["run", *args], env={**clean, **env})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and SECRET not in result.output


def test_run_webhook_mode_needs_tornado(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tornado" else real(name, *a)
    )
    result = CliRunner().invoke(
        cli,
        ["run", "--webhook-url", "https://bot.example.org/hook"],
        env={"TELEGRAM_BOT_TOKEN": TOKEN},
    )
    assert result.exit_code == 2 and "python-telegram-bot[webhooks]" in result.output


@contextlib.contextmanager
def stub_in_thread() -> Iterator[FakeBotAPI]:
    """The stand-in on its own loop in a thread, for code that runs its own loop (run_polling)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = asyncio.run_coroutine_threadsafe(_started_stub(), loop).result(5)
    try:
        yield api
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def _started_stub() -> FakeBotAPI:
    api = FakeBotAPI()
    await api.start()
    return api


def test_run_with_a_rejected_token_exits_2_without_printing_it(seed_answers) -> None:
    with stub_in_thread() as api:
        api.fail_next("getMe", "401")
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api.base_url}
        result = CliRunner().invoke(cli, ["--db", str(seed_answers.db_path), "run"], env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "paperbot run: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?)"
    )


async def test_paperbot_run_polls_answers_and_stops_on_sigterm(
    api: FakeBotAPI, seed_answers, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PAPERBOT_"))},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "PAPERBOT_DB": str(seed_answers.db_path),  # already indexed: starts fast
        "PAPERBOT_LOG_LEVEL": "DEBUG",  # PTB logs its API URL (with the token) at DEBUG
    }
    log_path = tmp_path / "stderr.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, cwd=ROOT, stderr=log
        )
        try:
            await api.wait_for(lambda calls: bool(api.requests_for("setMyCommands")), timeout=60)
            api.add_private_message(RS_QUESTION)
            [reply] = await api.wait_for_sent(1, timeout=20)
            proc.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(proc.wait(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
    logged = log_path.read_text()
    assert RS5M_CODE in reply["text"]
    assert returncode == 0, logged[-2000:]
    assert SECRET not in logged and "123456:***" in logged
    assert "@paperbot_test_bot ready: 91 papers" in logged
    assert api.requests_for("getUpdates")[0]["allowed_updates"]  # Update.ALL_TYPES


def test_settings_are_frozen() -> None:
    settings = Settings(token=TOKEN)
    with pytest.raises(AttributeError):
        settings.token = "x"  # type: ignore[misc]
    assert replace(settings, rate_limit=3).rate_limit == 3
