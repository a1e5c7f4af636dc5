"""The `paperbot` command line: each command opens the database, calls one library function, prints.

Library code never prints or exits; known errors become one-line messages here.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from store import db as store_db
from store.importers import FormatError, iter_file

if TYPE_CHECKING:  # imported where used: `paperbot ask` needs no HTTP client
    from store.adding import LibraryImport
    from store.importers.fetch import Fetcher

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


GLOBAL_OPTIONS = ("--db",)  # options of the group that may also follow the command's name
WRITERS = {"run": "the bot (paperbot run)"}  # how a lock note names each command's writes


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options (with their values) to the front, so `paperbot ask --db X q` works as
    `paperbot --db X ask q` (click parses a group's options only before the command)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        if arg == "--version":  # a group flag: `paperbot ask --version` too
            front.append(arg)
            i += 1
            continue
        (front if arg.startswith(tuple(o + "=" for o in GLOBAL_OPTIONS)) else rest).append(arg)
        i += 1
    return front + rest


class PaperbotGroup(click.Group):
    """The `paperbot` group: global options anywhere on the line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


@click.group(cls=PaperbotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperbot", prog_name="paperbot")
@click.option(
    "--db",
    "db_path",
    envvar="PAPERBOT_DB",
    help="Database file (default: PAPERBOT_DB or the user data dir); also after the command.",
)
@click.pass_context
def cli(ctx: click.Context, db_path: str | None) -> None:
    """paperbot: ask questions about your team's paper collection."""
    ctx.obj = Context(db_path)
    command = ctx.invoked_subcommand or ""
    store_db.set_writer(WRITERS.get(command, f"paperbot {command}"))


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.option(
    "--resolve",
    is_flag=True,
    help="Then fill, from arXiv, the abstracts the files' library entries lack.",
)
@click.pass_obj
def import_cmd(ctx: Context, paths: tuple[str, ...], as_json: bool, resolve: bool) -> None:
    """Import listing text, HF daily-papers JSON, arXiv Atom, JSON Lines, BibTeX, CSL JSON or RIS
    files; reference-library entries (BibTeX, CSL JSON, RIS) become the team's papers."""
    progress = {"file": ""}
    try:
        with stop_on_signals():
            import_files(ctx, paths, as_json, resolve, progress)
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


def import_files(
    ctx: Context, paths: tuple[str, ...], as_json: bool, resolve: bool, progress: dict
) -> None:
    """The import command's work: each file in its own transaction, the index caught up."""
    from store.adding import LibraryImport
    from store.importers.fetch import Fetcher
    from store.sync import IndexSaveError, IndexSync

    db = ctx.db(seed=False)
    failed = None
    # One fetcher for every file's --resolve, so arXiv's pacing holds across files.
    fetcher = Fetcher() if resolve else None
    # The pool counts each committed file's papers while the next file is written.
    with IndexSync(db, ctx.db_path) as sync, contextlib.ExitStack() as stack:
        if fetcher is not None:
            stack.callback(fetcher.close)
        totals = {"new": 0, "updated": 0, "unchanged": 0, "refused": 0, "no_abstract": 0}
        files = []
        for path in paths:
            library = LibraryImport(added_by=cli_user())
            progress["file"] = path
            try:
                result = import_with_progress(db, path, library)
            except (FormatError, store_db.StoreError) as exc:
                totals["refused"] += 1
                files.append({"path": path, "refused": str(exc)})
                click.echo(f"{path}: refused: {exc}", err=True)
                continue
            entry = {"path": path, **result.__dict__, **_library_counts(db, library, fetcher)}
            sync.committed()
            for key in ("new", "updated", "unchanged", "no_abstract"):
                totals[key] += entry.get(key, 0)
            files.append(entry)
            if not as_json:
                click.echo(f"{path}: {result}{_library_summary(entry)}")
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
            + (f", {totals['no_abstract']} no abstract" if totals["no_abstract"] else "")
        )
    demo = store_db.demo_count(db)
    if demo:
        click.echo(f"note: {demo} demo papers are still here; `paperbot remove --demo`", err=True)
    if failed is not None:
        click.echo(f"error: {failed}", err=True)
    if totals["refused"] or failed is not None:
        sys.exit(1)


def cli_user() -> str:
    """Who runs this command, for the team papers' provenance (the OS user name)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli"


def _library_counts(db, library: LibraryImport, fetcher: Fetcher | None) -> dict:
    """A library file's team papers still without abstract, after filling them from arXiv when
    `--resolve` gave a fetcher; nothing for feeds and exports."""
    if not library.records:
        return {}
    counts: dict = {"team": len(library.paper_ids)}
    missing = library.without_abstract(db)
    if fetcher is not None and missing:
        from store.adding import fill_missing_abstracts

        fill = fill_missing_abstracts(db, missing, fetcher=fetcher, arxiv_url=arxiv_url_setting())
        counts["resolved"] = fill.filled
        counts["resolve_errors"] = fill.errors
        missing = library.without_abstract(db)
    counts["no_abstract"] = len(missing)
    return counts


def _library_summary(entry: dict) -> str:
    """ ", 2 no abstract" (and what --resolve did) for a library file; empty for other files."""
    if "no_abstract" not in entry:
        return ""
    text = f", {entry['no_abstract']} no abstract"
    if "resolved" in entry:
        text += f" ({entry['resolved']} abstracts filled from arXiv"
        errors = entry["resolve_errors"]
        text += f"; arXiv failed: {errors[0]})" if errors else ")"
    return text


def arxiv_url_setting() -> str | None:
    """PAPERBOT_ARXIV_URL (validated as `paperbot fetch` does), else None: arXiv's own API."""
    from bot.config import ConfigError, FeedSettings

    try:
        return FeedSettings.from_env().arxiv_url
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def import_with_progress(
    db, path: str, library: LibraryImport | None = None
) -> store_db.ImportResult:
    """Upsert one file in one transaction; on a terminal, big files show a progress bar.
    `library` marks the file's reference-library entries as the team's in that transaction."""
    name = Path(path).name
    records = iter_file(path)
    then = None
    if library is not None:
        records, then = library.watch(records), library.mark
    big = Path(path).stat().st_size > PROGRESS_THRESHOLD * 1000  # ~a few thousand papers
    if not (big and sys.stderr.isatty()):
        return store_db.upsert_papers(db, records, name=name, then=then)
    from tqdm import tqdm

    with tqdm(desc=f"importing {name}", unit="paper", file=sys.stderr) as bar:
        return store_db.upsert_papers(
            db, records, name=name, progress=lambda done: bar.update(done - bar.n), then=then
        )


@cli.command("add")
@click.argument("refs", nargs=-1)
@click.option(
    "--missing-abstracts",
    is_flag=True,
    help="Fill, from arXiv, the abstracts of stored papers that have an arXiv id and none.",
)
@click.option("--by", "added_by", help="Who adds them (default: the OS user name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def add_cmd(
    ctx: Context,
    refs: tuple[str, ...],
    missing_abstracts: bool,
    added_by: str | None,
    as_json: bool,
) -> None:
    """Add papers from arXiv by id (2103.00020, 2103.00020v2, cs/0112017), arXiv abs/pdf/html or
    huggingface.co/papers link, or 10.48550/arXiv.ID DOI; they become the team's papers."""
    from store.adding import add_papers, fill_missing_abstracts
    from store.importers.fetch import Fetcher
    from store.index import sync_index

    if not refs and not missing_abstracts:
        raise click.UsageError("name at least one paper, or use --missing-abstracts")
    db = ctx.db()
    url = arxiv_url_setting()
    report = fill = None
    fetcher = Fetcher()  # one for both steps: arXiv's pacing holds between them
    try:
        if refs:
            user = added_by or cli_user()
            report = add_papers(
                db, refs, added_by=user, added_in="cli", fetcher=fetcher, arxiv_url=url
            )
        if missing_abstracts:
            fill = fill_missing_abstracts(db, fetcher=fetcher, arxiv_url=url)
    except store_db.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        fetcher.close()
    sync_index(db, ctx.db_path)  # the new papers answer questions right away
    if as_json:
        out = report.to_json() if report else {}
        if fill:
            out["abstracts"] = {
                "filled": fill.filled,
                "not_found": fill.not_found,
                "errors": fill.errors,
            }
        emit(out)
    else:
        for line in report.lines() if report else []:
            click.echo(line)
        if fill:
            click.echo(str(fill))
    if (report and not report.ok) or (fill and fill.errors):
        sys.exit(1)


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
    """Papers, papers with links, last import, team vs feed papers, subscribed chats."""
    figures = store_db.stats(ctx.db())
    figures.update(embedding_figures(ctx.db(), ctx.db_path))
    if as_json:
        emit(figures)
        return
    last = figures["last_import"]
    click.echo(f"papers: {figures['papers']}")
    click.echo(f"papers with links: {figures['papers_with_links']} ({figures['links']} links)")
    click.echo(f"last import: {last['at'] + ' ' + last['name'] if last else 'never'}")
    click.echo(
        f"team papers: {figures['team_papers']}, feed papers: {figures['feed_papers']}, "
        f"demo papers: {figures['demo_papers']}"
    )
    if figures["papers_without_abstract"]:
        click.echo(f"papers without abstract: {figures['papers_without_abstract']}")
    if "subscribed_chats" in figures:
        click.echo(f"subscribed chats: {figures['subscribed_chats']}")
    click.echo(f"embedded: {figures['embedded']} / {figures['papers']} ({figures['semantic']})")


def embedding_figures(db, db_path) -> dict:
    """How many papers have vectors (the rest are answered by BM25 alone until embedded)."""
    from store import semantic as sem
    from store import vectors as vec

    saved = vec.saved_summary(db_path) if db_path else None
    state = "semantic stage on" if sem.wanted() else "semantic stage off (PAPERBOT_SEMANTIC=off)"
    return {"embedded": saved["papers"] if saved else 0, "semantic": state}


@cli.command("embed")
@click.option("--limit", type=int, default=None, help="at most this many papers (default: all)")
@click.pass_obj
def embed_cmd(ctx: Context, limit: int | None) -> None:
    """Embed the papers that have no vectors yet (resumable; the running bot also does it)."""
    from tqdm import tqdm

    answers = engine(ctx)
    if answers.encoder is None:
        fail("the semantic stage is off (PAPERBOT_SEMANTIC=off) or its model failed to load")
    pending = answers.unembedded() if limit is None else min(limit, answers.unembedded())
    with tqdm(total=pending, unit="paper", disable=pending == 0, file=sys.stderr) as bar:
        try:
            done = answers.embed(max_papers=limit, progress=bar.update)
        except KeyboardInterrupt:
            bar.close()
            click.echo("interrupted: what was embedded is saved; run it again to go on", err=True)
            sys.exit(130)
        except OSError as exc:
            bar.close()
            fail(str(exc))
    click.echo(
        f"embedded {done} papers; {len(answers.vectors)} of {store_db.paper_count(ctx.db())} have vectors"
    )


def engine(ctx: Context):
    """The answer engine over this command's database (seeded and indexed on first use)."""
    from store.answers import Answers

    return Answers(ctx.db(), ctx.db_path)


def print_answer(answer, as_json: bool, scores: bool = True) -> None:
    """One JSON object, or a short human-readable listing with titles and snippets cut as the
    bot cuts them (an abstract without sentence breaks can make a 40,000-character snippet)."""
    from bot.formatting import SNIPPET_CHARS, TITLE_CHARS
    from store.answers import shorten

    if as_json:
        emit(answer.to_json())
        return
    if not answer.results:
        click.echo("Nothing in the collection answers that.")
        for title in answer.suggestions:
            click.echo(f"  closest title (suggestion): {title}")
        return
    for n, hit in enumerate(answer.results, answer.offset + 1):
        score = f", score {hit.score:.2f}" if scores else ""
        click.echo(f"{n}. {shorten(hit.title, TITLE_CHARS)}  [{hit.id}{score}]")
        snippet = shorten(hit.snippet, SNIPPET_CHARS)
        click.echo(f"   {snippet or '(no abstract yet: paperbot add --missing-abstracts)'}")
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
    answer = engine(ctx).similar(paper_id, limit=limit)
    if answer.query == paper_id and not answer.results:  # as the bot's /similar tells it
        fail(f"unknown id: {paper_id}")
    print_answer(answer, as_json)


def fail(message: str) -> NoReturn:
    """One line on stderr, exit 1."""
    click.echo(message, err=True)
    sys.exit(1)


@cli.command("paper")
@click.argument("paper_id")
@click.option("--json", "as_json", is_flag=True, help="Print the paper as one JSON object.")
@click.pass_obj
def paper_cmd(ctx: Context, paper_id: str, as_json: bool) -> None:
    """One paper in full (by id or arXiv id), as the bot's /paper shows it."""
    paper = engine(ctx).paper(paper_id)
    if paper is None:
        fail(f"unknown id: {paper_id}")
    if as_json:
        emit(paper)
        return
    click.echo(paper["title"])
    if paper["authors"]:
        click.echo(", ".join(paper["authors"]))
    facts = [f"id {paper['id']}"] + [f"arXiv {paper['arxiv_id']}"] * bool(paper["arxiv_id"])
    for label, key in (("published", "published"), ("added", "added_at")):
        if paper.get(key):
            facts.append(f"{label} {str(paper[key])[:10]}")
    click.echo(" · ".join(facts))
    if paper["url"]:
        click.echo(paper["url"])
    click.echo("")
    click.echo(paper["abstract"])
    for link in paper["links"]:
        click.echo(f"{link['kind']}: {link['url']}")


@cli.command("latest")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def latest_cmd(ctx: Context, limit: int, as_json: bool) -> None:
    """The most recently added papers, newest first, with a gist each (the bot's /latest)."""
    from store.answers import Answer

    hits = engine(ctx).latest(limit)
    print_answer(Answer("latest", hits, total=len(hits)), as_json, scores=False)


@cli.command("remove")
@click.argument("paper_ids", nargs=-1)
@click.option("--demo", is_flag=True, help="The bundled demo papers (the ones no import named).")
@click.pass_obj
def remove_cmd(ctx: Context, paper_ids: tuple[str, ...], demo: bool) -> None:
    """Remove papers (by id or arXiv id) from the collection, its index and vectors; or, with
    --demo, the bundled demo collection. Exits 1 when an id names no paper."""
    if not demo and not paper_ids:
        raise click.UsageError("say what to remove: paper ids, or --demo")
    from store.index import sync_index

    db = ctx.db(seed=False)
    named = store_db.paper_ids_named(db, paper_ids)
    try:
        removed = store_db.remove_demo(db) if demo else 0
        gone = store_db.delete_papers(db, named.values()) if named else []
    except store_db.StoreError as exc:
        fail(str(exc))
    if removed or gone:
        sync_index(db, ctx.db_path)  # retired now, not at the next question
    if demo:
        click.echo(f"removed {removed} demo papers" if removed else "no demo papers to remove")
    for paper_id in gone:
        click.echo(f"removed: {paper_id}")
    missing = [ref for ref in paper_ids if ref not in named]
    for ref in missing:
        click.echo(f"not in the collection: {ref}")
    if missing:
        sys.exit(1)


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
@click.argument("chat_id", type=int)
@click.argument("keywords", nargs=-1)
@click.pass_obj
def subscriptions_add(ctx: Context, chat_id: int, keywords: tuple[str, ...]) -> None:
    """Subscribe CHAT_ID (a group's is negative), to every new paper or to KEYWORDS."""
    from bot.subscriptions import MAX_KEYWORDS_CHARS
    from store.answers import clean_query

    words = clean_query(" ".join(keywords))[:MAX_KEYWORDS_CHARS]  # as /subscribe cleans them
    sub = store_db.subscribe(ctx.db(seed=False), chat_id, "", words)
    click.echo(f"chat {chat_id} subscribed to {sub['keywords'] or 'every new paper'}")


@subscriptions_cmd.command("remove", context_settings={"ignore_unknown_options": True})
@click.argument("chat_id", type=int)
@click.pass_obj
def subscriptions_remove(ctx: Context, chat_id: int) -> None:
    """Stop CHAT_ID's daily digest."""
    if not store_db.unsubscribe(ctx.db(seed=False), chat_id):
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
        for text in outcome.texts:  # a dry run's messages
            click.echo(text + "\n")
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
