"""The `paperbot` group and what every command shares: the global options (anywhere on the
line), the lazily opened database (`Context`), JSON output, one-line failures, the answer engine.

The commands live in bot/cli_collection.py, bot/cli_answers.py and bot/cli_ops.py; bot/cli.py
imports them so they register on this group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from store.collection import db as store_db


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


def engine(ctx: Context):
    """The answer engine over this command's database (seeded and indexed on first use)."""
    from store.answers.engine import Answers

    return Answers(ctx.db(), ctx.db_path)


def fail(message: str) -> NoReturn:
    """One line on stderr, exit 1."""
    click.echo(message, err=True)
    sys.exit(1)


CHAT_ID_BOUND = 2**52  # Telegram chat ids fit in 52 bits (a group's is negative)


class ChatId(click.ParamType):
    """A Telegram chat id: a whole number with |id| < 2**52. Anything else is one line on
    stderr and exit 2 (a 23-digit number overflowed SQLite's integers with a traceback)."""

    name = "chat_id"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                number = None
        if number is None or abs(number) >= CHAT_ID_BOUND:
            click.echo(
                f"Error: {value!r} is not a Telegram chat id (a whole number under 2**52 in"
                " size; a group's is negative)",
                err=True,
            )
            raise click.exceptions.Exit(2)
        return number
