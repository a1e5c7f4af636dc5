"""The running bot under faults and first-week use, through the real Application (or `paperbot run`)
and the Bot API stand-in: quiet background jobs, /id, a "working" reply for /add, buttons with no
chat, a digest whose time the clock jumped over, a token revoked while polling, odd settings."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import curation
from bot.config import Settings, setup_logging
from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import parse_text, read_file
from store.collection.importers.fetch import Fetcher
from tests.botapi import DEFAULT_GROUP_ID, DEFAULT_USER_ID, FakeBotAPI
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer
from tests.harness import TOKEN, running_bot
from tests.processes import ROOT, paperbot, start_writer
from tests.test_add import MORAINE, atom
from tests.test_shutdown import bot_env, start_bot, stop_bot

GROUP, USER = DEFAULT_GROUP_ID, DEFAULT_USER_ID


@pytest.fixture
def quiet_logging():
    """setup_logging as `paperbot run` calls it; the loggers' levels put back afterwards."""
    setup_logging(Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN}))
    yield
    for name in ("apscheduler", "telegram.ext.JobQueue"):
        logging.getLogger(name).setLevel(logging.NOTSET)


async def test_background_jobs_that_do_no_work_log_nothing(api, answers, caplog, quiet_logging):
    caplog.set_level(logging.INFO)
    ran = asyncio.Event()
    turns = []

    async def idle(context) -> None:
        turns.append(1)
        if len(turns) >= 3:
            ran.set()

    async with running_bot(api, answers) as app:
        app.job_queue.run_repeating(idle, interval=0.1, name="idle")
        await asyncio.wait_for(ran.wait(), 30)
    chatter = [r.getMessage() for r in caplog.records if "job" in r.getMessage().lower()]
    assert not [m for m in chatter if "Running job" in m or "executed successfully" in m]


async def test_id_tells_the_chat_id_and_the_user_id_and_help_lists_it(api, answers):
    async with running_bot(api, answers):
        api.add_group_message("/id", chat_id=GROUP)
        [reply] = await api.wait_for_sent(1, chat_id=GROUP)
        api.add_private_message("/help")
        await api.wait_for_sent(1, chat_id=USER)
    assert f"<code>{GROUP}</code> (for PAPERBOT_ALLOWED_CHATS)" in reply["text"]
    assert f"<code>{USER}</code> (for PAPERBOT_ADMINS)" in reply["text"]
    assert "\n/id " in api.sent_texts(USER)[0]
    assert "id" in [c["command"] for c in api.commands]


async def test_add_says_it_is_working_then_edits_in_the_result(api, answers):
    with FeedServer() as arxiv:
        url = arxiv.route("/api/query", atom(MORAINE), delay=1.0)  # a slow arXiv
        async with running_bot(api, answers, PAPERBOT_ARXIV_URL=url) as app:
            fetcher = Fetcher(retries=1, backoff=0.01, arxiv_interval=0.05, timeout=5.0)
            app.bot_data["arxiv"] = curation.ArxivLookups(url, fetcher)
            api.add_group_message("/add 2403.01234", chat_id=GROUP)
            [working] = await api.wait_for_sent(1, chat_id=GROUP)
            assert working["text"] == "Looking up 2403.01234 on arXiv…"
            await api.wait_for(lambda _: api.requests_for("editMessageText"), timeout=30)
    [edit] = api.requests_for("editMessageText")
    assert f"• added: {MORAINE[1]} [2403.01234]" in edit["text"]
    assert len(api.sent(GROUP)) == 1  # the result replaced the working message


def inline_press(api: FakeBotAPI, data: str) -> None:
    """A button pressed under an inline message: the update has no chat at all."""
    query_id = "999000111"
    api._callback_ids.add(query_id)
    query = {
        "id": query_id,
        "from": api.user(USER),
        "chat_instance": "42",
        "data": data,
        "inline_message_id": "AAQinline",
    }
    api.add_update({"callback_query": query})


@pytest.mark.parametrize("allowed", ["", str(USER)])
async def test_a_button_with_no_chat_is_refused_without_a_crash(api, answers, caplog, allowed):
    async with running_bot(api, answers, PAPERBOT_ALLOWED_CHATS=allowed):
        inline_press(api, "a|2403.01234")
        await api.wait_for(lambda _: api.requests_for("answerCallbackQuery"), timeout=10)
        await asyncio.sleep(0.3)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert store_db.team_paper_ids(answers.db) == []
    [answered] = api.requests_for("answerCallbackQuery")
    if allowed:  # the allow-list gate: no chat to check, nothing done
        assert not answered.get("text")
    else:
        assert answered["text"] == curation.NO_CHAT


async def test_a_clock_jump_over_the_push_time_sends_the_digest_at_once(api, answers):
    store_db.subscribe(answers.db, GROUP)
    store_db.upsert_papers(answers.db, parse_text(read_file(FIXTURES / "hf_daily.json")))
    answers.refresh()
    with FeedServer() as feeds:
        hf = feeds.route("/daily", "[]")
        async with running_bot(api, answers, PAPERBOT_SOURCES="hf", PAPERBOT_HF_URL=hf) as app:
            [job] = [j for j in app.job_queue.jobs() if j.name.startswith("push:")]
            # What the scheduler finds when it wakes after the wall clock jumped 2 h forward
            # over the push time: the run time 2 h behind it.
            job.job.modify(next_run_time=datetime.now(UTC) - timedelta(hours=2))
            app.job_queue.scheduler.wakeup()
            await api.wait_for(lambda _: api.sent_texts(GROUP), timeout=20)
            assert job.next_t > datetime.now(UTC)  # and the next one tomorrow, as before
    [digest] = api.sent_texts(GROUP)
    assert "Glacier" in digest


async def test_a_token_revoked_while_polling_stops_the_bot_for_a_restart(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    db_path = tmp_path / "papers.db"
    Answers.open(db_path).db.close()
    log = tmp_path / "stderr.log"
    proc = await start_bot(api, bot_env(api, db_path), log)
    try:
        api.fail_next("getUpdates", "401", count=1000)  # revoked: every poll is refused
        code = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            await stop_bot(proc)
    text = log.read_text()
    assert code == 2, text[-3000:]  # not alive and deaf: systemd sees the failure
    assert "polling stopped by itself (InvalidToken" in text
    assert text.splitlines()[-1] == (
        "paperbot run: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?)"
    )


def test_an_odd_rate_limit_is_one_line(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "PAPERBOT_RATE_LIMIT": "²", "PAPERBOT_DB": "x"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env={**bot_env(FakeBotAPI(), tmp_path / "p.db"), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "paperbot run: PAPERBOT_RATE_LIMIT must be a whole number (0 = no limit), got '²'"
    )


def test_subscriptions_add_on_a_locked_database_is_one_line(tmp_path: Path) -> None:
    db_path = tmp_path / "papers.db"
    Answers.open(db_path).db.close()
    holder = start_writer("hold", db_path, 15.0)
    try:
        done = paperbot(db_path, "subscriptions", "add", "-100", "glaciers")
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("chat -100 was not subscribed: database is locked")


def test_subscriptions_add_on_a_read_only_database_is_one_line(tmp_path: Path) -> None:
    db_path = tmp_path / "db" / "papers.db"
    db_path.parent.mkdir()
    Answers.open(db_path).db.close()
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(db_path.parent), str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("no read-only bind mount here")
    try:
        done = paperbot(mount / "papers.db", "subscriptions", "add", "-100")
    finally:
        subprocess.run(["umount", str(mount)], check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("chat -100 was not subscribed:")
