"""/help, usage lines for a command used wrongly, unknown commands, and plain text replies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.formatting.chunks import Reply, replies
from bot.formatting.markup import echo, esc


def help_replies(
    stats: dict[str, Any],
    commands: Sequence[tuple[str, str, str]],
    examples: Sequence[str],
    bot_username: str | None,
) -> list[Reply]:
    """What the bot knows (collection size), how to address it, example questions, commands."""
    mention = f"@{esc(bot_username)}" if bot_username else "my name"
    lines = [
        f"I answer questions about the team's paper collection: {stats.get('papers', 0)} papers, "
        f"{stats.get('papers_with_links', 0)} with code or project links.",
        "",
        f"In a private chat, just write your question. In a group, start with /ask, mention "
        f"{mention}, or reply to one of my messages.",
        "",
        "<b>Example questions</b>",
        *[f"• <code>{esc(example)}</code>" for example in examples],
        "",
        "<b>How the collection grows</b>",
        "• feeds: new Hugging Face and arXiv papers every day (<code>paperbot fetch</code>)",
        "• chat: <code>/add 2103.00020</code>, or the Add button under a question with a link",
        "• library: the team's BibTeX, CSL JSON or RIS export (<code>paperbot import team.bib</code>)",
        "",
        "<b>Commands</b>",
        *[command_line(name, args, about) for name, args, about in commands],
    ]
    return replies(["\n".join(lines)])


def command_line(name: str, args: str, about: str) -> str:
    """`/name ARGS — what it does`, as /help lists it."""
    usage = f"/{name} {esc(args)}" if args else f"/{name}"
    return f"{usage} — {esc(about)}"


def usage_replies(command: str, args: str, about: str, example: str) -> list[Reply]:
    """A command without its argument: what it does and an example to copy."""
    return replies(
        [
            f"Usage: {command_line(command, args, about)}\n"
            f"Example: <code>/{command} {esc(example)}</code>"
        ]
    )


def unknown_command_replies(command: str, names: Sequence[str]) -> list[Reply]:
    """An unknown command: name it and list the real ones."""
    known = ", ".join(f"/{name}" for name in names)
    return replies(
        [
            f"I don't know {echo(command)}. I know {known}.\n"
            "Or just ask a question in plain words; /help has examples."
        ]
    )


def text_reply(text: str) -> list[Reply]:
    """A fixed, already-safe one-liner (our own text, no user input)."""
    return replies([text])
