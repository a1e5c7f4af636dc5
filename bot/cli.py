"""The `paperbot` command line: each command opens the database, calls one library function, prints.

Library code never prints or exits; known errors become one-line messages here.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from store import db as store_db
from store.importers import FormatError, iter_file

PROGRESS_THRESHOLD = 5000


class Context:
    """What every command shares: the database path, opened on first use."""

    def __init__(self, db_path: str | None) -> None:
        self.db_path = Path(db_path) if db_path else store_db.default_db_path()
        self._db = None

    def db(self, seed: bool = True):
        """The open database; when `seed`, an empty one gets the bundled collection first."""
        if self._db is None:
            try:
                self._db = store_db.open_db(self.db_path)
                if seed:
                    store_db.ensure_seeded(self._db)
            except store_db.StoreError as exc:
                raise click.ClickException(str(exc)) from None
        return self._db


def emit(obj: object) -> None:
    """Print one JSON object on one line."""
    click.echo(json.dumps(obj, ensure_ascii=False))


@click.group()
@click.option(
    "--db",
    "db_path",
    envvar="PAPERBOT_DB",
    help="Database file (default: PAPERBOT_DB or the user data dir).",
)
@click.pass_context
def cli(ctx: click.Context, db_path: str | None) -> None:
    """paperbot: ask questions about your team's paper collection."""
    ctx.obj = Context(db_path)


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.pass_obj
def import_cmd(ctx: Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Import listing text, HF daily-papers JSON, arXiv Atom or JSON Lines files."""
    progress = {"file": ""}
    try:
        with stop_on_signals():
            import_files(ctx, paths, as_json, progress)
    except Stopped as stop:
        name, path = signal.Signals(stop.signum).name, progress["file"]
        done = (
            f"{path} not imported (the files before it are); run the import again to finish"
            if path
            else "every file imported; the index catches up at the next paperbot command"
        )
        click.echo(f"import stopped by {name}: {done}", err=True)
        sys.exit(128 + stop.signum)


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during an import (`signum` says which)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Stopped` in the importing thread, once (a second one while it
    unwinds is ignored): the file's transaction rolls back, an index save removes what it wrote,
    the pools are terminated, and the command exits 130 / 143 with one line."""

    def stop(signum: int, _frame: object) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    before = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def import_files(ctx: Context, paths: tuple[str, ...], as_json: bool, progress: dict) -> None:
    """The import command's work: each file in its own transaction, the index caught up."""
    from store.sync import IndexSaveError, IndexSync

    db = ctx.db(seed=False)
    failed = None
    # The pool counts each committed file's papers while the next file is written.
    with IndexSync(db, ctx.db_path) as sync:
        totals = {"new": 0, "updated": 0, "unchanged": 0, "refused": 0}
        files = []
        for path in paths:
            progress["file"] = path
            try:
                result = import_with_progress(db, path)
            except (FormatError, store_db.StoreError) as exc:
                totals["refused"] += 1
                files.append({"path": path, "refused": str(exc)})
                click.echo(f"{path}: refused: {exc}", err=True)
                continue
            for key in ("new", "updated", "unchanged"):
                totals[key] += getattr(result, key)
            files.append({"path": path, **result.__dict__})
            if not as_json:
                click.echo(f"{path}: {result}")
            sync.committed()
        progress["file"] = ""
        try:
            sync.finish()
        except IndexSaveError as exc:
            failed = exc
    if as_json:
        emit({**totals, "files": files})
    else:
        click.echo(
            f"total: {totals['new']} new, {totals['updated']} updated, "
            f"{totals['unchanged']} unchanged, {totals['refused']} refused"
        )
    if failed is not None:
        click.echo(f"error: {failed}", err=True)
    if totals["refused"] or failed is not None:
        sys.exit(1)


def import_with_progress(db, path: str) -> store_db.ImportResult:
    """Upsert one file in one transaction; on a terminal, big files show a progress bar."""
    name = Path(path).name
    records = iter_file(path)
    big = Path(path).stat().st_size > PROGRESS_THRESHOLD * 1000  # ~a few thousand papers
    if not (big and sys.stderr.isatty()):
        return store_db.upsert_papers(db, records, name=name)
    from tqdm import tqdm

    with tqdm(desc=f"importing {name}", unit="paper", file=sys.stderr) as bar:
        return store_db.upsert_papers(
            db, records, name=name, progress=lambda done: bar.update(done - bar.n)
        )


@cli.command("export")
@click.pass_obj
def export_cmd(ctx: Context) -> None:
    """Every paper as JSON Lines on stdout (re-importable with `paperbot import`)."""
    for paper in store_db.iter_export(ctx.db()):
        emit(paper)


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats_cmd(ctx: Context, as_json: bool) -> None:
    """Papers, papers with links, last import, subscribed chats."""
    figures = store_db.stats(ctx.db())
    if as_json:
        emit(figures)
        return
    last = figures["last_import"]
    click.echo(f"papers: {figures['papers']}")
    click.echo(f"papers with links: {figures['papers_with_links']} ({figures['links']} links)")
    click.echo(f"last import: {last['at'] + ' ' + last['name'] if last else 'never'}")
    if "subscribed_chats" in figures:
        click.echo(f"subscribed chats: {figures['subscribed_chats']}")


def engine(ctx: Context):
    """The answer engine over this command's database (seeded and indexed on first use)."""
    from store.answers import Answers

    return Answers(ctx.db(), ctx.db_path)


def print_answer(answer, as_json: bool) -> None:
    """One JSON object, or a short human-readable listing."""
    if as_json:
        emit(answer.to_json())
        return
    if not answer.results:
        click.echo("Nothing in the collection answers that.")
        for title in answer.suggestions:
            click.echo(f"  closest title (suggestion): {title}")
        return
    for n, hit in enumerate(answer.results, answer.offset + 1):
        click.echo(f"{n}. {hit.title}  [{hit.id}, score {hit.score:.2f}]")
        click.echo(f"   {hit.snippet}")
        if hit.url:
            click.echo(f"   {hit.url}")
        for kind, urls in hit.links_by_kind().items():
            click.echo(f"   {kind}: {' '.join(urls)}")


def answer_options(func):
    """--json and --limit, shared by ask, topic, repo and similar."""
    func = click.option("--limit", default=3, show_default=True, type=click.IntRange(1, 100))(func)
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(func)


@cli.command("ask")
@click.argument("question")
@answer_options
@click.pass_obj
def ask_cmd(ctx: Context, question: str, as_json: bool, limit: int) -> None:
    """Answer a question from the collection; `-` reads one question per line from stdin (JSON out)."""
    answers = engine(ctx)
    if question == "-":
        for line in sys.stdin:
            emit(answers.ask(line.rstrip("\n"), limit=limit).to_json())
        return
    print_answer(answers.ask(question, limit=limit), as_json)


@cli.command("topic")
@click.argument("words")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, 10_000))
@answer_options
@click.pass_obj
def topic_cmd(ctx: Context, words: str, page: int, as_json: bool, limit: int) -> None:
    """Papers on a subject, ranked, one gist each."""
    print_answer(engine(ctx).topic(words, offset=(page - 1) * limit, limit=limit), as_json)


@cli.command("repo")
@click.argument("name")
@answer_options
@click.pass_obj
def repo_cmd(ctx: Context, name: str, as_json: bool, limit: int) -> None:
    """Code and other links of a paper, found by name, acronym or words."""
    from store.answers import NO_CODE_LINK

    answer = engine(ctx).repo(name, limit=limit)
    print_answer(answer, as_json)
    if not as_json and answer.results and not any(h.links for h in answer.results):
        click.echo(f"({NO_CODE_LINK})")


@cli.command("similar")
@click.argument("paper_id")
@answer_options
@click.pass_obj
def similar_cmd(ctx: Context, paper_id: str, as_json: bool, limit: int) -> None:
    """Papers most like the given one (by id or arXiv id)."""
    print_answer(engine(ctx).similar(paper_id, limit=limit), as_json)


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
    import logging
    from urllib.parse import urlparse

    from telegram import Update
    from telegram.error import InvalidToken, TelegramError

    from bot.app import build_application
    from bot.config import ConfigError, Settings, mask, setup_logging, validate_secret
    from store.answers import Answers

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
    log = logging.getLogger("paperbot")
    try:
        if webhook_url:
            log.info("webhook mode: %s (listening on %s:%d)", webhook_url, listen, port)
            app.run_webhook(
                listen=listen,
                port=port,
                url_path=urlparse(webhook_url).path.lstrip("/"),
                webhook_url=webhook_url,
                secret_token=secret_token,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            log.info("long polling mode, database %s", ctx.db_path)
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:  # its message quotes the token: never print it
        click.echo(
            "paperbot run: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?)", err=True
        )
        sys.exit(2)
    except TelegramError as exc:
        raise click.ClickException(mask(str(exc), settings.token)) from None


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
    click.echo(("would push: " if dry_run else "pushed: ") + summary(outcomes))


async def _no_send(chat_id: int, text: str) -> None:
    raise RuntimeError("dry run sends nothing")


async def _push_with_bot(answers) -> list:
    """push_all over a telegram Bot built from the environment's token and API address."""
    from telegram import Bot

    from bot.config import ConfigError, Settings, setup_logging
    from bot.push import push_all
    from bot.schedule import bot_sender

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        click.echo(f"paperbot push: {exc}", err=True)
        sys.exit(2)
    setup_logging(settings)
    kwargs = {"base_url": settings.api_url} if settings.api_url else {}
    async with Bot(settings.token, **kwargs) as bot:
        return await push_all(answers, bot_sender(bot))


@cli.command("backup")
@click.argument("path", type=click.Path())
@click.pass_obj
def backup_cmd(ctx: Context, path: str) -> None:
    """A consistent copy of the live database (safe while the bot runs); PATH may be a folder."""
    try:
        target = store_db.backup(ctx.db(seed=False), path)
    except store_db.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written: {target}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paperbot")


if __name__ == "__main__":
    main()
