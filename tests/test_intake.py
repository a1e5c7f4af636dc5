"""The bot never goes deaf: `paperbot run` (a real process) answers questions while another process
holds the papers' write lock for a minute, or imports 150k papers beside it; and a Bot API endpoint
whose update ids start again loses no question."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from store.answers.engine import Answers
from tests.botapi import FakeBotAPI
from tests.processes import ROOT, start_writer
from tests.test_shutdown import bot_env, start_bot, stop_bot

BIG = 150_000
WORDS = (
    "image text model language vision training data retrieval caption grounding segmentation "
    "detection transformer attention diffusion graph robot policy reward speech audio video"
).split()


def replies_to(api: FakeBotAPI, users: set[int]) -> set[int]:
    return {p["chat_id"] for p in api.sent() if p["chat_id"] in users}


def write_locked(db_path: Path) -> bool:
    """Whether another process holds the papers' write lock right now."""
    conn = sqlite3.connect(str(db_path), timeout=0)
    try:
        conn.execute("begin immediate")
        conn.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


async def ask(api: FakeBotAPI, users: range) -> None:
    """One question from each user; every one answered while the writer still holds the lock."""
    for user in users:
        api.add_private_message("contrastive image text pretraining", user_id=user)
    await api.wait_for(lambda _: replies_to(api, set(users)) == set(users), timeout=40)


@pytest.fixture
def served(tmp_path: Path) -> Path:
    db_path = tmp_path / "papers.db"
    Answers.open(db_path).db.close()  # seeded and indexed: the bot starts fast
    return db_path


async def test_questions_are_answered_while_another_process_holds_the_lock(
    api: FakeBotAPI, served: Path, tmp_path: Path
) -> None:
    env, log = bot_env(api, served), tmp_path / "stderr.log"
    proc = await start_bot(api, env, log)
    holder = start_writer("hold", served, 60.0)
    try:
        await ask(api, range(7001, 7004))
        await asyncio.sleep(12)  # past the 10 s busy timeout that used to kill polling
        await ask(api, range(7004, 7007))
        assert holder.poll() is None and write_locked(served)  # all answered under the lock
    finally:
        holder.kill()
        holder.wait()
        code, _ = await stop_bot(proc)
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="session")
def big_file(tmp_path_factory) -> Path:
    """150k distinct papers with abstracts of a real size (120 words) as JSON Lines, written once
    per session: importing them holds the write lock for well over the 10 s busy timeout."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    with path.open("w") as out:
        for i in range(BIG):
            words = " ".join(WORDS[(i * 7 + k * k * 13) % len(WORDS)] for k in range(120))
            paper = {
                "id": f"big{i}",
                "title": f"Gadget study {i} of {words[:40]}",
                "abstract": words,
            }
            out.write(json.dumps(paper) + "\n")
    return path


async def test_questions_are_answered_during_a_real_import_of_150k_papers(
    api: FakeBotAPI, served: Path, tmp_path: Path, big_file: Path
) -> None:
    env, log = bot_env(api, served), tmp_path / "stderr.log"
    proc = await start_bot(api, env, log)
    importer = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "--db", str(served), "import", str(big_file)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        held = 0
        while held < 5:  # held a full second: the import's one long transaction, not a short one
            assert importer.returncode is None, await importer.stderr.read()
            held = held + 1 if write_locked(served) else 0
            await asyncio.sleep(0.2)
        await ask(api, range(7101, 7104))
        assert write_locked(served)  # answered while the import writes
        await asyncio.sleep(12)
        await ask(api, range(7104, 7106))
        out, err = await asyncio.wait_for(importer.communicate(), 600)
        assert importer.returncode == 0, err
        assert f"{BIG} new" in out.decode()
        await ask(api, range(7106, 7108))  # and after it, the new papers indexed meanwhile
    finally:
        if importer.returncode is None:
            importer.kill()
            await importer.wait()
        code, _ = await stop_bot(proc)
    assert code == 0, log.read_text()[-3000:]


async def test_an_endpoint_whose_update_ids_start_again_drops_nothing(
    served: Path, tmp_path: Path
) -> None:
    log = tmp_path / "stderr.log"
    for endpoint in range(2):  # say, api.telegram.org, then a self-hosted Bot API server
        async with FakeBotAPI() as api:
            api._update_ids = itertools.count(1)  # both number their updates from 1
            proc = await start_bot(api, bot_env(api, served), log)
            try:
                users = range(7200 + 10 * endpoint, 7205 + 10 * endpoint)
                for user in users:
                    api.add_private_message(f"question {user} about captions", user_id=user)
                await api.wait_for(lambda _, u=users: replies_to(api, set(u)) == set(u), 30)
            finally:
                code, _ = await stop_bot(proc)
            assert code == 0, log.read_text()[-3000:]


class LateBotAPI(FakeBotAPI):
    """The stand-in on a port chosen before it listens: Telegram coming back after the bot."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.fixed_port = port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.fixed_port).start()
        self.port = self.fixed_port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_telegram_unreachable_at_start_is_one_line_a_retry_then_answers(
    served: Path, tmp_path: Path
) -> None:
    api = LateBotAPI(free_port())
    env, log = bot_env(api, served), tmp_path / "stderr.log"
    env["TELEGRAM_API_URL"] = f"http://127.0.0.1:{api.fixed_port}/bot"
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, cwd=ROOT, stderr=err
        )
    try:
        for _ in range(300):
            if "retrying in" in log.read_text() or proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert proc.returncode is None, log.read_text()[-3000:]  # it waits, it did not exit
        async with api:  # Telegram is back
            await api.wait_for(lambda _: api.requests_for("setMyCommands"), timeout=60)
            api.add_private_message("contrastive image text pretraining", user_id=7301)
            await api.wait_for(lambda _: replies_to(api, {7301}), timeout=30)
            code, _ = await stop_bot(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
    text = log.read_text()
    assert code == 0, text[-3000:]
    [line] = [line for line in text.splitlines() if "Telegram is unreachable" in line]
    assert "retrying in 5 s" in line and "Traceback" not in text


HOLD_INBOX = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("begin immediate")
print("ready", flush=True)
time.sleep(60)
"""


async def test_an_inbox_that_cannot_be_written_is_retried_logged_and_the_question_answered(
    api: FakeBotAPI, served: Path, tmp_path: Path
) -> None:
    env, log = bot_env(api, served), tmp_path / "stderr.log"
    proc = await start_bot(api, env, log)
    inbox = served.with_name(served.name + ".inbox")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_INBOX, str(inbox)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        await ask(api, range(7401, 7402))
        holder.kill()
        holder.wait()
        await ask(api, range(7402, 7403))  # polling goes on after the failed write
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        code, _ = await stop_bot(proc)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "inbox write failed (database is locked); retrying in 0.2 s" in text
    assert (
        "could not be written after 4 tries (database is locked); it is handled from memory" in text
    )


async def test_questions_an_older_bot_left_in_the_papers_inbox_are_answered_once(
    api: FakeBotAPI, served: Path, tmp_path: Path
) -> None:
    """Upgrading: the previous version kept its inbox as a table in the papers' file."""
    user = 7501
    chat = {"id": user, "type": "private", "first_name": "Ana"}
    update = {
        "update_id": 77,
        "message": {
            "message_id": 3,
            "date": 1_700_000_000,
            "chat": chat,
            "from": {"id": user, "is_bot": False, "first_name": "Ana"},
            "text": "contrastive image text pretraining",
        },
    }
    conn = sqlite3.connect(str(served))
    with conn:
        conn.execute(
            "create table inbox (update_id integer primary key, payload text not null, "
            "received_at real not null, handled_at real)"
        )
        conn.execute("insert into inbox values (77, ?, 1700000000, null)", [json.dumps(update)])
    conn.close()
    log = tmp_path / "stderr.log"
    for _ in range(2):  # the second start finds it handled: not answered again
        proc = await start_bot(api, bot_env(api, served), log)
        try:
            await api.wait_for(lambda _: replies_to(api, {user}), timeout=30)
            await asyncio.sleep(1.0)
        finally:
            code, _ = await stop_bot(proc)
        assert code == 0, log.read_text()[-3000:]
    assert len(api.sent(user)) == 1
