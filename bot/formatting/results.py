"""Replies to questions: an answer's hits, a /topic page, the honest refusal, /repo, similar papers,
the digest's blocks and /latest."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_plus

from telegram import InlineKeyboardButton

from bot.formatting.buttons import MAX_OFFSET, hit_rows, keyboard, more_data
from bot.formatting.chunks import Reply, chunk, replies
from bot.formatting.markup import (
    LINK_KINDS,
    TITLE_CHARS,
    display_url,
    echo,
    esc,
    highlight,
    is_safe_url,
    link,
)
from store.answers.engine import NO_CODE_LINK, Answer, Hit, clean_query
from store.text import shorten

PAGE_SIZE = 5


def links_lines(hit: Hit) -> list[str]:
    """The code line (or the plain 'no code link' note), then other links by kind."""
    by_kind = hit.links_by_kind()
    code = [link(u, display_url(u)) for u in by_kind.get("code", [])[:2]]
    lines = [f"code: {', '.join(code)}" if code else f"<i>{esc(NO_CODE_LINK)}</i>"]
    for kind in LINK_KINDS:
        urls = by_kind.get(kind, [])[:2]
        if urls:
            lines.append(f"{kind}: {', '.join(link(u, display_url(u)) for u in urls)}")
    return lines


def hit_block(hit: Hit, number: int) -> str:
    """One result: numbered linked title, snippet with query terms bold, links, its /paper id."""
    title = link(hit.url, shorten(hit.title, TITLE_CHARS))
    lines = [f"<b>{number}. {title}</b>"]
    if hit.snippet:
        lines.append(highlight(hit.snippet, hit.marks))
    lines += links_lines(hit)
    lines.append(f"<code>/paper {esc(hit.id)}</code>")
    return "\n".join(lines)


def digest_block(
    title: str, url: str | None, gist: str, code_url: str | None, why: str | None = None
) -> str:
    """A paper in the daily digest: linked title, one-sentence gist, code link, and why it is
    there when the digest follows the team's taste."""
    head = link(url, title) if is_safe_url(url) else f"<b>{esc(title)}</b>"
    lines = [f"• {head}", esc(gist), f"<i>{esc(why)}</i>" if why else ""]
    if is_safe_url(code_url):
        lines.append(link(code_url, "code"))
    return "\n".join(line for line in lines if line)


def answer_replies(answer: Answer) -> list[Reply]:
    """The reply to a question: its best papers with snippets, or a plain 'nothing' note."""
    if not answer.results:
        return nothing_found(answer.query, answer.suggestions)
    blocks = [hit_block(hit, n) for n, hit in enumerate(answer.results, 1)]
    if answer.missing:  # after the papers: a reply that answers starts with its first paper
        blocks.append(partial_note(answer.missing))
    rows = hit_rows(answer.results)
    shown = len(answer.results)
    if answer.total > shown:
        rows.append(
            [InlineKeyboardButton("More", callback_data=more_data("a", shown, answer.query))]
        )
    return replies(blocks, keyboard(rows))


def partial_note(missing: Sequence[str]) -> str:
    """The closing line of a partial answer: which part of the question no paper holds."""
    words = ", ".join(f"“{echo(w)}”" for w in missing)
    return f"<i>Partly answered: none of these papers mentions {words}; they match the rest.</i>"


def topic_page(answer: Answer, page_size: int = PAGE_SIZE) -> Reply:
    """One page of a /topic listing with Back/More buttons; a single message, edited in place."""
    if not answer.results:
        return nothing_found(answer.query, answer.suggestions)[0]
    first, last = answer.offset + 1, answer.offset + len(answer.results)
    header = f"<b>Papers on “{echo(answer.query)}”</b> ({first}–{last} of {answer.total})"
    blocks = [header] + [hit_block(hit, n) for n, hit in enumerate(answer.results, first)]
    nav = []
    if answer.offset > 0:
        back = max(answer.offset - page_size, 0)
        nav.append(InlineKeyboardButton("Back", callback_data=more_data("t", back, answer.query)))
    if last < answer.total and last <= MAX_OFFSET:
        nav.append(InlineKeyboardButton("More", callback_data=more_data("t", last, answer.query)))
    texts = chunk(blocks)  # gists are short: one message in practice; never more than one here
    return Reply(texts[0], keyboard([*hit_rows(answer.results, first), nav]))


def nothing_found(query: str, suggestions: Sequence[str] = ()) -> list[Reply]:
    """Say plainly that the collection has nothing (a refusal a person reads as one), list the
    closest titles as "nearest, not an answer", and give a way forward: /add, an arXiv search."""
    lines = [f"Nothing in the collection on “{echo(query)}”."]
    if suggestions:
        lines.append("\nNearest, not an answer:")
        lines += [f"• {esc(shorten(title, TITLE_CHARS))}" for title in suggestions]
    lines += ["", *way_forward(query)]
    return replies(["\n".join(lines)])


def way_forward(query: str) -> list[str]:
    """What to do when the collection lacks a topic: add a paper one knows, or look on arXiv
    (a search link for the question's words; the bot fetches nothing)."""
    words = " ".join(re.findall(r"[\w-]+", clean_query(query)))[:200].strip()
    search = f"https://arxiv.org/search/?query={quote_plus(words)}&searchtype=all"
    return [
        "Know a paper on it? <code>/add ARXIV_ID</code> adds it to the collection.",
        link(search, "Search arXiv for these words") if words else "",
        "Or try /topic with a few broader words, e.g. <code>/topic image captioning</code>.",
    ]


def repo_replies(answer: Answer) -> list[Reply]:
    """Papers found by name with their code links, or the 'nothing' note."""
    if not answer.results:
        return nothing_found(answer.query, answer.suggestions)
    blocks = [hit_block(hit, n) for n, hit in enumerate(answer.results, 1)]
    if answer.note:  # "No paper named ...": the nearest papers follow, not an answer
        blocks.insert(0, esc(answer.note))
    return replies(blocks, keyboard(hit_rows(answer.results)))


def similar_replies(answer: Answer) -> list[Reply]:
    """Papers like a given one; the header names the paper they are like."""
    if not answer.results:
        return replies(["No similar papers in the collection."])
    header = f"<b>Papers like “{esc(shorten(answer.query, TITLE_CHARS))}”</b>"
    blocks = [header] + [hit_block(hit, n) for n, hit in enumerate(answer.results, 1)]
    return replies(blocks, keyboard(hit_rows(answer.results)))


def team_counts(stats: dict[str, Any]) -> str:
    """How many papers the team added and how many came from the feeds."""
    line = f"team papers: {stats.get('team_papers', 0)}, feed papers: {stats.get('feed_papers', 0)}"
    demo = stats.get("demo_papers", 0)
    return line + (f", demo papers: {demo}" if demo else "")


def latest_replies(hits: Sequence[Hit], stats: dict[str, Any] | None = None) -> list[Reply]:
    """Recently added papers with a gist each (and the team/feed counts when given)."""
    if not hits:
        return replies(
            ["The collection is empty: import papers with <code>paperbot import</code>."]
        )
    head = "<b>Recently added</b>" + (f" ({team_counts(stats)})" if stats else "")
    blocks = [head] + [hit_block(hit, n) for n, hit in enumerate(hits, 1)]
    return replies(blocks, keyboard(hit_rows(hits)))
