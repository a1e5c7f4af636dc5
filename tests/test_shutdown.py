"""`paperbot run` stops within 10 s of SIGTERM and loses no question: a real process, real signals.

Questions wait on Telegram's flood limit (the rate limiter would sleep 30 s before retrying) when
the bot is told to stop; the restarted bot answers them from its inbox, and none is answered twice,
not even one Telegram delivers again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from store.answers.engine import Answers
from tests.botapi import FakeBotAPI

TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = {
    501: "Which papers caption remote sensing images?",
    502: "How do models generate code from natural language?",
    503: "Which paper connects a frozen language model to images with a linear layer?",
    504: "video understanding with large language models",
    505: "contrastive image text pretraining",
}
STOP_LIMIT = 10.0


def bot_env(api: FakeBotAPI, db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PAPERBOT_"))}
    return {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "PAPERBOT_DB": str(db_path),
        "PAPERBOT_RATE_LIMIT": "0",
    }


async def start_bot(api: FakeBotAPI, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """`paperbot run` as production starts it; returns once it has registered its menu."""
    before = len(api.requests_for("setMyCommands"))
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, cwd=ROOT, stderr=err
        )
    try:
        await api.wait_for(lambda _: len(api.requests_for("setMyCommands")) > before, timeout=60)
    except BaseException:
        proc.kill()
        raise
    return proc


async def stop_bot(proc: asyncio.subprocess.Process) -> tuple[int, float]:
    """SIGTERM; (exit code, seconds until the process was gone)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
    return code, time.monotonic() - started


def answers_per_user(api: FakeBotAPI) -> Counter:
    return Counter(p["chat_id"] for p in api.sent() if p["chat_id"] in QUESTIONS)


async def test_sigterm_with_a_flood_limited_backlog_stops_fast_and_loses_nothing(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    db_path = tmp_path / "papers.db"
    Answers.open(db_path).db.close()  # seeded and indexed: the bot starts fast
    env, log = bot_env(api, db_path), tmp_path / "stderr.log"

    proc = await start_bot(api, env, log)
    try:
        # The first reply meets the flood limit: the rate limiter then holds every request 30 s.
        api.fail_next("sendMessage", "429", retry_after=30)
        updates = [api.add_private_message(q, user_id=u) for u, q in QUESTIONS.items()]
        # Telegram is told every update arrived (confirmed by offset): only the inbox has them.
        await api.wait_for(lambda _: not api.pending_updates and api.requests_for("sendMessage"))
        await asyncio.sleep(0.5)  # the other questions reach the rate limiter too
    finally:
        code, took = await stop_bot(proc)
    print(f"stop after SIGTERM: {took:.2f} s")
    answered_first = set(answers_per_user(api))
    assert code == 0, log.read_text()[-3000:]
    assert took < STOP_LIMIT, f"took {took:.1f} s to stop"
    assert len(answered_first) < len(QUESTIONS)  # at least the flood-limited one was waiting

    api.redeliver(updates[0])  # delivered again (say its confirmation was lost): dropped
    proc = await start_bot(api, env, log)
    try:
        await api.wait_for(lambda _: len(answers_per_user(api)) == len(QUESTIONS), 30)
        await asyncio.sleep(1.5)  # time for a second answer, were one coming
    finally:
        code, took = await stop_bot(proc)
    assert code == 0 and took < STOP_LIMIT, log.read_text()[-3000:]
    assert answers_per_user(api) == Counter(dict.fromkeys(QUESTIONS, 1))
    logged = log.read_text()
    waiting = len(QUESTIONS) - len(answered_first)
    assert f"{waiting} updates received before the last stop are handled now" in logged
    assert "was received before: not handled again" in logged
