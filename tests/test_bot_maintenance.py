"""Maintainer commands end to end: the real Application on the Bot API stand-in, a real feed server.

Also the engine's lock and the network: a question asked while the daily fetch waits on a slow
feed is answered at once, because feeds are downloaded before anything is locked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.app import build_application
from bot.config import FeedSettings, Settings
from bot.schedule import fetch_all
from store.answers.engine import Answers
from tests.botapi import DEFAULT_USER_ID, FakeBotAPI
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer
from tests.harness import polling

TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
MAINTAINER = DEFAULT_USER_ID
STRANGER = 5151
QUESTION = "Which papers caption remote sensing images?"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Answers]:
    """A writable engine over its own copy of the bundled collection (fetches add papers)."""
    answers = Answers.open(tmp_path / "papers.db")
    yield answers
    answers.db.close()


@pytest_asyncio.fixture
async def bot(api: FakeBotAPI, engine: Answers, feeds: FeedServer) -> AsyncIterator[Application]:
    url = feeds.route("/daily", (FIXTURES / "hf_daily.json").read_bytes())
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "PAPERBOT_ADMINS": str(MAINTAINER),
        "PAPERBOT_SOURCES": "hf",
        "PAPERBOT_HF_URL": url,
    }
    app = build_application(Settings.from_env(env), engine)
    async with polling(app):
        yield app


def hf_days() -> list[str]:
    """The two days the HF feed is asked for, as the fetch names them (today first, UTC)."""
    today = datetime.now(UTC).date()
    return [today.isoformat(), (today - timedelta(days=1)).isoformat()]


async def test_maintainer_fetch_replies_with_the_counts(
    api: FakeBotAPI, bot: Application, engine: Answers, feeds: FeedServer
) -> None:
    api.add_private_message("/fetch", user_id=MAINTAINER)
    [reply] = await api.wait_for_sent(1, timeout=20)

    today, yesterday = hf_days()
    assert reply["text"] == (
        f"hf daily {today}: 2 new, 0 updated, 0 unchanged\n"
        f"hf daily {yesterday}: 0 new, 0 updated, 2 unchanged"
    )
    assert [query["date"] for _, query, _ in feeds.requests] == [[today], [yesterday]]
    assert engine.stats()["papers"] == 93
    # the new papers are searchable right away (the fetch refreshed the index)
    found = engine.ask("tracking ice sheets with vision-language models").results
    assert found and found[0].id == "2504.08385"


async def test_fetch_from_a_stranger_is_refused_and_fetches_nothing(
    api: FakeBotAPI, bot: Application, feeds: FeedServer
) -> None:
    api.add_private_message("/fetch", user_id=STRANGER)
    [reply] = await api.wait_for_sent(1, timeout=10)
    assert reply["text"] == "Only the bot's maintainers (PAPERBOT_ADMINS) can run /fetch."
    assert feeds.requests == []


def test_a_question_during_a_slow_fetch_is_answered_in_milliseconds(
    engine: Answers, feeds: FeedServer
) -> None:
    """The fetch waits 4 s on the feed; the engine's lock is free all that time."""
    url = feeds.route("/slow", (FIXTURES / "hf_daily.json").read_bytes(), delay=4.0)
    settings = FeedSettings(sources=("hf",), hf_url=url)
    results: list = []
    fetching = threading.Thread(target=lambda: results.extend(fetch_all(engine, settings)))
    fetching.start()
    deadline = time.monotonic() + 10
    while not feeds.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feeds.requests, "the fetch never reached the feed server"
    started = time.perf_counter()
    answer = engine.ask(QUESTION)
    elapsed = time.perf_counter() - started
    fetching.join(30)

    assert answer.results
    assert fetching.is_alive() is False and len(results) == 2 and not results[0].error
    print(f"ask during a slow fetch: {elapsed * 1000:.1f} ms")
    assert elapsed < 0.5, f"ask waited {elapsed:.2f} s behind the fetch"
