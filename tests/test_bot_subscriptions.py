"""Subscriptions, maintainers, access and the daily job, through the real Application and the stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import parse_text, read_file
from tests.botapi import DEFAULT_GROUP_ID, DEFAULT_USER_ID
from tests.conftest import FIXTURES
from tests.harness import TOKEN, running_bot

GROUP = DEFAULT_GROUP_ID
USER = DEFAULT_USER_ID
ADMIN = 777


def add_papers(answers: Answers, fixture: str) -> None:
    store_db.upsert_papers(answers.db, parse_text(read_file(FIXTURES / fixture)))


async def test_group_admin_subscribes_and_members_cannot(api, answers):
    api.admins[GROUP] = {ADMIN}
    async with running_bot(api, answers):
        api.add_group_message("/subscribe", user_id=USER)
        [refusal] = await api.wait_for_sent(1)
        assert "administrators" in refusal["text"]
        api.add_group_message("/subscribe@paperbot_test_bot ice sheets", user_id=ADMIN)
        await api.wait_for_sent(2)
        assert "matching <b>ice sheets</b>" in api.sent_texts()[-1]
        api.add_group_message("/settings", user_id=USER)  # anyone may look
        await api.wait_for_sent(3)
        assert "Daily digest at <b>08:00</b> (UTC)" in api.sent_texts()[-1]
        api.add_group_message("/settings timezone Mars/Olympus", user_id=ADMIN)
        await api.wait_for_sent(4)
        assert "Unknown time zone" in api.sent_texts()[-1]
        api.add_group_message("/settings time 21:15", user_id=ADMIN)
        await api.wait_for_sent(5)
        assert "<b>21:15</b>" in api.sent_texts()[-1]
    sub = store_db.subscription(answers.db, GROUP)
    assert (sub["active"], sub["keywords"], sub["push_time"]) == (1, "ice sheets", "21:15")


async def test_daily_jobs_follow_each_chats_time_zone(api, answers):
    store_db.subscribe(answers.db, GROUP)
    store_db.update_subscription(answers.db, GROUP, push_time="07:45", timezone="America/New_York")
    async with running_bot(
        api, answers, PAPERBOT_PUSH_TIME="08:30", PAPERBOT_TIMEZONE="Asia/Tokyo"
    ) as app:
        jobs = {job.name: job for job in app.job_queue.jobs() if job.name.startswith("push:")}
        assert set(jobs) == {"push:07:45:America/New_York", "push:08:30:Asia/Tokyo"}
        tokyo = jobs["push:08:30:Asia/Tokyo"].next_t.astimezone(ZoneInfo("Asia/Tokyo"))
        new_york = jobs["push:07:45:America/New_York"].next_t.astimezone(
            ZoneInfo("America/New_York")
        )
        assert (tokyo.hour, tokyo.minute) == (8, 30)
        assert (new_york.hour, new_york.minute) == (7, 45)
        assert jobs["push:08:30:Asia/Tokyo"].next_t > datetime.now(ZoneInfo("UTC"))


async def test_daily_job_fetches_then_pushes_once(api, answers, tmp_path):
    from tests.feedserver import FeedServer

    store_db.subscribe(answers.db, GROUP)
    with FeedServer() as feeds:
        hf = feeds.route("/daily", (FIXTURES / "hf_daily.json").read_bytes())
        env = {"PAPERBOT_SOURCES": "hf", "PAPERBOT_HF_URL": hf}
        async with running_bot(api, answers, **env) as app:
            [job] = [j for j in app.job_queue.jobs() if j.name.startswith("push:")]
            await job.run(app)
            await job.run(app)  # the next day: the feed has nothing new
    [digest] = api.sent_texts(GROUP)
    assert "Glacier" in digest and "Lighthouse" in digest
    assert answers.ask("ice sheets melting satellite").results[0].id == "2504.08385"


async def test_push_and_fetch_are_for_maintainers_only(api, answers):
    store_db.subscribe(answers.db, GROUP)
    add_papers(answers, "hf_daily.json")
    async with running_bot(api, answers, PAPERBOT_ADMINS=str(ADMIN)):
        api.add_private_message("/push", user_id=USER)
        [refusal] = await api.wait_for_sent(1)
        assert "maintainers" in refusal["text"]
        api.add_private_message("/push", user_id=ADMIN, chat_id=ADMIN)
        await api.wait_for(lambda calls: len(api.sent_texts()) >= 3)
    assert "Glacier" in api.sent_texts(GROUP)[0]
    assert "1 chats: 2 papers in 1 messages" in api.sent_texts(ADMIN)[-1]


async def test_chats_outside_the_allow_list_get_nothing_and_groups_are_left(api, answers):
    async with running_bot(api, answers, PAPERBOT_ALLOWED_CHATS=str(USER)):
        api.add_my_chat_member(GROUP, new_status="member")
        api.add_group_message("/ask remote sensing", chat_id=GROUP)
        api.add_private_message("remote sensing", user_id=999, chat_id=999)
        api.add_private_message("remote sensing")  # the allowed private chat
        await api.wait_for_sent(1)
        await api.wait_for(lambda calls: GROUP in api.left_chats)
        await asyncio.sleep(0.3)
    assert [p["chat_id"] for p in api.sent()] == [USER]


async def test_rate_limit_notices_once_then_stays_silent(api, answers):
    async with running_bot(api, answers, PAPERBOT_RATE_LIMIT="2"):
        for _ in range(5):
            api.add_private_message("remote sensing")
        await api.wait_for_sent(3)
        await asyncio.sleep(0.5)
    texts = api.sent_texts()
    assert len(texts) == 3
    assert sum("faster than I can answer: 2 questions a minute" in t for t in texts) == 1


async def test_kill_9_mid_push_sends_nothing_twice_and_drops_nothing(api, answers, db_path):
    first, second = -1001, -1002
    store_db.subscribe(answers.db, first)
    store_db.subscribe(answers.db, second)
    add_papers(answers, "hf_daily.json")
    env = {
        **os.environ,
        "PAPERBOT_DB": str(db_path),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
    }
    cmd = [sys.executable, "-m", "bot.cli", "push"]
    # The first digest hangs in flight (Telegram takes it, slowly); the push is killed meanwhile.
    api.fail_next("sendMessage", "timeout", delay=1.5, deliver=True)
    proc = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await api.wait_for(lambda calls: any(m == "sendMessage" for m, _ in calls), timeout=30)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    await asyncio.sleep(1.7)  # the in-flight message lands
    restart = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await restart.communicate()
    assert restart.returncode == 0, err.decode()
    db = store_db.open_db(db_path)
    assert store_db.integrity_ok(db)
    for chat in (first, second):
        texts = api.sent_texts(chat)
        assert len(texts) == 1, (chat, texts)
        assert "Glacier" in texts[0] and "Lighthouse" in texts[0]


async def test_papers_imported_while_the_bot_runs_are_answered_after_the_refresh(
    api, answers, db_path
):
    async with running_bot(api, answers) as app:
        other = store_db.open_db(db_path)  # `paperbot import` in another process
        store_db.upsert_papers(other, parse_text(read_file(FIXTURES / "hf_paper.json")))
        other.close()
        [refresh] = [j for j in app.job_queue.jobs() if j.name == "refresh"]
        await refresh.run(app)
        api.add_private_message("planning spacecraft trajectories from hand-drawn diagrams")
        [reply] = await api.wait_for_sent(1)
    assert "Orbit: Planning Spacecraft Trajectories" in reply["text"]
