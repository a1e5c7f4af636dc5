"""The `paperbot` command line: each command opens the database, calls one library function, prints.

Library code never prints or exits; known errors become one-line messages here.

The group, the global options and the shared helpers are in bot/cli_base.py; the commands, by
job, in bot/cli_collection.py (import, add, export, stats, embed, remove, backup),
bot/cli_answers.py (ask, topic, repo, similar, paper, latest) and bot/cli_ops.py (run, fetch,
push, subscriptions). Importing them here registers them, so `paperbot` (`bot.cli:main`) and
`python -m bot.cli` see every command.
"""

from __future__ import annotations

from bot import cli_answers, cli_collection, cli_ops  # noqa: F401  (they register the commands)
from bot.cli_answers import answer_options, print_answer
from bot.cli_base import (
    GLOBAL_OPTIONS,
    WRITERS,
    Context,
    PaperbotGroup,
    cli,
    emit,
    engine,
    fail,
    hoist_global_options,
)
from bot.cli_collection import (
    PROGRESS_THRESHOLD,
    Stopped,
    arxiv_url_setting,
    cli_user,
    embedding_figures,
    import_files,
    import_with_progress,
    stop_on_signals,
)

__all__ = [
    "GLOBAL_OPTIONS",
    "PROGRESS_THRESHOLD",
    "WRITERS",
    "Context",
    "PaperbotGroup",
    "Stopped",
    "answer_options",
    "arxiv_url_setting",
    "cli",
    "cli_user",
    "emit",
    "embedding_figures",
    "engine",
    "fail",
    "hoist_global_options",
    "import_files",
    "import_with_progress",
    "main",
    "print_answer",
    "stop_on_signals",
]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paperbot")


if __name__ == "__main__":
    main()
