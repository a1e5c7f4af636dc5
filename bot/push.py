"""The daily push: a digest of new papers into each subscribed chat, exactly once.

`push_all` is the one job: `paperbot push` runs it now and the daily schedule runs it after a fetch.
Delivery is recorded in the SQLite ledger (see store.collection.db): pending before the message leaves, sent
once Telegram confirms, forgotten when the send surely failed (so the next run sends it again),
skipped when the chat's keywords or taste leave a paper out. One push runs at a time: a lease in
the database (two `paperbot push` at once, or one beside the bot's daily job, take turns).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.error import Forbidden, TimedOut

from bot import formatting as fmt
from store.answers.engine import Answers, paper_gist, paper_url
from store.collection.chats import Chats
from store.collection.db.ledger import lease_holder_name

log = logging.getLogger(__name__)

DIGEST_PAPERS = 10
PUSH_LEASE = "push"
LEASE_SECONDS = 300.0  # a push renews it after each chat; a dead holder's lapses after this
LEASE_WAIT = 900.0  # how long a push waits for another one to finish
LEASE_POLL = 0.5

Send = Callable[[int, str], Awaitable[Any]]  # (chat_id, html text) -> telegram Message


LIKE_OURS = "like-ours"  # a chat's taste: the digest ranked by closeness to the team's papers


@dataclass
class DigestPart:
    """One message of a digest and the papers it carries."""

    text: str
    paper_ids: list[str]


@dataclass
class ChatPush:
    """What the push did for one chat."""

    chat_id: int
    sent: list[str] = field(default_factory=list)
    summarized: list[str] = field(default_factory=list)
    messages: int = 0
    error: str | None = None
    deactivated: bool = False
    texts: list[str] = field(default_factory=list)  # a dry run's messages, as they would be sent


def digest_parts(
    papers: list[dict[str, Any]], more: int, why: dict[str, str] | None = None
) -> list[DigestPart]:
    """The digest as messages under Telegram's limit, split only between papers; `why` gives a
    paper's reason line ("close to: <team paper>")."""
    blocks = [f"<b>New papers ({len(papers) + more})</b>"]
    for paper in papers:
        code = next((link["url"] for link in paper["links"] if link["kind"] == "code"), None)
        reason = (why or {}).get(paper["id"])
        gist = paper_gist(paper)
        blocks.append(fmt.digest_block(paper["title"], paper_url(paper), gist, code, reason))
    if more:
        blocks.append(f"…and {more} more - /latest")
    return [
        DigestPart(text, [papers[i - 1]["id"] for i in members if 1 <= i <= len(papers)])
        for text, members in fmt.pack(blocks)
    ]


async def select(answers: Answers, sub: dict[str, Any]) -> tuple[list[str], list[str], dict]:
    """(the chat's papers in digest order, the ones its keywords or taste skipped, why each is
    there). Every undelivered paper is a candidate, however many arrived: skipped ones get a
    ledger row, so they are never read again and the newest are never crowded out."""
    candidates = await asyncio.to_thread(
        answers.chats.undelivered, sub["chat_id"], sub["since_rowid"] or 0
    )
    ids, why = candidates, {}
    if sub.get("keywords") and ids:
        ids = await asyncio.to_thread(answers.matching, sub["keywords"], ids)
    if sub.get("taste") == LIKE_OURS and ids:
        ranked = await asyncio.to_thread(answers.like_ours, ids)
        ids, why = [p for p, _ in ranked], {p: f"close to: {t}" for p, t in ranked}
    chosen = set(ids)
    return ids, [p for p in candidates if p not in chosen], why


async def push_chat(
    answers: Answers, sub: dict[str, Any], send: Send, dry_run: bool = False
) -> ChatPush:
    """Send one chat its digest of undelivered papers, recording each step in the ledger."""
    chat_id = sub["chat_id"]
    outcome = ChatPush(chat_id)
    ids, skipped, why = await select(answers, sub)
    if skipped and not dry_run:
        await asyncio.to_thread(answers.chats.mark, chat_id, skipped, "skipped")
    if not ids:
        return outcome
    shown, rest = ids[:DIGEST_PAPERS], ids[DIGEST_PAPERS:]
    found = await asyncio.to_thread(answers.papers, shown)
    parts = digest_parts([found[i] for i in shown if i in found], len(rest), why or None)
    if dry_run:
        outcome.sent, outcome.summarized, outcome.messages = shown, rest, len(parts)
        outcome.texts = [part.text for part in parts]
        return outcome
    for n, part in enumerate(parts):
        carried = part.paper_ids + (rest if n == len(parts) - 1 else [])
        if not await send_part(answers.chats, send, chat_id, (part, carried), outcome):
            return outcome
        if n == len(parts) - 1 and rest:
            await asyncio.to_thread(answers.chats.mark, chat_id, rest, "summarized")
    outcome.summarized = rest
    await asyncio.to_thread(answers.chats.mark_pushed, chat_id)
    return outcome


async def send_part(
    chats: Chats,
    send: Send,
    chat_id: int,
    message_and_papers: tuple[DigestPart, list[str]],
    outcome: ChatPush,
) -> bool:
    """One message of the ledger protocol: pending (committed), send, then sent or settled.
    `carried` is every paper the message accounts for (the last one also the summarized rest).
    The lock is held for each ledger step only, never while the message is on its way; each
    step runs in a worker thread, so a step waiting for another process's write lock does not
    stop the bot hearing questions."""
    part, carried = message_and_papers
    await asyncio.to_thread(chats.mark, chat_id, carried, "pending")
    try:
        message = await send(chat_id, part.text)
    except TimedOut:
        outcome.error = "timed out: Telegram may have delivered it, so it is not sent again"
        await asyncio.to_thread(chats.mark, chat_id, carried, "uncertain")
        return False
    except Forbidden as exc:
        await asyncio.to_thread(chats.deactivate, chat_id, carried)
        outcome.error = f"chat removed or blocked the bot ({exc.message})"
        outcome.deactivated = True
        return False
    except Exception as exc:  # any other failure (429, 5xx, network): surely not delivered
        await asyncio.to_thread(chats.forget, chat_id, carried)
        outcome.error = f"not sent, will retry next run: {type(exc).__name__}: {exc}"
        return False
    sent_id = getattr(message, "message_id", None)
    await asyncio.to_thread(chats.mark, chat_id, part.paper_ids, "sent", sent_id)
    outcome.sent += part.paper_ids
    outcome.messages += 1
    return True


async def push_all(
    answers: Answers, send: Send, dry_run: bool = False, chat_ids: set[int] | None = None
) -> list[ChatPush]:
    """The push job: under the push lease (one push at a time across processes), settle a
    crashed run's leftovers, then serve every active subscription."""
    if dry_run:
        return await _serve(answers, send, True, chat_ids)
    holder = await take_push_lease(answers.chats)
    try:
        settled = await asyncio.to_thread(answers.chats.settle_crashed)
        if settled:
            log.warning(
                "%d papers were mid-send when a push died; they are not sent again", settled
            )
        return await _serve(answers, send, False, chat_ids, holder)
    finally:
        await asyncio.to_thread(answers.chats.drop_lease, PUSH_LEASE, holder)


async def _serve(
    answers: Answers,
    send: Send,
    dry_run: bool,
    chat_ids: set[int] | None,
    holder: str | None = None,
) -> list[ChatPush]:
    """Every active subscription's digest (the lease, if held, renewed after each chat)."""
    subs = answers.chats.active()
    await asyncio.to_thread(answers.refresh)  # after a big import: seconds, off the event loop
    outcomes = []
    for sub in subs:
        if chat_ids is not None and sub["chat_id"] not in chat_ids:
            continue
        outcome = await push_chat(answers, sub, send, dry_run)
        if outcome.error:
            log.warning("push to chat %s: %s", sub["chat_id"], outcome.error)
        outcomes.append(outcome)
        if holder is not None:
            await asyncio.to_thread(answers.chats.take_lease, PUSH_LEASE, holder, LEASE_SECONDS)
        await asyncio.sleep(0)
    return outcomes


class PushBusy(Exception):
    """Another push held the lease for longer than LEASE_WAIT seconds."""


async def take_push_lease(chats: Chats, wait: float = LEASE_WAIT) -> str:
    """Wait for the push lease (another process's push finishes first); this holder's name."""
    holder = lease_holder_name()
    deadline = time.monotonic() + wait
    announced = False
    while other := await asyncio.to_thread(chats.take_lease, PUSH_LEASE, holder, LEASE_SECONDS):
        if time.monotonic() > deadline:
            raise PushBusy(f"another push ({other}) has run for over {wait:.0f} s; nothing sent")
        if not announced:
            log.info("another push is running (%s): waiting for it to finish", other)
            announced = True
        await asyncio.sleep(LEASE_POLL)
    return holder


def summary(outcomes: list[ChatPush]) -> str:
    """One line for `paperbot push` and /push."""
    sent = sum(len(o.sent) for o in outcomes)
    failed = [o for o in outcomes if o.error]
    msgs = sum(o.messages for o in outcomes)
    line = f"{len(outcomes)} chats: {sent} papers in {msgs} messages"
    if failed:
        line += f"; {len(failed)} chats failed (see log)"
    return line
