"""Odd but honest input to the real Application over the Bot API stand-in (tests/botapi.py).

Invisible characters pasted inside a word (zero-width space, joiners, soft hyphen, BOM) are the
word's, not spaces; a command addressed to another bot is not ours, in a private chat too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest_asyncio
from telegram.ext import Application

from tests.botapi import BOT_USERNAME, DEFAULT_USER_ID, FakeBotAPI
from tests.harness import running_bot

USER = DEFAULT_USER_ID


@pytest_asyncio.fixture
async def bot(api: FakeBotAPI, seed_answers) -> AsyncIterator[Application]:
    async with running_bot(api, seed_answers) as app:
        yield app


def papers(text: str) -> list[str]:
    return re.findall(r"/paper ([\w.-]+)", text)


async def test_invisible_characters_inside_a_word_do_not_split_it(api: FakeBotAPI, bot) -> None:
    api.add_private_message("clip paper?")
    await api.wait_for_sent(1, chat_id=USER)
    plain = api.sent_texts(USER)[-1]
    assert papers(plain), plain
    for n, odd in enumerate(
        [
            "C\u200bL\u200bI\u200bP paper?",
            "cl\u00adip pa\u200cper?",
            "\ufeffc\u2060li\u200dp paper?",
        ]
    ):
        api.add_private_message(odd)
        await api.wait_for_sent(n + 2, chat_id=USER)
        answer = api.sent_texts(USER)[-1]
        assert not answer.startswith("Nothing in the collection"), (odd, answer)
        assert papers(answer) == papers(plain), odd


async def test_another_bots_command_is_ignored_in_a_private_chat_too(api: FakeBotAPI, seed_answers):
    """main answered `/ask@otherbot clip` with "I don't know /ask. I know /ask, ..."."""
    async with running_bot(api, seed_answers):
        api.add_private_message("/ask@otherbot clip")
        api.add_private_message("/frobnicate@some_other_bot now")
        api.add_private_message(f"/ask@{BOT_USERNAME} clip")  # ours, by name: answered
        api.add_private_message("/frobnicate")  # no name in a private chat: ours, unknown
        await api.wait_for_sent(2, chat_id=USER)
        await asyncio.sleep(0.2)  # give a wrong reply time to show up (as test_bot_e2e does)
    texts = api.sent_texts(USER)
    assert len(texts) == 2, texts
    assert not any("I don't know /ask" in t for t in texts)
    assert sum(bool(papers(t)) for t in texts) == 1
    assert sum(t.startswith("I don't know /frobnicate. I know /ask") for t in texts) == 1
