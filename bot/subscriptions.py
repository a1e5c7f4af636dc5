"""/subscribe, /unsubscribe and /settings: a chat's daily push, stored in SQLite.

The `reply_for_*` functions are plain (tested without Telegram); the handlers check who may change
a group's subscription (its administrators), then reschedule the daily jobs.
"""

from __future__ import annotations

import asyncio
import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram import Update
from telegram.ext import ContextTypes

from bot import formatting as fmt
from bot.access import may_manage_chat
from bot.config import Settings
from bot.formatting import Reply
from bot.push import LIKE_OURS
from bot.schedule import DEFAULT_TIME, schedule_pushes
from bot.sending import argument, send
from store.answers.engine import Answers, clean_query

MAX_KEYWORDS_CHARS = 200
ADMINS_ONLY = "Only this group's administrators can change its subscription."
SETTINGS_USAGE = (
    "Usage: /settings to see them; /settings time 08:30; /settings timezone Europe/Berlin; "
    "/settings keywords remote sensing (or: /settings keywords off); "
    "/settings scope team (answers from the team's papers) or /settings scope all; "
    "/settings taste like-ours (the digest: papers close to the team's) or /settings taste all"
)


def reply_for_subscribe(answers: Answers, chat_id: int, title: str, keywords: str) -> list[Reply]:
    """Subscribe the chat (keywords optional, or `like-ours`: the team's taste) and say what it
    will receive."""
    keywords = clean_query(keywords)[:MAX_KEYWORDS_CHARS]
    taste = LIKE_OURS if keywords.lower() == LIKE_OURS else ""
    keywords = "" if taste else keywords
    answers.chats.subscribe(chat_id, title, keywords)
    answers.chats.set_setting(chat_id, "taste", taste)
    what = f"new papers matching <b>{fmt.esc(keywords)}</b>" if keywords else "every new paper"
    if taste:
        what = "the new papers closest to the team's own (each says which one)"
    return fmt.text_reply(
        f"Subscribed: this chat gets a daily digest of {what}. /settings shows when."
    )


def reply_for_unsubscribe(answers: Answers, chat_id: int) -> list[Reply]:
    """Stop the push; idempotent."""
    was = answers.chats.unsubscribe(chat_id)
    return fmt.text_reply(
        "Unsubscribed: no more daily digests." if was else "This chat is not subscribed."
    )


def describe(sub: dict | None, settings: Settings) -> str:
    """A chat's settings in one short message: the push, and what questions are answered from."""
    scope = "the team's papers only" if (sub or {}).get("scope") == "team" else "every paper"
    taste = "close to the team's papers" if (sub or {}).get("taste") == LIKE_OURS else "all"
    return (
        f"{describe_push(sub, settings)}\nDigest: {taste} (/settings taste like-ours|all)\n"
        f"Answers from: {scope} (/settings scope team|all)"
    )


def describe_push(sub: dict | None, settings: Settings) -> str:
    """A chat's push settings."""
    if not sub or not sub["active"]:
        return "This chat is not subscribed. /subscribe [keywords] starts the daily digest."
    at = sub.get("push_time") or (settings.push_time or DEFAULT_TIME).strftime("%H:%M")
    zone = sub.get("timezone") or settings.timezone
    keywords = fmt.esc(sub["keywords"]) if sub.get("keywords") else "none (every new paper)"
    last = sub.get("last_push_at") or "never"
    return (
        f"Daily digest at <b>{at}</b> ({fmt.esc(zone)}).\nKeywords: {keywords}\nLast digest: {last}"
    )


def parse_change(args: str) -> tuple[str, str | None] | str:
    """("push_time" | "timezone" | "keywords", value) from `/settings ...`, or an error message."""
    field, _, value = args.strip().partition(" ")
    field, value = field.lower(), value.strip()
    if field == "time":
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            return "The time is HH:MM on a 24-hour clock, e.g. /settings time 08:30"
        return "push_time", time(int(match[1]), int(match[2])).strftime("%H:%M")
    if field in ("timezone", "tz"):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return "Unknown time zone; use an IANA name such as Europe/Berlin or America/New_York."
        return "timezone", value
    if field == "taste":
        if value.lower() not in (LIKE_OURS, "all"):
            return "The taste is like-ours (close to the team's papers) or all, e.g. /settings taste like-ours"
        return "taste", "" if value.lower() == "all" else LIKE_OURS
    if field == "scope":
        if value.lower() not in ("team", "all"):
            return "The scope is team (the team's own papers) or all, e.g. /settings scope team"
        return "scope", value.lower()
    if field == "keywords":
        words = clean_query(value)[:MAX_KEYWORDS_CHARS]
        return "keywords", "" if words.lower() in ("", "off", "none") else words
    return SETTINGS_USAGE


def reply_for_settings(
    answers: Answers, chat_id: int, args: str, settings: Settings
) -> list[Reply]:
    """Show the chat's settings, or change one of them."""
    sub = answers.chats.get(chat_id)
    if args.strip():
        change = parse_change(args)
        if isinstance(change, str):
            return fmt.text_reply(fmt.esc(change))
        if change[0] in ("scope", "taste"):  # chat settings, kept subscribed or not
            sub = answers.chats.set_setting(chat_id, change[0], change[1])
            return fmt.text_reply(describe(sub, settings))
        if not sub or not sub["active"]:
            return fmt.text_reply(describe(sub, settings))
        sub = answers.chats.change(chat_id, **{change[0]: change[1]})
    return fmt.text_reply(describe(sub, settings))


async def allowed_to_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Private chats manage themselves; in groups only administrators (and maintainers) may."""
    settings: Settings = context.bot_data["settings"]
    user = update.effective_user
    chat = update.effective_chat
    ok = await may_manage_chat(
        context.bot, chat.type, chat.id, user.id if user else None, settings.admins
    )
    if not ok:
        await update.effective_message.reply_text(ADMINS_ONLY)
    return ok


def reschedule(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Daily jobs follow the subscriptions' times."""
    settings: Settings = context.bot_data["settings"]
    if context.job_queue is not None:
        schedule_pushes(
            context.job_queue, context.bot_data["answers"], settings.push_time, settings.timezone
        )


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe [keywords]: the daily digest in this chat."""
    if not await allowed_to_manage(update, context):
        return
    chat = update.effective_chat
    title = chat.title or chat.full_name or ""
    replies = await asyncio.to_thread(
        reply_for_subscribe,
        context.bot_data["answers"],
        chat.id,
        title,
        argument(update.effective_message),
    )
    reschedule(context)
    await send(update.effective_message, replies)


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe: no more digests here."""
    if not await allowed_to_manage(update, context):
        return
    replies = await asyncio.to_thread(
        reply_for_unsubscribe, context.bot_data["answers"], update.effective_chat.id
    )
    await send(update.effective_message, replies)


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/settings [time HH:MM | timezone ZONE | keywords WORDS]."""
    args = argument(update.effective_message)
    if args.strip() and not await allowed_to_manage(update, context):
        return
    replies = await asyncio.to_thread(
        reply_for_settings,
        context.bot_data["answers"],
        update.effective_chat.id,
        args,
        context.bot_data["settings"],
    )
    if args.strip():
        reschedule(context)
    await send(update.effective_message, replies)
