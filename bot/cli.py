"""The `paperbot` command line: each command opens the database, calls one library function, prints.

Library code never prints or exits; known errors become one-line messages here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from store import db as store_db
from store.importers import FormatError, parse_text, read_file

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
@click.option("--db", "db_path", envvar="PAPERBOT_DB", help="Database file (default: PAPERBOT_DB or the user data dir).")
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
    from store.index import sync_index

    db = ctx.db(seed=False)
    totals = {"new": 0, "updated": 0, "unchanged": 0, "refused": 0}
    files = []
    for path in paths:
        try:
            records = parse_text(read_file(path))
            result = import_with_progress(db, records, Path(path).name)
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
    sync_index(db, ctx.db_path)
    if as_json:
        emit({**totals, "files": files})
    else:
        click.echo(
            f"total: {totals['new']} new, {totals['updated']} updated, "
            f"{totals['unchanged']} unchanged, {totals['refused']} refused"
        )
    if totals["refused"]:
        sys.exit(1)


def import_with_progress(db, records: list[dict], name: str) -> store_db.ImportResult:
    """Upsert in one transaction; a terminal sees a progress bar for large imports."""
    if len(records) >= PROGRESS_THRESHOLD and sys.stderr.isatty():
        from tqdm import tqdm

        records = list(tqdm(records, desc=f"importing {name}", unit="paper", file=sys.stderr))
    return store_db.upsert_papers(db, records, name=name)


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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paperbot")


if __name__ == "__main__":
    main()
