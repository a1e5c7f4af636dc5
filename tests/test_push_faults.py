"""Every digest exactly once, whatever arrives: a keyword digest that 1,000 non-matching papers
cannot stop, counts that are the real number of new papers, and two `paperbot push` processes at
once (real processes against the Bot API stand-in) that still send each chat each paper once."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from telegram import Bot

from bot.push import push_all
from bot.schedule import bot_sender
from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import parse_text
from tests.botapi import FakeBotAPI
from tests.processes import ROOT
from tests.test_like_ours import TEAM, TODAY, by_title
from tests.test_shutdown import bot_env

TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
CHAT = -2001


def papers(n: int, tag: str, about: str = "widgets") -> list[dict]:
    lines = [
        json.dumps(
            {
                "id": f"{tag}{i}",
                "title": f"Study {i} of {about} set {tag}",
                "abstract": f"We study {about} number {i} of set {tag} in depth. " * 6,
            }
        )
        for i in range(n)
    ]
    return parse_text("\n".join(lines))


def add(answers: Answers, records: list[dict]) -> None:
    store_db.upsert_papers(answers.db, records, name="test")
    answers.refresh()


@pytest.fixture
async def bot(api):
    async with Bot(TOKEN, base_url=api.base_url) as b:
        yield b


async def test_a_keyword_digest_goes_on_after_1200_papers_it_skips(answers, api, bot):
    store_db.subscribe(answers.db, CHAT, "Lab", keywords="glaciers")
    add(answers, papers(1200, "w"))
    assert (await push_all(answers, bot_sender(bot)))[0].sent == []
    assert Counter(store_db.ledger(answers.db, CHAT).values()) == {"skipped": 1200}
    add(answers, papers(3, "g", about="glaciers"))
    [outcome] = await push_all(answers, bot_sender(bot))
    assert len(outcome.sent) == 3
    [text] = api.sent_texts(CHAT)
    assert "New papers (3)" in text and "Study 2 of glaciers" in text


async def test_the_count_is_every_new_paper_not_the_first_1000(answers, api, bot):
    store_db.subscribe(answers.db, CHAT, "Lab")
    add(answers, papers(1205, "n"))
    [outcome] = await push_all(answers, bot_sender(bot))
    assert len(outcome.sent) == 10 and len(outcome.summarized) == 1195
    assert "New papers (1205)" in api.sent_texts(CHAT)[0]
    assert "1195 more" in api.sent_texts(CHAT)[-1]
    await push_all(answers, bot_sender(bot))
    assert len([t for t in api.sent_texts(CHAT) if "New papers" in t]) == 1


PLAIN = range(-3001, -3021, -1)
KEYWORDS = range(-4001, -4021, -1)
LIKE_OURS = range(-5001, -5007, -1)


def subscribed_collection(db_path: Path) -> None:
    """20 plain, 20 keyword and 6 like-ours chats, then the day's papers."""
    answers = Answers.open(db_path)
    db = answers.db
    store_db.mark_team(db, [by_title(db, t) for t in TEAM], "ana", "1", "add")
    for chat in PLAIN:
        store_db.subscribe(db, chat, "plain")
    for chat in KEYWORDS:
        store_db.subscribe(db, chat, "words", keywords="widgets")
    for chat in LIKE_OURS:
        store_db.subscribe(db, chat, "taste")
        store_db.set_chat_setting(db, chat, "taste", "like-ours")
    add(answers, parse_text("\n".join(json.dumps(p) for p in TODAY)) + papers(6, "x"))
    answers.embed()  # both pushes would embed the day's papers first: done once here
    answers.db.close()


async def test_two_pushes_at_once_send_each_chat_each_paper_once(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    db_path = tmp_path / "papers.db"
    subscribed_collection(db_path)
    env = bot_env(api, db_path)
    pushes = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot.cli", "push"),
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [await asyncio.wait_for(p.communicate(), 300) for p in pushes]
    assert [p.returncode for p in pushes] == [0, 0], [err.decode()[-2000:] for _, err in results]
    for chats, expected in ((PLAIN, 10), (KEYWORDS, 6), (LIKE_OURS, 2)):
        for chat in chats:
            lines = re.findall(r"(?m)^• (.*)$", "\n".join(api.sent_texts(chat)))
            titles = Counter(re.sub(r"<[^>]+>", "", line) for line in lines)
            assert len(titles) == expected and set(titles.values()) == {1}, (chat, titles)
