"""The docs a newcomer reads stay true: every `paperbot COMMAND` they name runs, every link lands.

README.md, deploy/README.md and docs/*.md are read as text; each command is checked with a real
`python -m bot.cli COMMAND --help` process, so a page naming a command that was renamed or never
existed fails here, not in a reader's terminal.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Code spans and fenced blocks: where a doc shows a command (prose says "paperbot" as a name).
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
# `paperbot [--db PATH] WORD [WORD]`: the command, and a possible subcommand of a group.
COMMAND = re.compile(r"\bpaperbot(?: --db \S+)? ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Paths into the repository that a page names in text (generated ones are allowed to be absent).
REPO_PATH = re.compile(r"\b(?:store|bot|tests|bench|scripts|deploy)/[A-Za-z0-9_./-]*[A-Za-z0-9_/]")
GENERATED = ("bench/out/", "deploy/.env", "deploy/data")


def code_of(text: str) -> str:
    """The text of every code span and fenced block, one per line."""
    return "\n".join(block or span for block, span in CODE.findall(text))


def named_commands() -> dict[str, set[str]]:
    """Each command the pages name -> the words that follow it (a group's subcommands among them)."""
    named: dict[str, set[str]] = {}
    for page in PAGES:
        for command, then in COMMAND.findall(code_of(page.read_text())):
            named.setdefault(command, set()).add(then)
    return named


def help_of(*words: str) -> subprocess.CompletedProcess:
    """`python -m bot.cli WORDS --help` in a new process, as a reader would run it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *words, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_the_pages_exist_and_the_readme_is_a_first_read() -> None:
    assert all(page.is_file() for page in PAGES) and len(PAGES) >= 8
    assert len((ROOT / "README.md").read_text().splitlines()) < 200


def test_every_command_the_docs_name_has_a_working_help() -> None:
    named = named_commands()
    assert {"ask", "import", "run", "subscriptions"} <= named.keys()  # the extraction finds them
    broken = []
    for command, following in sorted(named.items()):
        shown = help_of(command)
        if shown.returncode != 0:
            broken.append(f"paperbot {command}: {shown.stderr.strip()[-200:]}")
            continue
        if "\nCommands:\n" not in shown.stdout:
            continue  # not a group: the next word is an argument
        for sub in sorted(word for word in following if word):
            shown = help_of(command, sub)
            if shown.returncode != 0:
                broken.append(f"paperbot {command} {sub}: {shown.stderr.strip()[-200:]}")
    assert not broken, "\n".join(broken)


def test_a_command_that_does_not_exist_is_caught() -> None:
    """The check itself: a page naming `paperbot frobnicate` would fail the test above."""
    found = COMMAND.findall(code_of("Run `paperbot --db x.db frobnicate now`."))
    assert found == [("frobnicate", "now")]
    assert help_of("frobnicate").returncode != 0


def test_every_relative_link_and_named_path_exists() -> None:
    missing = []
    for page in PAGES:
        text = page.read_text()
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or a heading on the same page
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: link {target}")
        for path in REPO_PATH.findall(text):
            if not path.startswith(GENERATED) and not (ROOT / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: path {path}")
    assert not missing, "\n".join(missing)


def test_every_link_to_a_heading_lands_on_one() -> None:
    """`page.md#some-heading` must match a heading of that page (GitHub's anchors)."""
    missing = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or "#" not in target:
                continue
            path, anchor = target.split("#", 1)
            linked = (page.parent / path) if path else page
            if linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing, "\n".join(missing)


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    headings = re.findall(r"(?m)^#{1,6} (.+)$", text)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_bot_command_is_in_the_readme_and_the_bot_page() -> None:
    """A newcomer reads README's Daily use and docs/bot.md: no command the bot answers is missing."""
    from bot import handlers
    from bot.app import MAINTENANCE

    pages = {name: (ROOT / name).read_text() for name in ("README.md", "docs/bot.md")}
    missing = [
        f"{page}: /{command}"
        for command in [*MAINTENANCE, *handlers.COMMAND_CALLBACKS]
        for page, text in pages.items()
        if f"`/{command}" not in text
    ]
    assert not missing, "\n".join(missing)
