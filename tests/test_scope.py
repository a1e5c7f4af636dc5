"""The team's papers apart: /mine, `/settings scope team|all`, and the team/feed counts."""

from __future__ import annotations

from bot import handlers as h
from bot.config import Settings
from bot.subscriptions import reply_for_settings
from store.answers.engine import Answers
from store.collection import db as store_db

TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
GROUP = -100777
RS5M = "t-826d74fca928"
QUESTION = "remote sensing images and text"


def engine(db, db_path) -> Answers:
    return Answers(db, db_path, semantic=False)


def test_only_restricts_ask_and_topic_and_keeps_scores(db_path, seeded_db):
    answers = engine(seeded_db, db_path)
    everything = answers.ask(QUESTION, limit=10)
    assert len(everything.results) >= 3
    team = {everything.results[1].id, everything.results[2].id, "t-nope"}
    store_db.mark_team(seeded_db, team - {"t-nope"}, "ada", str(GROUP), via="add")
    mine = answers.ask(QUESTION, limit=10, only=team)
    assert [hit.id for hit in mine.results] == [hit.id for hit in everything.results[1:3]]
    full = {hit.id: hit.score for hit in everything.results}
    assert all(abs(hit.score - full[hit.id]) < 1e-9 for hit in mine.results)  # same BM25
    topic = answers.topic("remote sensing", only=team)
    assert {hit.id for hit in topic.results} <= team and topic.total == len(topic.results)
    assert answers.ask(QUESTION, limit=10).results == everything.results  # default unchanged
    assert answers.ask(QUESTION, only=set()).results == []


def test_mine_settings_scope_and_counts(db_path, seeded_db):
    answers = engine(seeded_db, db_path)
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    store_db.mark_team(seeded_db, [RS5M], "ada", "cli", via="add")
    mine = h.reply_for_question(answers, QUESTION, team_only=True)
    assert mine[0].text.count("<code>/paper ") == 1 and RS5M in mine[0].text
    assert h.reply_for_question(answers, " ", team_only=True)[0].text.startswith("Usage: /mine")
    before = h.reply_for_question(answers, QUESTION, chat_id=GROUP)[0].text
    assert before.count("<code>/paper ") == 3
    shown = reply_for_settings(answers, GROUP, "scope team", settings)[0].text  # not subscribed
    assert "Answers from: the team's papers only" in shown
    assert store_db.subscription(seeded_db, GROUP)["active"] == 0
    scoped = h.reply_for_question(answers, QUESTION, chat_id=GROUP)[0].text
    assert scoped.count("<code>/paper ") == 1 and RS5M in scoped
    assert RS5M in h.reply_for_topic(answers, "remote sensing", chat_id=GROUP)[0].text
    assert "(1–1 of 1)" in h.reply_for_topic(answers, "remote sensing", chat_id=GROUP)[0].text
    bad = reply_for_settings(answers, GROUP, "scope friends", settings)[0].text
    assert bad.startswith("The scope is team")
    reply_for_settings(answers, GROUP, "scope all", settings)
    assert h.reply_for_question(answers, QUESTION, chat_id=GROUP)[0].text == before
    assert "team papers: 1, feed papers: 0, demo papers: 90" in h.reply_for_stats(answers)[0].text
    latest = h.reply_for_latest(answers)[0].text
    assert latest.startswith(
        "<b>Recently added</b> (team papers: 1, feed papers: 0, demo papers: 90)"
    )
