"""A digest to the team's taste: `/subscribe like-ours` ranks the day's papers by closeness to
the papers the team added itself and drops the rest, saying why for each one."""

from __future__ import annotations

import json

from bot.config import Settings
from bot.push import LIKE_OURS, push_chat
from bot.subscriptions import reply_for_settings, reply_for_subscribe
from store.collection import db as store_db
from store.collection.importers import parse_text

SETTINGS = Settings.from_env({"TELEGRAM_BOT_TOKEN": "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"})

CHAT = -100777
TEAM = [  # the team's reading list: remote sensing
    "RS5M and GeoRSCLIP: A Large Scale Vision-Language Dataset and A Large Vision-Language Model for Remote Sensing",
    "SkyEyeGPT: Unifying Remote Sensing Vision-Language Tasks via Instruction Tuning with Large Language Model",
    "Multilingual Vision-Language Pre-training for the Remote Sensing Domain",
]
TODAY = [
    {
        "id": "d-rs1",
        "title": "GeoCaption: Describing Satellite Scenes with Vision-Language Models",
        "abstract": "We caption satellite and aerial images of cities, farmland and coastlines. "
        "A vision-language model trained on remote sensing image-text pairs writes captions "
        "and retrieves scenes from text queries. It improves retrieval on RSICD and UCM.",
    },
    {
        "id": "d-rs2",
        "title": "Asking Satellite Images: Visual Question Answering for Remote Sensing",
        "abstract": "People ask questions about aerial and satellite images in plain language: how "
        "many ships are in the harbour, is this area flooded. We instruction-tune a large "
        "vision-language model on remote sensing question-answer pairs and it answers them "
        "better than earlier remote sensing VQA models.",
    },
    {
        "id": "d-code",
        "title": "Faster Compilers with Learned Register Allocation",
        "abstract": "We replace the register allocator of a C compiler with a learned policy. "
        "Programs compile 12% faster and run as fast as before on SPEC benchmarks.",
    },
    {
        "id": "d-video",
        "title": "Long Video Question Answering with Memory Tokens",
        "abstract": "A video language model answers questions about hour-long movies by keeping "
        "memory tokens of past clips. It leads on EgoSchema and long-form video QA benchmarks.",
    },
]


def by_title(db, title: str) -> str:
    return next(r["id"] for r in db["papers"].rows_where("title = ?", [title]))


async def test_the_team_taste_puts_its_kind_of_paper_first_and_drops_the_rest(answers):
    db = answers.db
    store_db.mark_team(db, [by_title(db, t) for t in TEAM], "ana", str(CHAT), "add")
    reply = reply_for_subscribe(answers, CHAT, "RS lab", "like-ours")
    assert "closest to the team" in reply[0].text
    assert answers.chats.get(CHAT)["taste"] == LIKE_OURS
    answers.import_records(parse_text("\n".join(json.dumps(p) for p in TODAY)), "today")
    answers.refresh()

    outcome = await push_chat(answers, answers.chats.get(CHAT), send=None, dry_run=True)

    assert outcome.sent[:2] in (["d-rs1", "d-rs2"], ["d-rs2", "d-rs1"])
    assert "d-code" not in outcome.sent and "d-video" not in outcome.sent
    text = "\n".join(outcome.texts)
    assert text.count("close to: ") == len(outcome.sent)
    assert any(f"close to: {t}"[:60] in text for t in TEAM)


def test_settings_switch_the_taste_and_a_plain_subscribe_resets_it(answers):
    reply_for_subscribe(answers, CHAT, "RS lab", "like-ours")
    shown = reply_for_settings(answers, CHAT, "", SETTINGS)[0].text
    assert "Digest: close to the team's papers" in shown
    reply_for_settings(answers, CHAT, "taste all", SETTINGS)
    assert answers.chats.get(CHAT)["taste"] == ""
    reply_for_settings(answers, CHAT, "taste like-ours", SETTINGS)
    assert answers.chats.get(CHAT)["taste"] == LIKE_OURS
    reply_for_subscribe(answers, CHAT, "RS lab", "remote sensing")
    assert answers.chats.get(CHAT)["taste"] == ""


async def test_without_the_semantic_stage_the_taste_goes_by_words(db_path, monkeypatch):
    from store.answers.engine import Answers

    monkeypatch.setenv("PAPERBOT_SEMANTIC", "off")
    answers = Answers.open(db_path)
    db = answers.db
    store_db.mark_team(db, [by_title(db, t) for t in TEAM], "ana", str(CHAT), "add")
    reply_for_subscribe(answers, CHAT, "RS lab", "like-ours")
    answers.import_records(parse_text("\n".join(json.dumps(p) for p in TODAY)), "today")
    answers.refresh()
    outcome = await push_chat(answers, answers.chats.get(CHAT), send=None, dry_run=True)
    assert "d-code" not in outcome.sent and "d-video" not in outcome.sent
    assert outcome.sent and set(outcome.sent) <= {"d-rs1", "d-rs2"}


LIBRARY = [  # a second collection: the team's own remote-sensing library, imported beside the seed
    {
        "id": "rs-reason",
        "title": "Reasoning about Aerial Scenes with Vision-Language Models",
        "abstract": "We study how vision-language models reason about aerial and satellite scenes: "
        "counting buildings, judging distances between fields and roads, and answering questions "
        "about land use. We build a benchmark of remote sensing images with reasoning questions "
        "and show that general models fail at spatial reasoning over overhead imagery, while "
        "instruction tuning on remote sensing data helps.",
    },
    {
        "id": "rs-detect",
        "title": "Open-Vocabulary Detection in Satellite Imagery",
        "abstract": "Detecting objects such as ships, planes and storage tanks in satellite images "
        "usually needs a fixed label set. We align a remote sensing image encoder with text so "
        "that any category named in words can be detected. On DOTA and DIOR our detector finds "
        "unseen categories from text prompts.",
    },
    {
        "id": "rs-caption",
        "title": "Captioning Multispectral Remote Sensing Images",
        "abstract": "Remote sensing images carry more bands than RGB. We caption multispectral "
        "satellite images with a vision-language model that reads all bands, and release a "
        "dataset of Sentinel-2 scenes with human-written captions of land cover, water bodies "
        "and urban areas.",
    },
]
DAY = [
    {
        "id": "day-flood",
        "title": "FloodVQA: Asking Questions About Flooded Areas in Aerial Images",
        "abstract": "After a flood, responders ask questions about aerial and satellite images: "
        "which roads are under water, how many buildings are affected. We release a remote "
        "sensing visual question answering dataset of post-flood aerial scenes and instruction-"
        "tune a vision-language model that answers them better than earlier remote sensing VQA "
        "models.",
    },
    {
        "id": "day-chart",
        "title": "ChartQuest: A Benchmark for Chart Understanding",
        "abstract": "Charts and plots carry numbers that vision-language models must read "
        "precisely. ChartQuest is a benchmark of 12,000 questions about bar charts, line plots "
        "and pie charts that need reasoning over the values, such as comparing trends or "
        "computing differences. Current multimodal models lag far behind humans, especially on "
        "questions that need several reasoning steps.",
    },
    {
        "id": "day-receipts",
        "title": "Reading Receipts: Document Understanding with Multimodal LLMs",
        "abstract": "We evaluate multimodal large language models on scanned receipts and "
        "invoices, asking them to extract totals, dates and items. Models that read text in "
        "images well still confuse columns, and we propose a layout-aware prompt that improves "
        "extraction.",
    },
]


async def test_a_digest_item_must_clear_the_teams_own_floor(answers):
    answers.import_records(parse_text("\n".join(json.dumps(p) for p in LIBRARY)), "library")
    answers.refresh()
    store_db.mark_team(answers.db, [p["id"] for p in LIBRARY], "ana", str(CHAT), "library")
    reply_for_subscribe(answers, CHAT, "RS lab", "like-ours")
    answers.import_records(parse_text("\n".join(json.dumps(p) for p in DAY)), "today")
    answers.refresh()

    outcome = await push_chat(answers, answers.chats.get(CHAT), send=None, dry_run=True)

    assert outcome.sent == ["day-flood"]  # the day's remote-sensing paper, and no chart benchmark
    text = "\n".join(outcome.texts)
    assert "ChartQuest" not in text and "close to: " in text
