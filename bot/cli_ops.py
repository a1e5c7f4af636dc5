"""`paperbot` commands that run the bot and its daily work: run, fetch, push, subscriptions."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator

import click

from bot.cli_base import ChatId, Context, cli, emit, engine, fail
from store.collection import db as store_db


@contextlib.contextmanager
def refused_write(what: str) -> Iterator[None]:
    """A write the database refused (read-only, locked past the timeout): one line, exit 1."""
    try:
        yield
    except (store_db.StoreError, sqlite3.Error) as exc:
        fail(f"{what}: {exc}")


@cli.group("subscriptions")
def subscriptions_cmd() -> None:
    """The chats that get the daily digest: list, add, remove."""


@subscriptions_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def subscriptions_list(ctx: Context, as_json: bool) -> None:
    """Every subscribed chat with its keywords, time and last digest."""
    subs = store_db.active_subscriptions(ctx.db(seed=False))
    if as_json:
        emit({"subscriptions": subs})
        return
    for sub in subs:
        when = f"{sub['push_time'] or 'default time'} {sub['timezone'] or ''}".rstrip()
        keywords = sub["keywords"] or "every new paper"
        last = sub["last_push_at"] or "never"
        click.echo(f"chat {sub['chat_id']}: {keywords}; at {when}; last digest {last}")
    click.echo(f"{len(subs)} subscribed chats")


@subscriptions_cmd.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("chat_id", type=ChatId())
@click.argument("keywords", nargs=-1)
@click.pass_obj
def subscriptions_add(ctx: Context, chat_id: int, keywords: tuple[str, ...]) -> None:
    """Subscribe CHAT_ID (a group's is negative), to every new paper or to KEYWORDS."""
    from bot.subscriptions import MAX_KEYWORDS_CHARS
    from store.answers.engine import clean_query

    words = clean_query(" ".join(keywords))[:MAX_KEYWORDS_CHARS]  # as /subscribe cleans them
    with refused_write(f"chat {chat_id} was not subscribed"):
        sub = store_db.subscribe(ctx.db(seed=False), chat_id, "", words)
    click.echo(f"chat {chat_id} subscribed to {sub['keywords'] or 'every new paper'}")


@subscriptions_cmd.command("remove", context_settings={"ignore_unknown_options": True})
@click.argument("chat_id", type=ChatId())
@click.pass_obj
def subscriptions_remove(ctx: Context, chat_id: int) -> None:
    """Stop CHAT_ID's daily digest."""
    with refused_write(f"chat {chat_id} was not unsubscribed"):
        was = store_db.unsubscribe(ctx.db(seed=False), chat_id)
    if not was:
        fail(f"chat {chat_id} is not subscribed")
    click.echo(f"chat {chat_id} unsubscribed")


@cli.command("run")
@click.option(
    "--webhook-url",
    envvar="PAPERBOT_WEBHOOK_URL",
    help="Public HTTPS URL for Telegram to post updates to (webhook mode). Default: long polling.",
)
@click.option(
    "--listen",
    envvar="PAPERBOT_LISTEN",
    default="127.0.0.1",
    show_default=True,
    help="Address the webhook server binds (behind an HTTPS reverse proxy).",
)
@click.option(
    "--port",
    envvar="PAPERBOT_PORT",
    default=8443,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port the webhook server listens on.",
)
@click.option(
    "--secret-token",
    envvar="PAPERBOT_WEBHOOK_SECRET",
    help="Secret Telegram sends with each webhook request (default: PAPERBOT_WEBHOOK_SECRET).",
)
@click.pass_obj
def run_cmd(
    ctx: Context, webhook_url: str | None, listen: str, port: int, secret_token: str | None
) -> None:
    """Start the Telegram bot: token from TELEGRAM_BOT_TOKEN; Ctrl-C or SIGTERM stops it."""
    import importlib.util

    from bot.app import build_application
    from bot.config import ConfigError, Settings, setup_logging, validate_secret
    from store.answers.engine import Answers

    try:
        settings = Settings.from_env()
        secret_token = validate_secret(secret_token)
        if webhook_url and not webhook_url.startswith("https://"):
            raise ConfigError("--webhook-url must be an https:// URL (Telegram requires HTTPS)")
        if webhook_url and importlib.util.find_spec("tornado") is None:
            raise ConfigError(
                'webhook mode needs tornado: pip install "paperbot[webhooks]" (or python-telegram-bot[webhooks])'
            )
    except ConfigError as exc:
        click.echo(f"paperbot run: {exc}", err=True)
        sys.exit(2)
    setup_logging(settings)
    try:
        answers = Answers.open(ctx.db_path)  # the index is loaded once, here
    except store_db.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    app = build_application(settings, answers)
    webhook = (webhook_url, listen, port, secret_token) if webhook_url else None
    _serve(app, settings, ctx.db_path, webhook)


def _serve(app, settings, db_path, webhook: tuple | None) -> None:
    """Reach Telegram, run the bot until it stops, and exit the way the stop calls for: 0 for a
    signal, 2 for a rejected token, 1 when polling died (so systemd restarts it)."""
    import logging
    from urllib.parse import urlparse

    from telegram import Update
    from telegram.error import InvalidToken, TelegramError

    from bot.config import mask
    from bot.lifecycle import wait_for_telegram

    log = logging.getLogger("paperbot")
    try:
        wait_for_telegram(settings.token, settings.api_url)
        if webhook:
            url, listen, port, secret_token = webhook
            log.info("webhook mode: %s (listening on %s:%d)", url, listen, port)
            app.run_webhook(
                listen=listen,
                port=port,
                url_path=urlparse(url).path.lstrip("/"),
                webhook_url=url,
                secret_token=secret_token,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            log.info("long polling mode, database %s", db_path)
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:  # its message quotes the token: never print it
        _token_rejected()
    except TelegramError as exc:
        if app.polling_died:
            _polling_died(app)
        raise click.ClickException(mask(str(exc), settings.token)) from None
    except Exception:
        if not app.polling_died:
            raise
    if isinstance(app.polling_error, InvalidToken):  # revoked while the bot ran
        _token_rejected()
    if app.polling_died:
        _polling_died(app)


def _token_rejected() -> None:
    click.echo(
        "paperbot run: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?)", err=True
    )
    sys.exit(2)


def _polling_died(app) -> None:
    """Polling ended by itself: one line and a non-zero exit, so systemd restarts the bot."""
    click.echo(
        f"paperbot run: polling stopped ({app.polling_died}); exiting to be restarted", err=True
    )
    sys.exit(1)


@cli.command("fetch")
@click.option(
    "--source",
    type=click.Choice(["hf", "arxiv"]),
    help="One source (default: PAPERBOT_SOURCES, else both).",
)
@click.option("--url", help="Replace the chosen source's address (a mirror, or a test server).")
@click.pass_obj
def fetch_cmd(ctx: Context, source: str | None, url: str | None) -> None:
    """Pull new papers from Hugging Face daily papers and the arXiv API into the collection."""
    import dataclasses

    from bot.config import ConfigError, FeedSettings
    from bot.schedule import fetch_all

    try:
        feeds = FeedSettings.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if url and not source and len(feeds.sources) > 1:
        raise click.UsageError("--url replaces one source's address: say which with --source")
    sources = (source,) if source else feeds.sources
    if url:
        key = "hf_url" if sources[0] == "hf" else "arxiv_url"
        feeds = dataclasses.replace(feeds, **{key: url})
    feeds = dataclasses.replace(feeds, sources=sources)
    results = fetch_all(engine(ctx), feeds)
    for result in results:
        click.echo(str(result), err=bool(result.error))
    if any(r.error for r in results):
        sys.exit(1)


@cli.command("push")
@click.option(
    "--dry-run", is_flag=True, help="Show what each chat would get; send and record nothing."
)
@click.pass_obj
def push_cmd(ctx: Context, dry_run: bool) -> None:
    """Send every subscribed chat its digest of new papers now (the daily job's push)."""
    import asyncio

    from bot.push import push_all, summary

    answers = engine(ctx)
    if dry_run:
        outcomes = asyncio.run(push_all(answers, _no_send, dry_run=True))
    else:
        outcomes = asyncio.run(_push_with_bot(answers))
    for outcome in outcomes:
        line = f"chat {outcome.chat_id}: {len(outcome.sent)} papers in {outcome.messages} messages"
        if outcome.summarized:
            line += f", {len(outcome.summarized)} more counted"
        if outcome.error:
            line += f" - {outcome.error}"
        click.echo(line)
        for text in outcome.texts:  # a dry run's messages
            click.echo(text + "\n")
    click.echo(("would push: " if dry_run else "pushed: ") + summary(outcomes))


async def _no_send(chat_id: int, text: str) -> None:
    raise RuntimeError("dry run sends nothing")


async def _push_with_bot(answers) -> list:
    """push_all over a telegram Bot built from the environment's token and API address."""
    from telegram import Bot

    from bot.config import ConfigError, Settings, setup_logging
    from bot.push import PushBusy, push_all
    from bot.schedule import bot_sender

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        click.echo(f"paperbot push: {exc}", err=True)
        sys.exit(2)
    setup_logging(settings)
    kwargs = {"base_url": settings.api_url} if settings.api_url else {}
    async with Bot(settings.token, **kwargs) as bot:
        try:
            return await push_all(answers, bot_sender(bot))
        except PushBusy as exc:
            click.echo(f"paperbot push: {exc}", err=True)
            sys.exit(1)
