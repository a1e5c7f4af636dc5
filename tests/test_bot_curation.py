"""/add, the Add button under a question with a paper link, and /remove with its confirmation,
through the real Application, the Bot API stand-in and a feed server answering like the arXiv API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from telegram.ext import Application

from bot import curation
from bot import formatting as fmt
from bot.app import build_application
from bot.config import Settings
from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import parse_text
from store.collection.importers.fetch import Fetcher
from tests.botapi import BOT_USERNAME, DEFAULT_GROUP_ID, DEFAULT_USER_ID, FakeBotAPI
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer
from tests.harness import polling
from tests.test_add import MORAINE, TIDEPOOL, atom

TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
GROUP, USER, ADMIN, MAINTAINER = DEFAULT_GROUP_ID, DEFAULT_USER_ID, 777, 5151
GLACIER_V2 = (
    "2504.08385v2",
    "Glacier: Tracking Ice Sheets with Vision-Language Models",
    "Second version: we track ice sheets and glacier fronts in satellite images.",
)
KELP = (
    "2405.01234v1",
    "Kelp Forest Mapping from Aerial Photographs with Weak Labels",
    "We map kelp forests along rocky coasts from aerial photographs with weakly labelled masks.",
)
RS5M = "t-826d74fca928"


@pytest.fixture
def arxiv():
    with FeedServer() as server:
        server.route("/api/query", atom(KELP, MORAINE, TIDEPOOL, GLACIER_V2))
        yield server


@contextlib.asynccontextmanager
async def running_bot(
    api: FakeBotAPI, answers: Answers, arxiv: FeedServer, **env: str
) -> AsyncIterator[Application]:
    """The bot as `paperbot run` starts it, its arXiv client paced for a test (not 3 s)."""
    url = arxiv.url("/api/query")
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "PAPERBOT_ARXIV_URL": url,
            **env,
        }
    )
    app = build_application(settings, answers)
    fetcher = Fetcher(retries=1, backoff=0.01, arxiv_interval=0.05, timeout=5.0)
    app.bot_data["arxiv"] = curation.ArxivLookups(url, fetcher)
    async with polling(app):
        yield app


def shown(api: FakeBotAPI, chat_id: int) -> list[str]:
    """The texts of the bot's messages in a chat as they read now (a working reply edited)."""
    return [m["text"] for m in api.sent_messages(chat_id)]


def buttons(params: dict) -> list[tuple[str, str]]:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url")) for row in rows for b in row]


async def test_add_ids_links_and_a_doi_in_one_reply(api, answers, arxiv):
    store_db.upsert_papers(answers.db, parse_text((FIXTURES / "arxiv_v1.atom").read_text()))
    answers.refresh()
    async with running_bot(api, answers, arxiv):
        api.add_group_message(
            "/add 2405.01234 https://arxiv.org/pdf/2403.01234v2.pdf "
            "10.48550/arXiv.2504.07777 arxiv.org/abs/2504.08385 2501.99999"
        )
        await api.wait_for_sent(1, chat_id=GROUP)  # "Looking up ...", edited into the result
        await api.wait_for(lambda _: api.requests_for("editMessageText"), timeout=30)
        [reply] = api.requests_for("editMessageText")
        api.add_group_message("/paper 2405.01234")
        await api.wait_for_sent(2, chat_id=GROUP)
    text = reply["text"]
    assert f"• added: {KELP[1]} [2405.01234]" in text
    assert f"• added: {MORAINE[1]} [2403.01234]" in text
    assert f"• already in the collection: {TIDEPOOL[1]} [2504.07777]" in text  # in the v1 feed
    assert "• already in the collection, updated to v2 (was v1): Glacier" in text
    assert "• not found on arXiv: 2501.99999" in text
    assert text.count("<code>/paper ") == 4  # a card for each paper now in the collection
    assert ("Similar 1", "s|2405.01234") in buttons(reply)
    [(path, query, _)] = arxiv.requests  # one request for every argument
    assert query["id_list"] == ["2405.01234,2403.01234v2,2504.07777,2504.08385,2501.99999"]
    team = store_db.team_provenance(answers.db, "2405.01234")
    assert (team["added_in"], team["added_by"], team["via"]) == (
        str(GROUP),
        f"User{USER} (id {USER})",
        "add",
    )
    assert f"team paper: added by User{USER} (id {USER}) in chat" in api.sent_texts(GROUP)[-1]
    assert answers.ask("kelp forests on rocky coasts").results[0].id == "2405.01234"
    assert "Second version" in answers.paper("2504.08385")["abstract"]


async def test_add_button_under_a_question_with_a_link_works_after_a_restart(api, answers, arxiv):
    async with running_bot(api, answers, arxiv):
        api.add_group_message(
            f"@{BOT_USERNAME} is https://arxiv.org/abs/2405.01234 like RS5M for remote sensing?"
        )
        api.add_group_message(f"@{BOT_USERNAME} and {RS5M}?")  # no arXiv link: no offer
        await api.wait_for_sent(3, chat_id=GROUP)
    offers = [p for p in api.sent(GROUP) if "Not in the collection yet" in p["text"]]
    assert len(offers) == 1 and "<code>2405.01234</code>" in offers[0]["text"]
    assert buttons(offers[0]) == [("Add 2405.01234", "a|2405.01234")]
    message_id = api.sent_messages(GROUP)[-1]["message_id"]
    async with running_bot(api, answers, arxiv):  # a fresh Application: nothing remembered
        api.add_callback_query("a|2405.01234", message_id=message_id, chat_id=GROUP)
        await api.wait_for(lambda calls: any("added:" in t for t in api.sent_texts(GROUP)))
    assert f"• added: {KELP[1]} [2405.01234]" in api.sent_texts(GROUP)[-1]
    assert store_db.team_paper_ids(answers.db, added_in=str(GROUP)) == ["2405.01234"]
    assert not fmt.add_offer([]) and len(fmt.add_data("math.GT/0309136").encode()) <= 64


async def test_add_policy_members_or_admins(api, answers, arxiv):
    api.admins[GROUP] = {ADMIN}
    env = {"PAPERBOT_ADD": "admins", "PAPERBOT_ADMINS": str(MAINTAINER)}
    async with running_bot(api, answers, arxiv, **env):
        api.add_group_message("/add 2405.01234", user_id=USER)
        [refusal] = await api.wait_for_sent(1, chat_id=GROUP)
        assert refusal["text"] == curation.ADD_REFUSED
        api.add_callback_query("a|2403.01234", message_id=5, chat_id=GROUP, user_id=USER)
        await api.wait_for(lambda calls: bool(api.requests_for("answerCallbackQuery")))
        assert api.requests_for("answerCallbackQuery")[0]["text"] == curation.ADD_REFUSED
        api.add_private_message("/add 2504.07777", user_id=USER)  # a private chat: not an admin
        await api.wait_for_sent(1, chat_id=USER)
        api.add_group_message("/add 2405.01234", user_id=ADMIN)
        api.add_private_message("/add 2403.01234", user_id=MAINTAINER)
        await api.wait_for(lambda calls: len(api.requests_for("editMessageText")) >= 2)
    assert api.sent_texts(USER) == [curation.ADD_REFUSED]
    assert "• added:" in shown(api, GROUP)[-1] and "• added:" in shown(api, MAINTAINER)[0]
    assert sorted(store_db.team_paper_ids(answers.db)) == ["2403.01234", "2405.01234"]
    async with running_bot(api, answers, arxiv):  # members (the default): anyone may add
        api.add_group_message("/add 2504.07777", user_id=USER)
        await api.wait_for(lambda calls: len(api.requests_for("editMessageText")) >= 3)
    assert "• added:" in shown(api, GROUP)[-1]
    assert "2504.07777" in store_db.team_paper_ids(answers.db)


async def test_remove_is_for_admins_and_asks_first(api, answers, arxiv):
    api.admins[GROUP] = {ADMIN}
    question = "RS5M remote sensing image text pairs"
    assert answers.ask(question).results[0].id == RS5M
    async with running_bot(api, answers, arxiv):
        api.add_group_message(f"/remove {RS5M}", user_id=USER)
        [refusal] = await api.wait_for_sent(1, chat_id=GROUP)
        assert refusal["text"] == curation.REMOVE_REFUSED
        api.add_group_message(f"/remove {RS5M}", user_id=ADMIN)
        [_, confirm] = await api.wait_for_sent(2, chat_id=GROUP)
        assert "Remove <b>RS5M and GeoRSCLIP" in confirm["text"]
        assert buttons(confirm) == [("Remove", f"r|{RS5M}")]
        assert answers.paper(RS5M) is not None  # nothing removed before the button
        message_id = api.sent_messages(GROUP)[-1]["message_id"]
        api.add_callback_query(f"r|{RS5M}", message_id=message_id, chat_id=GROUP, user_id=USER)
        await api.wait_for(lambda calls: bool(api.requests_for("answerCallbackQuery")))
        assert api.requests_for("answerCallbackQuery")[0]["text"] == curation.REMOVE_REFUSED
        assert answers.paper(RS5M) is not None
        api.add_callback_query(f"r|{RS5M}", message_id=message_id, chat_id=GROUP, user_id=ADMIN)
        await api.wait_for(lambda calls: bool(api.requests_for("editMessageText")))
    edited = api.message(GROUP, message_id)
    assert edited["text"].startswith("Removed: <b>RS5M and GeoRSCLIP")
    assert not buttons(edited)  # the Remove button is gone
    assert answers.paper(RS5M) is None
    assert RS5M not in [hit.id for hit in answers.ask(question).results]
    assert answers.index.size == 90


async def test_add_past_twenty_ids_names_the_ones_not_looked_up(api, answers, arxiv):
    """50 ids: the first 20 are looked up (one request); the reply names the other 30 to send
    again (main dropped them without a word)."""
    ids = ["2405.01234"] + [f"2501.{n:05d}" for n in range(10001, 10050)]
    async with running_bot(api, answers, arxiv):
        api.add_group_message("/add " + " ".join(ids))
        await api.wait_for_sent(1, chat_id=GROUP)
        await api.wait_for(lambda _: api.requests_for("editMessageText"), timeout=30)
    [(_, query, _)] = arxiv.requests
    assert query["id_list"] == [",".join(ids[:20])]
    text = "\n".join(shown(api, GROUP))
    assert f"• added: {KELP[1]} [2405.01234]" in text
    assert text.count("• not found on arXiv:") == 19
    note = "Only the first 20 are looked up at once; send the rest again: /add " + " ".join(
        ids[20:]
    )
    assert note in text
    assert store_db.team_paper_ids(answers.db, added_in=str(GROUP)) == ["2405.01234"]
