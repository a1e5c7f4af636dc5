"""The python-telegram-bot Application: one builder chain, the handlers in order, the command menu.

`build_application` does no I/O; `paperbot run` (bot/cli_ops.py) starts it with polling or a webhook,
and the end-to-end tests start it against a local Bot API stand-in through `TELEGRAM_API_URL`.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import access, handlers
from bot.access import RateLimiter
from bot.config import Settings
from bot.lifecycle import InboxQueue, PaperbotApplication, TrackingRateLimiter, open_inbox
from bot.maintenance import fetch_now, push_now
from bot.schedule import schedule_pushes
from store.answers.engine import Answers

log = logging.getLogger(__name__)

# New messages only: an edited question is not asked again.
NEW_MESSAGES = filters.UpdateType.MESSAGE
# Maintainer commands: not in the menu; the handlers refuse anyone outside PAPERBOT_ADMINS.
MAINTENANCE = {"fetch": fetch_now, "push": push_now}
REFRESH_SECONDS = 60
EMBED_SECONDS = 5  # how often the background embedding takes a turn
EMBED_TURN_SECONDS = 2.0  # and how long a turn lasts (a batch is a few seconds on one core)


def build_application(settings: Settings, answers: Answers) -> Application:
    """The bot, wired and configured; shared objects live in `bot_data`, not in module globals."""
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_sending_without_reply=True,  # the question may be deleted before we answer
            )
        )
        .concurrent_updates(True)  # many questions at once; search runs in worker threads
        .rate_limiter(TrackingRateLimiter(max_retries=3))  # Telegram's flood limits, retried
        .application_class(PaperbotApplication)  # marks handled updates; a bounded stop
        .update_queue(InboxQueue(None))  # updates reach the inbox before they are confirmed
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.api_url:  # a self-hosted Bot API server (or the test stand-in)
        builder = builder.base_url(settings.api_url)
        if settings.base_file_url:
            builder = builder.base_file_url(settings.base_file_url)
    app = builder.build()
    app.bot_data["answers"] = answers
    app.bot_data["queries"] = handlers.RecentQueries()
    app.bot_data["settings"] = settings
    app.bot_data["limiter"] = RateLimiter(settings.rate_limit)
    add_handlers(app)
    return app


def add_handlers(app: Application) -> None:
    """Register handlers; in one group the first match wins, so order matters."""
    # Group -1 runs first for every update: chats outside PAPERBOT_ALLOWED_CHATS stop here.
    app.add_handler(TypeHandler(Update, access.gate), group=-1)
    for name, callback in MAINTENANCE.items():
        app.add_handler(CommandHandler(name, callback, filters=NEW_MESSAGES))
    for name, callback in handlers.COMMAND_CALLBACKS.items():
        app.add_handler(CommandHandler(name, callback, filters=NEW_MESSAGES))
    app.add_handler(CallbackQueryHandler(handlers.button))
    # Questions: plain text; the handler itself ignores group chatter not addressed to the bot.
    app.add_handler(
        MessageHandler(NEW_MESSAGES & filters.TEXT & ~filters.COMMAND, handlers.question)
    )
    # Last: any command not matched above (unknown, or addressed to another bot).
    app.add_handler(MessageHandler(NEW_MESSAGES & filters.COMMAND, handlers.unknown))
    app.add_error_handler(handlers.on_error)


async def refresh_index(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pick up papers that `paperbot import` added while the bot runs (a cheap query when none)."""
    added = await asyncio.to_thread(context.bot_data["answers"].refresh)
    if added:
        log.info("index: %d papers added", added)


async def embed_papers(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Give papers without vectors their embedding, a short turn at a time on a worker thread
    (questions meanwhile use BM25 for them; a stop never waits for more than one turn)."""
    answers: Answers = context.bot_data["answers"]
    if answers.unembedded():
        try:
            done = await asyncio.to_thread(answers.embed, max_seconds=EMBED_TURN_SECONDS)
        except OSError as exc:  # a full disk: the next turns try again, questions go on
            log.warning("%s", exc)
            return
        log.debug("embedded %d papers", done)


async def post_shutdown(app: Application) -> None:
    """Close the inbox's connection (what it still holds is handled at the next start) and save
    the vectors embedded since their last save."""
    inbox = getattr(app, "inbox", None)
    if inbox is not None:
        inbox.close()
    answers = app.bot_data.get("answers")
    if answers is not None:
        try:
            await asyncio.to_thread(answers.flush_vectors)
        except OSError as exc:
            log.warning("%s", exc)
    lookups = app.bot_data.get("arxiv")
    if lookups is not None:
        lookups.close()


def bot_commands() -> list[BotCommand]:
    """The command menu, from the same list /help shows."""
    return [
        BotCommand(name, f"{args} - {about}" if args else about)
        for name, args, about in handlers.command_help()
    ]


async def post_init(app: Application) -> None:
    """Register the command menu, schedule the daily push from the database, say what is active."""
    await app.bot.set_my_commands(bot_commands())
    settings: Settings = app.bot_data["settings"]
    answers: Answers = app.bot_data["answers"]
    if isinstance(app, PaperbotApplication):
        app.inbox = app.update_queue.inbox = open_inbox(answers.db_path, app.bot.id)
        replayed = app.replay_inbox()
        if replayed:
            log.info("%d updates received before the last stop are handled now", replayed)
    if not settings.allowed_chats:
        log.warning("PAPERBOT_ALLOWED_CHATS is empty: the bot answers in any chat it is added to")
    if app.job_queue is not None:
        jobs = schedule_pushes(app.job_queue, answers, settings.push_time, settings.timezone)
        log.info("daily push: %s", ", ".join(job.name for job in jobs))
        app.job_queue.run_repeating(refresh_index, interval=REFRESH_SECONDS, name="refresh")
        if answers.encoder is not None:
            app.job_queue.run_repeating(embed_papers, interval=EMBED_SECONDS, name="embed")
    # Big collections: compile the index's scan in the background, not on the first question.
    app.bot_data["warm_up"] = asyncio.create_task(asyncio.to_thread(answers.index.warm_up))
    figures = answers.stats()
    log.info(
        "@%s ready: %s papers; %s",
        app.bot.username,
        figures.get("papers", 0),
        answers.describe_stage(),
    )
