"""/fetch and /push from Telegram, for the maintainers listed in PAPERBOT_ADMINS only."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot import formatting as fmt
from bot.access import is_maintainer
from bot.push import push_all, summary
from bot.schedule import bot_sender, fetch_all

REFUSAL = "Only the bot's maintainers (PAPERBOT_ADMINS) can run /{name}."


async def _refused(update: Update, context: ContextTypes.DEFAULT_TYPE, name: str) -> bool:
    user = update.effective_user
    if is_maintainer(context.bot_data["settings"].admins, user.id if user else None):
        return False
    await update.effective_message.reply_text(REFUSAL.format(name=name))
    return True


async def fetch_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/fetch: pull the feeds now; one line per feed."""
    if await _refused(update, context, "fetch"):
        return
    lines = await asyncio.to_thread(
        fetch_all, context.bot_data["answers"], context.bot_data["settings"].feeds
    )
    await update.effective_message.reply_text(fmt.esc("\n".join(lines) or "No feeds configured."))


async def push_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/push: send the digests now (the same job as the daily schedule)."""
    if await _refused(update, context, "push"):
        return
    outcomes = await push_all(context.bot_data["answers"], bot_sender(context.bot))
    await update.effective_message.reply_text(fmt.esc(summary(outcomes)))
