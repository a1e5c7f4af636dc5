"""`paperbot` commands that change or report on the collection: import (with its signal handling
and progress), add, export, stats, embed, remove, backup."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli_base import Context, cli, emit, engine, fail
from store.collection import db as store_db
from store.collection.importers import FormatError, iter_file

if TYPE_CHECKING:  # imported where used: `paperbot ask` needs no HTTP client
    from store.collection.adding import LibraryImport
    from store.collection.importers.fetch import Fetcher


PROGRESS_THRESHOLD = 5000


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
    from store.collection.adding import LibraryImport
    from store.collection.importers.fetch import Fetcher
    from store.search.sync import IndexSaveError, IndexSync

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
        from store.collection.adding import fill_missing_abstracts

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
    from store.collection.adding import add_papers, fill_missing_abstracts
    from store.collection.importers.fetch import Fetcher
    from store.search.sync import sync_index

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
    from store.semantic import stage as sem
    from store.semantic.meaning import embedded_papers

    state = "semantic stage on" if sem.wanted() else "semantic stage off (PAPERBOT_SEMANTIC=off)"
    return {"embedded": embedded_papers(db, db_path), "semantic": state}


@cli.command("embed")
@click.option("--limit", type=int, default=None, help="at most this many papers (default: all)")
@click.pass_obj
def embed_cmd(ctx: Context, limit: int | None) -> None:
    """Embed the papers that have no vectors yet (resumable; the running bot also does it). A
    progress bar on a terminal, one summary line otherwise."""
    from store.semantic.meaning import embedded_papers

    db = ctx.db()
    waiting = store_db.paper_count(db) - embedded_papers(db, ctx.db_path)
    answers = engine(ctx)  # embeds a few waiting papers at once (they count in the summary)
    if answers.encoder is None:
        fail("the semantic stage is off (PAPERBOT_SEMANTIC=off) or its model failed to load")
    at_open = max(waiting - answers.unembedded(), 0)
    pending = answers.unembedded() if limit is None else min(limit, answers.unembedded())
    blocked = answers.vectors_unwritable() if pending else None
    if blocked:
        fail(blocked)  # found now, not after the embedding
    with embed_bar(pending) as bar:
        try:
            with stop_on_signals():  # SIGTERM as Ctrl-C: embed() saves what it did, then stops
                done = answers.embed(max_papers=limit, progress=bar.update)
        except KeyboardInterrupt as stop:
            bar.close()
            click.echo("interrupted: what was embedded is saved; run it again to go on", err=True)
            sys.exit(128 + getattr(stop, "signum", signal.SIGINT))
        except OSError as exc:
            bar.close()
            fail(str(exc))
    click.echo(
        f"embedded {done + at_open} papers; {len(answers.vectors)} of "
        f"{store_db.paper_count(ctx.db())} have vectors"
    )


def embed_bar(pending: int):
    """tqdm on stderr when it is a terminal (its size, or 80x24 where it says 0x0: a pty nobody
    sized, on which tqdm draws nothing), else off (the summary line says what was done)."""
    import shutil

    from tqdm import tqdm

    shown = pending > 0 and sys.stderr.isatty()
    size = shutil.get_terminal_size((80, 24))
    return tqdm(
        total=pending,
        unit="paper",
        disable=not shown,
        file=sys.stderr,
        ncols=size.columns or 80,
        nrows=size.lines or 24,
    )


@cli.command("remove")
@click.argument("paper_ids", nargs=-1)
@click.option("--demo", is_flag=True, help="The bundled demo papers (the ones no import named).")
@click.pass_obj
def remove_cmd(ctx: Context, paper_ids: tuple[str, ...], demo: bool) -> None:
    """Remove papers (by id or arXiv id) from the collection, its index and vectors; or, with
    --demo, the bundled demo collection. Exits 1 when an id names no paper."""
    if not demo and not paper_ids:
        raise click.UsageError("say what to remove: paper ids, or --demo")
    from store.search.sync import sync_index

    # Seeded like every command that reads papers: on a fresh database the demo papers the
    # others show (`ask`, `stats`) are the ones it removes, and `--demo` keeps it from loading.
    db = ctx.db()
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


@cli.command("backup")
@click.argument("path", type=click.Path())
@click.pass_obj
def backup_cmd(ctx: Context, path: str) -> None:
    """A consistent copy of the live database (safe while the bot runs). PATH is a folder when it
    ends with /, is one, or is new without an extension (made, with its parents; the copy is
    papers-YYYYmmdd-HHMMSS.db inside); else a new file (copy.db). Never replaces a file (it may be
    another bot's database); refuses an empty path, the live database, a device (/dev/full) and a
    place inside a database's .index / .vectors folder."""
    try:
        target = store_db.backup(ctx.db(seed=False), path)
    except store_db.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written: {target}")
