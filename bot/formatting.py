"""Answers and papers as Telegram HTML: escaped, chunked to the message limit, with keyboards.

Pure functions only (no network, no Application), so every reply can be checked in a plain test.
Everything that comes from a paper or a user goes through `esc`; the only tags are ours.

Callback data (at most 64 bytes, so an old button still means something after a restart):
  m|t|<offset>|<key>   "More"/"Back" on a /topic page: edit that page in place
  m|a|<offset>|<key>   "More" under an answer: send the next results as a /topic page
  s|<paper id>         "Similar": papers like this one
  a|<arXiv id>         "Add": add a paper a question linked to (as /add <arXiv id> would)
  r|<paper id>         "Remove": confirm a /remove
`<key>` is the query itself when it fits, else `~` + a hash the bot remembers until a restart.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from store.answers.engine import NO_CODE_LINK, Answer, Hit, clean_query
from store.text import shorten, word_cut

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_DATA = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64 bytes
MAX_OFFSET = 9999  # keeps "m|t|<offset>|" at most 9 bytes
MAX_LITERAL = MAX_DATA - len("m|t|9999|")  # bytes of a query carried as itself
HASH_PREFIX = "~"
PAGE_SIZE = 5
TITLE_CHARS = 250
SNIPPET_CHARS = 1200
ECHO_CHARS = 120  # how much of a user's text a reply quotes back
LINK_KINDS = ("model", "demo", "project", "other")
_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s<>\"]*)?$")
_TAG_RE = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Reply:
    """One message to send: HTML text within the limit, and maybe a keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Callback:
    """A decoded button press."""

    action: str  # "more", "similar", "add" or "remove"
    mode: str = ""  # for "more": "t" (edit the page) or "a" (send a new page)
    offset: int = 0
    key: str = ""  # "more": query or hashed key; "similar", "remove": paper id; "add": arXiv id


# ---------------------------------------------------------------- HTML pieces


def esc(text: str) -> str:
    """Escape text for Telegram HTML: `<`, `>` and `&` (quotes only matter inside attributes)."""
    return html.escape(text or "", quote=False)


def echo(text: str) -> str:
    """A user's text quoted back in a reply: printable characters only, short, escaped."""
    return esc(shorten(clean_query(text), ECHO_CHARS))


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def highlight(text: str, marks: Iterable[tuple[int, int]], limit: int = SNIPPET_CHARS) -> str:
    """Escaped `text` (cut to `limit`) with the marked spans in bold; bad spans are skipped."""
    text = text or ""
    cut, tail = text, ""
    if len(text) > limit:
        cut, tail = word_cut(text, limit), "…"
    out, pos = [], 0
    for start, end in sorted(marks):
        if start < pos or end > len(cut) or start >= end:
            continue
        out += [esc(cut[pos:start]), "<b>", esc(cut[start:end]), "</b>"]
        pos = end
    out += [esc(cut[pos:]), tail]
    return "".join(out)


def is_safe_url(url: str | None) -> bool:
    """Only plain http(s) URLs become links or buttons: Telegram rejects a whole message with a bad one."""
    return bool(url) and len(url) <= 2000 and bool(_URL_RE.match(url))


def display_url(url: str) -> str:
    """A URL as people read it: no scheme, no www, not too long."""
    return shorten(re.sub(r"^https?://(www\.)?", "", url).rstrip("/"), 60)


def link(url: str | None, label: str) -> str:
    """`<a href>` around the escaped label, or just the label when the URL is unusable."""
    if not is_safe_url(url):
        return esc(label)
    return f'<a href="{html.escape(url, quote=True)}">{esc(label)}</a>'


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


# ---------------------------------------------------------------- chunking


def chunk(blocks: Sequence[str], limit: int = MAX_TEXT, sep: str = "\n\n") -> list[str]:
    """Pack blocks into as few messages as fit `limit`; a block never straddles two messages."""
    return [text for text, _ in pack(blocks, limit, sep)]


def pack(
    blocks: Sequence[str], limit: int = MAX_TEXT, sep: str = "\n\n"
) -> list[tuple[str, list[int]]]:
    """`chunk`, also saying which blocks (by index) each message carries (the push's ledger needs it)."""
    messages: list[tuple[str, list[int]]] = []
    current, members = "", []
    for i, block in enumerate(blocks):
        if utf16_len(block) > limit:
            block = fit_block(block, limit)
        candidate = f"{current}{sep}{block}" if current else block
        if utf16_len(candidate) <= limit:
            current, members = candidate, [*members, i]
        else:
            messages.append((current, members))
            current, members = block, [i]
    if current:
        messages.append((current, members))
    return messages


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


def fit_block(block: str, limit: int) -> str:
    """An over-long block as plain escaped text cut to fit (tags are ours, so stripping is safe)."""
    plain = html.unescape(_TAG_RE.sub("", block))
    size = limit
    while True:
        text = esc(shorten(plain, size))
        if utf16_len(text) <= limit:
            return text
        size = max(1, min(size - 1, size * limit // utf16_len(text)))


def split_plain(text: str, limit: int) -> list[str]:
    """Long plain text (a full abstract) as escaped pieces of at most `limit`, cut between words."""
    pieces, rest = [], text.strip()
    while rest:
        size = min(len(rest), limit)
        while utf16_len(esc(rest[:size])) > limit:
            size = max(1, size * 9 // 10)
        if size < len(rest) and " " in rest[:size]:
            size = rest[:size].rindex(" ") + 1
        pieces.append(esc(rest[:size].strip()))
        rest = rest[size:].strip()
    return pieces


def replies(blocks: Sequence[str], keyboard: InlineKeyboardMarkup | None = None) -> list[Reply]:
    """Chunked messages; the keyboard goes under the last one, next to the results it serves."""
    texts = chunk([b for b in blocks if b])
    return [Reply(text, keyboard if i == len(texts) - 1 else None) for i, text in enumerate(texts)]


# ---------------------------------------------------------------- callback data


def query_key(query: str) -> str:
    """The query itself when it fits a button (restart-safe), else a short stable hash."""
    if len(query.encode("utf-8")) <= MAX_LITERAL and not query.startswith(HASH_PREFIX):
        return query
    return HASH_PREFIX + hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]


def is_hashed(key: str) -> bool:
    """True when the key needs the bot's memory of recent queries."""
    return key.startswith(HASH_PREFIX)


def more_data(mode: str, offset: int, query: str) -> str:
    """Callback data for a More/Back button."""
    return f"m|{mode}|{offset}|{query_key(query)}"


def similar_data(paper_id: str) -> str | None:
    """Callback data for a Similar button, or None when the id is too long for one."""
    return _id_data("s", paper_id)


def add_data(arxiv_id: str) -> str | None:
    """Callback data for an Add button: the arXiv id itself, so it works after a restart."""
    return _id_data("a", arxiv_id)


def remove_data(paper_id: str) -> str | None:
    """Callback data for the Remove button that confirms a /remove."""
    return _id_data("r", paper_id)


def _id_data(prefix: str, key: str) -> str | None:
    data = f"{prefix}|{key}"
    return data if len(data.encode("utf-8")) <= MAX_DATA else None


ID_ACTIONS = {"s": "similar", "a": "add", "r": "remove"}  # buttons that carry one id


def parse_callback(data: str | None) -> Callback | None:
    """Decode callback data; None for anything malformed or from another version."""
    parts = (data or "").split("|", 3)
    if parts[0] in ID_ACTIONS and len(parts) >= 2 and (data or "")[2:]:  # an id may hold "|"
        return Callback(ID_ACTIONS[parts[0]], key=(data or "")[2:])
    if parts[0] == "m" and len(parts) == 4 and parts[1] in ("t", "a") and parts[3]:
        offset = parts[2]  # ASCII digits only: "²".isdigit() holds, but int("²") fails
        if offset.isascii() and offset.isdigit():
            return Callback("more", mode=parts[1], offset=int(offset), key=parts[3])
    return None


# ---------------------------------------------------------------- keyboards


def hit_rows(hits: Sequence[Hit], first: int = 1) -> list[list[InlineKeyboardButton]]:
    """Per result: a URL button to its code (when it has a usable link) and a Similar button."""
    rows = []
    for number, hit in enumerate(hits, first):
        row = []
        code = [u for u in hit.links_by_kind().get("code", []) if is_safe_url(u)]
        if code:
            row.append(InlineKeyboardButton(f"Code {number}", url=code[0]))
        data = similar_data(hit.id)
        if data:
            row.append(InlineKeyboardButton(f"Similar {number}", callback_data=data))
        if row:
            rows.append(row)
    return rows


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    """A markup, or None rather than an empty keyboard."""
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


# ---------------------------------------------------------------- replies


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


def added_replies(lines: Sequence[str], hits: Sequence[Hit]) -> list[Reply]:
    """An /add's reply: one line per argument, then each added or present paper's card."""
    blocks = ["\n".join(add_outcome_line(line) for line in lines) or "Nothing to add."]
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
