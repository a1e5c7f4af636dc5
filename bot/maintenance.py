"""/fetch and /push from Telegram, for the maintainers listed in PAPERBOT_ADMINS only."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot import formatting as fmt
from bot.access import is_maintainer
from bot.push import push_all, summary
from bot.schedule import bot_sender, fetch_all
from bot.sending import send
from store.collection.importers.fetch import FeedResult

REFUSAL = "Only the bot's maintainers (PAPERBOT_ADMINS) can run /{name}."


async def _refused(update: Update, context: ContextTypes.DEFAULT_TYPE, name: str) -> bool:
    user = update.effective_user
    if is_maintainer(context.bot_data["settings"].admins, user.id if user else None):
        return False
    await update.effective_message.reply_text(REFUSAL.format(name=name))
    return True


def fetch_report(results: list[FeedResult]) -> str:
    """One line per feed (its counts, or why it changed nothing), as `paperbot fetch` prints."""
    return "\n".join(str(result) for result in results) or "No feeds configured."


async def fetch_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/fetch: pull the feeds now; one line per feed."""
    if await _refused(update, context, "fetch"):
        return
    results = await asyncio.to_thread(
        fetch_all, context.bot_data["answers"], context.bot_data["settings"].feeds
    )
    await send(update.effective_message, fmt.text_reply(fmt.esc(fetch_report(results))))


async def push_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/push: send the digests now (the same job as the daily schedule)."""
    if await _refused(update, context, "push"):
        return
    outcomes = await push_all(context.bot_data["answers"], bot_sender(context.bot))
    await send(update.effective_message, fmt.text_reply(fmt.esc(summary(outcomes))))
