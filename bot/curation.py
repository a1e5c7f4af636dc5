"""The team changes its collection from the chat: /add, the Add button under a question that links
a paper the collection lacks, and /remove with its confirmation button.

The `reply_for_*` functions are plain (tested without Telegram). The arXiv request runs in a worker
thread without the engine's lock (`store.collection.adding.look_up`), and only the write that follows takes
it (`Answers.add_found`), as the daily fetch does: a question asked meanwhile is answered at once.
Who may do what: `bot.access.may_add` (PAPERBOT_ADD) and `may_curate` (/remove).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from telegram import Message, Update, User
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import formatting as fmt
from bot.access import may_add, may_curate
from bot.config import Settings
from bot.formatting import Callback, Reply
from bot.sending import ButtonOutcome, argument, send
from store.answers.engine import Answers
from store.collection import adding
from store.collection.importers.fetch import Fetcher

log = logging.getLogger(__name__)

MAX_REFS = 20  # arguments of one /add
ADD_REFUSED = "Only this chat's administrators and the bot's maintainers can add papers here."
REMOVE_REFUSED = "Only the bot's maintainers and this group's administrators can remove papers."
NO_CHAT = "This button works only in a chat with the bot."
WORKING = "Looking up {refs} on arXiv…"
NOT_LOOKED_UP = "Only the first {n} are looked up at once; send the rest again: /add {rest}"
ADD_FAILED = "Sorry, adding failed. Please try again in a moment."
ADD_USAGE = (
    "Usage: /add ID_OR_LINK... — add papers by arXiv id, arxiv.org or huggingface.co/papers "
    "link, or 10.48550/arXiv DOI.\nExample: <code>/add 2103.00020</code>"
)
REMOVE_USAGE = "Usage: /remove ID — remove a paper (by its id or arXiv id) from the collection."


class ArxivLookups:
    """One Fetcher for every /add of the running bot, used by one request at a time, so arXiv's
    pacing (PAPERBOT_ARXIV_URL's politeness, as `paperbot fetch`) holds across chats."""

    def __init__(self, arxiv_url: str | None = None, fetcher: Fetcher | None = None) -> None:
        self.arxiv_url = arxiv_url
        self.fetcher = fetcher or Fetcher()
        self._lock = threading.Lock()

    def look_up(self, refs: list[str]) -> adding.Lookup:
        """Ask arXiv about the arguments (blocking network: call it in a worker thread)."""
        with self._lock:
            return adding.look_up(refs, self.fetcher, self.arxiv_url)

    def close(self) -> None:
        self.fetcher.close()


def adder_name(user: User | None) -> str:
    """How a team paper records who added it: the person's name and Telegram id."""
    if user is None:
        return "unknown"
    return f"{user.full_name} (id {user.id})"


# ---------------------------------------------------------------- plain functions


def reply_for_add(
    answers: Answers, lookups: ArxivLookups, args: str, added_by: str, added_in: str
) -> list[Reply]:
    """Add the papers an /add names: one line per argument, then each paper's card. Past the
    first MAX_REFS, a last line names the arguments not looked up, to send again."""
    named = args.split()
    refs, rest = named[:MAX_REFS], named[MAX_REFS:]
    if not refs:
        return fmt.text_reply(ADD_USAGE)
    report = answers.add_found(lookups.look_up(refs), added_by, added_in)
    papers = [o.paper_id for o in report.outcomes if o.paper_id]
    note = NOT_LOOKED_UP.format(n=MAX_REFS, rest=" ".join(rest)) if rest else ""
    return fmt.added_replies(report.lines(), answers.cards(papers), note)


def reply_for_remove(answers: Answers, paper_id: str) -> list[Reply]:
    """A /remove: the paper and a confirmation button (nothing is removed yet)."""
    paper_id = paper_id.strip()
    if not paper_id:
        return fmt.text_reply(REMOVE_USAGE)
    paper = answers.paper(paper_id)
    return fmt.remove_question(paper) if paper else fmt.paper_not_found(paper_id)


def reply_for_remove_confirmed(answers: Answers, paper_id: str) -> ButtonOutcome:
    """The Remove button: delete the paper, and edit the question into what happened."""
    paper = answers.paper(paper_id)
    if paper is None or not answers.remove([paper["id"]]):
        return ButtonOutcome(fmt.text_reply("Already removed."), edit=True)
    title = fmt.esc(paper["title"])
    return ButtonOutcome(
        fmt.text_reply(f"Removed: <b>{title}</b> (<code>{fmt.esc(paper['id'])}</code>)"),
        edit=True,
    )


def reply_for_add_button(
    answers: Answers, lookups: ArxivLookups, arxiv_id: str, added_by: str, added_in: str
) -> ButtonOutcome:
    """The Add button under an answer: add that paper as `/add ARXIV_ID` would."""
    return ButtonOutcome(reply_for_add(answers, lookups, arxiv_id, added_by, added_in))


def offer_to_add(answers: Answers, text: str) -> list[Reply]:
    """After an answer: an Add button per paper the question linked that is not in the collection."""
    return fmt.add_offer(answers.missing_refs(text))


# ---------------------------------------------------------------- handlers


def lookups_of(context: ContextTypes.DEFAULT_TYPE) -> ArxivLookups:
    """The bot's arXiv client for adds, made on first use."""
    found = context.bot_data.get("arxiv")
    if found is None:
        settings: Settings = context.bot_data["settings"]
        found = context.bot_data["arxiv"] = ArxivLookups(settings.feeds.arxiv_url)
    return found


async def allowed_to_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """PAPERBOT_ADD for the person who sent the command or pressed the button."""
    settings: Settings = context.bot_data["settings"]
    chat, user = update.effective_chat, update.effective_user
    return await may_add(
        context.bot,
        settings.add_policy,
        chat.type,
        chat.id,
        user.id if user else None,
        settings.admins,
    )


async def allowed_to_remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Maintainers and group administrators."""
    settings: Settings = context.bot_data["settings"]
    chat, user = update.effective_chat, update.effective_user
    return await may_curate(
        context.bot, chat.type, chat.id, user.id if user else None, settings.admins
    )


async def _changing(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    allowed: Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[bool]],
    refusal: str,
    func: Callable[..., list[Reply]],
    *args: object,
) -> None:
    """A command that changes the collection: refuse who may not, else run `func(answers,
    *args)` in a worker thread and send its replies."""
    message = update.effective_message
    if not await allowed(update, context):
        await message.reply_text(refusal)
        return
    await send(message, await asyncio.to_thread(func, context.bot_data["answers"], *args))


async def add_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add ID_OR_LINK...: papers from arXiv into the team's collection. A lookup can take
    seconds (arXiv's pacing, a slow network): a "looking up" reply comes first and is edited
    into the result."""
    message = update.effective_message
    who, where = adder_name(update.effective_user), str(update.effective_chat.id)
    named = argument(message)
    refs = named.split()[:MAX_REFS]
    if not await allowed_to_add(update, context):
        await message.reply_text(ADD_REFUSED)
        return
    if not refs:
        await send(message, fmt.text_reply(ADD_USAGE))
        return
    working = await message.reply_text(WORKING.format(refs=", ".join(refs)))
    answers = context.bot_data["answers"]
    try:
        replies = await asyncio.to_thread(
            reply_for_add, answers, lookups_of(context), named, who, where
        )
    except Exception:
        with contextlib.suppress(TelegramError):
            await working.edit_text(ADD_FAILED)
        raise
    await edit_into(working, message, replies)


async def edit_into(working: Message, message: Message, replies: list[Reply]) -> None:
    """The "working" message becomes the first reply; the rest follow as new messages."""
    first, rest = replies[0], replies[1:]
    try:
        await working.edit_text(first.text, reply_markup=first.keyboard)
    except BadRequest as exc:  # deleted meanwhile, say: send it instead
        log.warning("could not edit the working message (%s); sending the result", exc)
        rest = replies
    if rest:
        await send(message, rest)


async def remove_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/remove ID: asks for confirmation with a button."""
    paper_id = argument(update.effective_message)
    await _changing(update, context, allowed_to_remove, REMOVE_REFUSED, reply_for_remove, paper_id)


async def button_outcome(
    update: Update, context: ContextTypes.DEFAULT_TYPE, callback: Callback
) -> ButtonOutcome:
    """An Add or Remove button: the presser's permission first, then the change in a thread."""
    answers: Answers = context.bot_data["answers"]
    if update.effective_chat is None:  # a button under an inline message: no chat to act for
        return ButtonOutcome(alert=NO_CHAT)
    if callback.action == "remove":
        if not await allowed_to_remove(update, context):
            return ButtonOutcome(alert=REMOVE_REFUSED)
        return await asyncio.to_thread(reply_for_remove_confirmed, answers, callback.key)
    if not await allowed_to_add(update, context):
        return ButtonOutcome(alert=ADD_REFUSED)
    return await asyncio.to_thread(
        reply_for_add_button,
        answers,
        lookups_of(context),
        callback.key,
        adder_name(update.effective_user),
        str(update.effective_chat.id),
    )
