"""The daily push through a real telegram Bot talking HTTP to the Bot API stand-in on 127.0.0.1."""

from __future__ import annotations

import pytest
from telegram import Bot

from bot.push import DIGEST_PAPERS, digest_parts, push_all
from bot.schedule import bot_sender
from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import parse_text, read_file
from tests.conftest import FIXTURES
from tests.helpers import assert_telegram_html

TOKEN = "123456:TEST-push-token-abcdefghijklmnopqrstuvwxyz"
CHAT = -1001
OTHER = -1002


@pytest.fixture
async def bot(api):
    async with Bot(TOKEN, base_url=api.base_url) as b:
        yield b


@pytest.fixture
def answers(db_path):
    engine = Answers.open(db_path)
    yield engine
    engine.db.close()


def add_feed(answers: Answers, name: str) -> None:
    store_db.upsert_papers(answers.db, parse_text(read_file(FIXTURES / name)))
    answers.refresh()


def synthetic(n: int, tag: str) -> list[dict]:
    text = "\n\n".join(
        f"Paper {tag} {i}: Studying Widgets\n\n"
        + f"We study widget number {i} of set {tag} in depth. " * 8
        for i in range(n)
    )
    return parse_text(text)


async def test_new_papers_reach_a_subscribed_chat_once(answers, api, bot):
    store_db.subscribe(answers.db, CHAT, "Lab")
    add_feed(answers, "hf_daily.json")
    [outcome] = await push_all(answers, bot_sender(bot))
    assert len(outcome.sent) == 2 and outcome.error is None
    [text] = api.sent_texts(CHAT)
    assert "Glacier: Tracking Ice Sheets" in text and "Lighthouse" in text
    assert "Glacier reads satellite images" in text  # the feed's ai_summary is the gist
    assert 'href="https://github.com/example/glacier"' in [p["text"] for p in api.sent(CHAT)][0]
    assert api.sent(CHAT)[0]["parse_mode"] == "HTML"
    await push_all(answers, bot_sender(bot))
    assert len(api.sent_texts(CHAT)) == 1  # second run: nothing new, no message


async def test_papers_from_before_subscribing_are_not_pushed(answers, api, bot):
    add_feed(answers, "hf_daily.json")
    store_db.subscribe(answers.db, CHAT)
    await push_all(answers, bot_sender(bot))
    assert api.sent_texts() == []


async def test_keyword_subscription_gets_matching_papers_only(answers, api, bot):
    store_db.subscribe(answers.db, CHAT, keywords="ice sheets")
    store_db.subscribe(answers.db, OTHER)
    add_feed(answers, "hf_daily.json")
    await push_all(answers, bot_sender(bot))
    [text] = api.sent_texts(CHAT)
    assert "Glacier" in text and "Lighthouse" not in text
    assert "Lighthouse" in api.sent_texts(OTHER)[0]


async def test_a_new_version_is_not_pushed_again(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    add_feed(answers, "arxiv_v1.atom")
    await push_all(answers, bot_sender(bot))
    add_feed(answers, "arxiv_v2.atom")
    await push_all(answers, bot_sender(bot))
    assert len(api.sent_texts(CHAT)) == 1


async def test_long_backlog_is_capped_and_split_at_paper_boundaries(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    store_db.upsert_papers(answers.db, synthetic(25, "A"))
    answers.refresh()
    [outcome] = await push_all(answers, bot_sender(bot))
    assert len(outcome.sent) == DIGEST_PAPERS and len(outcome.summarized) == 15
    texts = api.sent_texts(CHAT)
    assert "and 15 more - /latest" in texts[-1]
    assert all(len(t) <= 4096 for t in texts)
    await push_all(answers, bot_sender(bot))
    assert len(api.sent_texts(CHAT)) == len(texts)


def test_digest_splits_over_4096_characters_as_valid_html(answers):
    papers = [
        {
            "id": f"p{i}",
            "title": f"<b>T{i}</b> & " + "long " * 100,
            "abstract": "word " * 400 + ".",
            "links": [{"url": 'https://github.com/a/b"><script>', "kind": "code"}],
            "ai_summary": "s < t " * 100,
        }
        for i in range(10)
    ]
    parts = digest_parts(papers, 3)
    assert len(parts) > 1
    for part in parts:
        assert len(part.text) <= 4096
        assert_telegram_html(part.text)
    assert [i for p in parts for i in p.paper_ids] == [f"p{i}" for i in range(10)]
    assert "and 3 more - /latest" in parts[-1].text


async def test_blocked_chat_is_marked_inactive_and_skipped(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    store_db.subscribe(answers.db, OTHER)
    api.forbidden_chats.add(CHAT)
    add_feed(answers, "hf_daily.json")
    outcomes = {o.chat_id: o for o in await push_all(answers, bot_sender(bot))}
    assert outcomes[CHAT].deactivated and store_db.subscription(answers.db, CHAT)["active"] == 0
    assert len(api.sent_texts(OTHER)) == 1
    assert [o.chat_id for o in await push_all(answers, bot_sender(bot))] == [OTHER]


async def test_flood_limit_leaves_papers_for_the_next_run(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    add_feed(answers, "hf_daily.json")
    api.fail_next("sendMessage", "429", retry_after=1)
    [outcome] = await push_all(answers, bot_sender(bot))
    assert "RetryAfter" in outcome.error and api.sent_texts(CHAT) == []
    assert store_db.ledger(answers.db, CHAT) == {}
    [outcome] = await push_all(answers, bot_sender(bot))
    assert outcome.error is None and len(outcome.sent) == 2
    assert len(api.sent_texts(CHAT)) == 1


async def test_server_error_then_success(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    add_feed(answers, "hf_daily.json")
    api.fail_next("sendMessage", "500")
    await push_all(answers, bot_sender(bot))
    await push_all(answers, bot_sender(bot))
    assert len(api.sent_texts(CHAT)) == 1


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs."""


async def test_crash_between_sending_and_recording_never_sends_twice(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    add_feed(answers, "hf_daily.json")
    real = bot_sender(bot)

    async def send_then_die(chat_id, text):
        await real(chat_id, text)
        raise Crash

    with pytest.raises(Crash):
        await push_all(answers, send_then_die)
    assert set(store_db.ledger(answers.db, CHAT).values()) == {"pending"}
    await push_all(answers, real)  # the restart
    assert len(api.sent_texts(CHAT)) == 1
    assert set(store_db.ledger(answers.db, CHAT).values()) == {"uncertain"}


async def test_crash_before_sending_sends_on_restart(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    add_feed(answers, "hf_daily.json")

    async def die(chat_id, text):
        raise ConnectionError("network down")

    [outcome] = await push_all(answers, die)
    assert "not sent" in outcome.error
    await push_all(answers, bot_sender(bot))
    assert len(api.sent_texts(CHAT)) == 1


async def test_dry_run_sends_and_records_nothing(answers, api, bot):
    store_db.subscribe(answers.db, CHAT)
    add_feed(answers, "hf_daily.json")
    [outcome] = await push_all(answers, bot_sender(bot), dry_run=True)
    assert len(outcome.sent) == 2 and api.sent_texts() == []
    assert store_db.ledger(answers.db, CHAT) == {}
