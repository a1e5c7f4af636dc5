"""Replies about the collection itself: one paper in full, its provenance, /add and /remove, /stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardButton

from bot.formatting.buttons import add_data, hit_rows, keyboard, remove_data
from bot.formatting.chunks import Reply, replies, split_plain
from bot.formatting.help import text_reply
from bot.formatting.markup import MAX_TEXT, TITLE_CHARS, echo, esc, link
from bot.formatting.results import hit_block, links_lines, team_counts
from store.answers.engine import Hit
from store.text import shorten


def paper_replies(paper: dict[str, Any]) -> list[Reply]:
    """One paper in full: title, authors, dates, the whole abstract and every link."""
    hit = Hit(paper["id"], paper["title"], 0.0, "", paper.get("url"), paper.get("links", []))
    head = [f"<b>{link(hit.url, shorten(hit.title, TITLE_CHARS * 2))}</b>"]
    if paper.get("authors"):
        head.append(esc(shorten(", ".join(paper["authors"]), 600)))
    facts = [f"id <code>{esc(paper['id'])}</code>"]
    if paper.get("arxiv_id"):
        facts.append(
            f"arXiv {link('https://arxiv.org/abs/' + paper['arxiv_id'], paper['arxiv_id'])}"
        )
    for label, key in (("published", "published"), ("added", "added_at")):
        if paper.get(key):
            facts.append(f"{label} {esc(str(paper[key])[:10])}")
    head.append(" · ".join(facts))
    if paper.get("team"):
        head.append(provenance_line(paper["team"]))
    blocks = ["\n".join(head), *split_plain(paper.get("abstract", ""), MAX_TEXT // 2)]
    blocks.append("\n".join(links_lines(hit)))
    return replies(blocks, keyboard(hit_rows([hit])))


def provenance_line(team: dict[str, Any]) -> str:
    """Who added a team paper, where and when: "added by Ada (id 5) in chat -100… on 2025-04-11"."""
    where = team.get("added_in") or ""
    if team.get("via") == "library":
        place = "from the reference library"
    elif where == "cli":
        place = "from the command line"
    else:
        place = f"in chat {where}"
    when = str(team.get("added_at") or "")[:10]
    return f"<i>team paper: added by {esc(team.get('added_by') or '?')} {esc(place)} on {esc(when)}</i>"


def add_outcome_line(line: str) -> str:
    """One `/add` argument's line: added / already there (updated to vN) / not found."""
    return f"• {esc(shorten(line, 400))}"


def added_replies(lines: Sequence[str], hits: Sequence[Hit], note: str = "") -> list[Reply]:
    """An /add's reply: one line per argument, `note` whole (the arguments not looked up), then
    each added or present paper's card."""
    blocks = ["\n".join(add_outcome_line(line) for line in lines) or "Nothing to add."]
    blocks += [esc(note)] if note else []
    blocks += [hit_block(hit, n) for n, hit in enumerate(hits, 1)]
    return replies(blocks, keyboard(hit_rows(hits)))


def add_offer(arxiv_ids: Sequence[str]) -> list[Reply]:
    """Under an answer: the papers its question linked to that the collection lacks, with an Add
    button each."""
    rows = [
        [InlineKeyboardButton(f"Add {aid}", callback_data=data)]
        for aid in arxiv_ids
        if (data := add_data(aid))
    ]
    if not rows:
        return []
    names = ", ".join(f"<code>{esc(aid)}</code>" for aid in arxiv_ids)
    return replies([f"Not in the collection yet: {names}"], keyboard(rows))


def remove_question(paper: dict[str, Any]) -> list[Reply]:
    """A /remove's confirmation: which paper, and the one button that removes it."""
    data = remove_data(paper["id"])
    if data is None:
        return text_reply(
            f"This paper's id is too long for a button: <code>paperbot remove {esc(paper['id'])}</code> on the server removes it."
        )
    text = (
        f"Remove <b>{esc(shorten(paper['title'], TITLE_CHARS))}</b> "
        f"(<code>{esc(paper['id'])}</code>) from the collection, for everyone? "
        "Its index entry and vectors go too."
    )
    return replies([text], keyboard([[InlineKeyboardButton("Remove", callback_data=data)]]))


def paper_not_found(paper_id: str) -> list[Reply]:
    """An unknown id: say so and say where ids come from."""
    return replies(
        [
            f"No paper with id “{echo(paper_id)}” in the collection. "
            "Every answer shows its papers' ids (<code>/paper …</code>)."
        ]
    )


def stats_replies(stats: dict[str, Any]) -> list[Reply]:
    """Collection figures."""
    last = stats.get("last_import")
    lines = [
        "<b>Collection</b>",
        f"papers: {stats.get('papers', 0)}",
        f"papers with links: {stats.get('papers_with_links', 0)} ({stats.get('links', 0)} links)",
        f"last import: {esc(last['at'] + ' (' + last['name'] + ')') if last else 'never'}",
        team_counts(stats),
    ]
    if "subscribed_chats" in stats:
        lines.append(f"subscribed chats: {stats['subscribed_chats']}")
    return replies(["\n".join(lines)])
