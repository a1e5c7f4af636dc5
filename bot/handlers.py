"""Telegram handlers: read the update, call a plain `reply_for_*` function in a thread, send.

The `reply_for_*` functions hold the logic (answers -> formatting -> list[Reply]) and are tested
without Telegram. Handlers stay a few lines each: updates run concurrently, so search goes through
`asyncio.to_thread` and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from telegram import Chat, Message, MessageEntity, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import curation, subscriptions
from bot import formatting as fmt
from bot.access import within_rate
from bot.followups import follow_of, noted_answer_replies, remember_answer
from bot.formatting import Reply
from bot.sending import ButtonOutcome, argument, send
from store.answers import dialogue
from store.answers.engine import Answer, Answers, clean_query
from store.answers.followup import Follow

log = logging.getLogger(__name__)

ASK_LIMIT = 3
REPO_LIMIT = 3
SIMILAR_LIMIT = 3
LATEST_COUNT = 5
APOLOGY = "Sorry, something went wrong with that request. Please try again in a moment."
EXPIRED = "This button has expired (the bot restarted). Please ask again."
NO_MORE = "No more results."

# (name, arguments, what it does, example argument): the menu, /help and usage lines in one place.
COMMANDS: list[tuple[str, str, str, str]] = [
    (
        "ask",
        "QUESTION",
        "answer a question from the papers",
        "which papers caption remote sensing images?",
    ),
    ("topic", "WORDS", "papers on a subject, five at a time", "image captioning"),
    ("repo", "NAME", "a paper's code and links, by name or acronym", "CLIP"),
    ("paper", "ID", "one paper in full, with its links", "t-826d74fca928"),
    ("mine", "WORDS", "answer from the team's own papers only", "remote sensing"),
    ("latest", "", "recently added papers", ""),
    (
        "add",
        "ID_OR_LINK...",
        "add papers by arXiv id or link to the team's collection",
        "2103.00020",
    ),
    ("remove", "ID", "remove a paper from the collection (admins)", "2103.00020"),
    (
        "subscribe",
        "[KEYWORDS | like-ours]",
        "a daily digest of new papers here; like-ours: those close to the team's (admins)",
        "remote sensing",
    ),
    ("unsubscribe", "", "stop the daily digest (admins)", ""),
    ("settings", "", "digest time, time zone and keywords", ""),
    ("stats", "", "collection figures", ""),
    ("id", "", "this chat's id and yours (for PAPERBOT_ALLOWED_CHATS, PAPERBOT_ADMINS)", ""),
    ("help", "", "what I know and how to ask", ""),
    ("start", "", "introduction", ""),
]
EXAMPLES = [
    "which papers caption remote sensing images?",
    "how do models generate code from natural language?",
    "how many papers do we have on remote sensing?",
    "/topic video understanding",
    "/repo CLIP",
]


def command_help() -> list[tuple[str, str, str]]:
    """(name, arguments, description) of every command, for /help."""
    return [(name, args, about) for name, args, about, _ in COMMANDS]


def usage(command: str) -> list[Reply]:
    """The usage line and example for a command called without its argument."""
    name, args, about, example = next(c for c in COMMANDS if c[0] == command)
    return fmt.usage_replies(name, args, about, example)


# ---------------------------------------------------------------- state shared by handlers


class RecentQueries:
    """Queries too long for callback data, by hash: what an old "More" button still finds."""

    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, query: str) -> None:
        """Keep a query whose button carries a hash (literal queries need no memory)."""
        key = fmt.query_key(query)
        if not fmt.is_hashed(key):
            return
        with self._lock:
            self._items[key] = query
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def resolve(self, key: str) -> str | None:
        """The query for a button's key, or None when it was forgotten (a restart)."""
        if not fmt.is_hashed(key):
            return key
        with self._lock:
            return self._items.get(key)


# ---------------------------------------------------------------- plain functions


def reply_for_question(
    answers: Answers,
    text: str,
    queries: RecentQueries | None = None,
    chat_id: int | None = None,
    team_only: bool = False,
) -> list[Reply]:
    """A question's answer, or the plain 'nothing on it' note with a /topic hint; from the team's
    papers alone for /mine or in a chat set to `scope team`."""
    return reply_and_answer(answers, text, queries, chat_id, team_only)[0]


def reply_and_answer(
    answers: Answers,
    text: str,
    queries: RecentQueries | None = None,
    chat_id: int | None = None,
    team_only: bool = False,
    follow: Follow | None = None,
) -> tuple[list[Reply], Answer | None]:
    """`reply_for_question`'s replies and the answer behind them (whose papers a reply to it
    follows up on); `follow`: where the question was asked."""
    if not clean_query(text):  # nothing but spaces or control characters
        return usage("mine" if team_only else "ask"), None
    only = answers.team_ids() if team_only else answers.scope_of(chat_id)
    answer = dialogue.respond(answers, text, limit=ASK_LIMIT, only=only, follow=follow)
    if queries is not None:
        queries.remember(answer.query)
    replies = noted_answer_replies(answer) + curation.offer_to_add(answers, text)
    return replies, answer


def reply_for_topic(
    answers: Answers,
    words: str,
    offset: int = 0,
    queries: RecentQueries | None = None,
    chat_id: int | None = None,
) -> list[Reply]:
    """One page of papers on a subject (one message, so a More button can edit it in place),
    within the chat's scope."""
    if not clean_query(words):
        return usage("topic")
    offset = min(offset, fmt.MAX_OFFSET)
    only = answers.scope_of(chat_id)
    answer = answers.topic(words, offset=offset, limit=fmt.PAGE_SIZE, only=only)
    if queries is not None:
        queries.remember(answer.query)
    return [fmt.topic_page(answer)]


def reply_for_repo(answers: Answers, name: str) -> list[Reply]:
    """Papers found by name or acronym, with their code links (or the note that there are none)."""
    if not clean_query(name):
        return usage("repo")
    return fmt.repo_replies(answers.repo(name, limit=REPO_LIMIT))


def reply_for_paper(answers: Answers, paper_id: str) -> list[Reply]:
    """One paper in full, or a note that the id is unknown."""
    paper_id = paper_id.strip()
    if not clean_query(paper_id):
        return usage("paper")
    paper = answers.paper(paper_id)
    return fmt.paper_replies(paper) if paper else fmt.paper_not_found(paper_id)


def reply_for_similar(answers: Answers, paper_id: str) -> list[Reply]:
    """Papers like the given one."""
    answer = answers.similar(paper_id, limit=SIMILAR_LIMIT)
    if answer.query == paper_id and not answer.results:
        return fmt.paper_not_found(paper_id)
    return fmt.similar_replies(answer)


def reply_for_latest(answers: Answers) -> list[Reply]:
    """Recently added papers, and how many of the collection are the team's."""
    return fmt.latest_replies(answers.latest(LATEST_COUNT), answers.stats())


def reply_for_stats(answers: Answers) -> list[Reply]:
    """Collection figures."""
    return fmt.stats_replies(answers.stats())


def reply_for_help(answers: Answers, bot_username: str | None) -> list[Reply]:
    """Collection size, how to address the bot, examples and every command."""
    return fmt.help_replies(answers.stats(), command_help(), EXAMPLES, bot_username)


def reply_for_unknown(command: str) -> list[Reply]:
    """A command the bot doesn't have: say so and list the real ones."""
    return fmt.unknown_command_replies(command, [name for name, *_ in COMMANDS])


def reply_for_button(
    answers: Answers, data: str | None, queries: RecentQueries, chat_id: int | None = None
) -> ButtonOutcome:
    """Decode a button and run it: a page to edit in, new replies, or an 'expired' toast."""
    callback = fmt.parse_callback(data)
    if callback is None:
        return ButtonOutcome(alert=EXPIRED)
    if callback.action == "similar":
        return ButtonOutcome(reply_for_similar(answers, callback.key))
    if callback.action != "more":  # Add and Remove need the presser's rights: bot/curation.py
        return ButtonOutcome(alert=EXPIRED)
    query = queries.resolve(callback.key)
    if query is None:
        return ButtonOutcome(alert=EXPIRED)
    only = answers.scope_of(chat_id)
    answer = answers.topic(query, offset=callback.offset, limit=fmt.PAGE_SIZE, only=only)
    if not answer.results:
        return ButtonOutcome(alert=NO_MORE)
    return ButtonOutcome([fmt.topic_page(answer)], edit=callback.mode == "t")


# ---------------------------------------------------------------- addressing in groups


def is_private(message: Message) -> bool:
    """Private chats need no addressing: every text is a question."""
    return message.chat.type == Chat.PRIVATE


def mentions_bot(message: Message, bot_username: str, bot_id: int) -> bool:
    """True when an entity names the bot: `@username`, or a text mention of its user."""
    for entity, text in message.parse_entities().items():
        if entity.type == MessageEntity.MENTION and text[1:].lower() == bot_username.lower():
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            return True
    return False


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """True when the message answers one of the bot's own messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def addressed_text(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question in a message meant for the bot, or None for group chatter."""
    text = message.text or ""
    if is_private(message):
        return text
    if mentions_bot(message, bot_username, bot_id):
        return strip_mention(text, bot_username)
    if replies_to_bot(message, bot_id):
        return text
    return None


def strip_mention(text: str, bot_username: str) -> str:
    """The text without `@botname`, so the name is not searched for."""
    pattern = rf"(?<![\w@])@{re.escape(bot_username)}\b"
    return re.sub(r"\s+", " ", re.sub(pattern, " ", text, flags=re.IGNORECASE)).strip()


def command_name(text: str) -> tuple[str, str | None]:
    """(`/name`, `botname` or None) of a command message."""
    parts = (text or "").split(maxsplit=1)
    name, _, target = (parts[0] if parts else "").partition("@")
    return name, target or None


# ---------------------------------------------------------------- sending


def answers_of(context: ContextTypes.DEFAULT_TYPE) -> Answers:
    """The engine loaded once at start-up."""
    return context.bot_data["answers"]


def queries_of(context: ContextTypes.DEFAULT_TYPE) -> RecentQueries:
    """The memory of long queries behind hashed buttons."""
    return context.bot_data.setdefault("queries", RecentQueries())


async def run(context: ContextTypes.DEFAULT_TYPE, func: Callable[..., Any], *args: Any) -> Any:
    """Call a blocking `reply_for_*` in a worker thread with the engine as first argument."""
    return await asyncio.to_thread(func, answers_of(context), *args)


# ---------------------------------------------------------------- handlers


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and explain, like /help."""
    await help_command(update, context)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What the bot knows, how to ask, every command."""
    replies = await run(context, reply_for_help, context.bot.username)
    await send(update.effective_message, replies)


async def _ask(update: Update, context: ContextTypes.DEFAULT_TYPE, team_only: bool) -> None:
    """/ask and /mine: the command's argument as a question, within the rate limit."""
    message = update.effective_message
    if not await within_rate(update, context):
        return
    text = strip_mention(argument(message), context.bot.username)
    await _answer(message, context, text, team_only)


async def _answer(
    message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, team_only: bool
) -> None:
    """Answer (a follow-up, a metadata question or a question), send, remember its papers."""
    follow = follow_of(message, replies_to_bot(message, context.bot.id))
    args = (text, queries_of(context), message.chat_id, team_only, follow)
    replies, answer = await run(context, reply_and_answer, *args)
    sent = await send(message, replies)
    await run(context, remember_answer, answer, follow, message.chat_id, sent)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION: the way to ask in a group without a mention (in the chat's scope)."""
    await _ask(update, context, team_only=False)


async def mine(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mine WORDS: answered from the team's own papers only."""
    await _ask(update, context, team_only=True)


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text: every message in private, only messages addressed to the bot in groups."""
    message = update.effective_message
    text = addressed_text(message, context.bot.username, context.bot.id)
    if text is None:
        return  # group chatter (the bot sees it when it is an admin or privacy mode is off)
    if not await within_rate(update, context):
        return
    await _answer(message, context, text, team_only=False)


async def topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topic WORDS: a pageable list of papers."""
    message = update.effective_message
    if not await within_rate(update, context):
        return
    args = (argument(message), 0, queries_of(context), message.chat_id)
    replies = await run(context, reply_for_topic, *args)
    await send(message, replies)


async def repo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/repo NAME: a paper's code and links."""
    message = update.effective_message
    if not await within_rate(update, context):
        return
    await send(message, await run(context, reply_for_repo, argument(message)))


async def paper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/paper ID: one paper in full."""
    message = update.effective_message
    if not await within_rate(update, context):
        return
    await send(message, await run(context, reply_for_paper, argument(message)))


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest: recently added papers."""
    await send(update.effective_message, await run(context, reply_for_latest))


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: collection figures."""
    await send(update.effective_message, await run(context, reply_for_stats))


def reply_for_id(chat_id: int | None, user_id: int | None) -> list[Reply]:
    """/id: the ids an operator puts in PAPERBOT_ALLOWED_CHATS and PAPERBOT_ADMINS."""
    lines = []
    if chat_id is not None:
        lines.append(f"This chat's id: <code>{chat_id}</code> (for PAPERBOT_ALLOWED_CHATS)")
    if user_id is not None:
        lines.append(f"Your user id: <code>{user_id}</code> (for PAPERBOT_ADMINS)")
    return fmt.text_reply("\n".join(lines) or "No chat or user id in this update.")


async def id_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/id: this chat's id and the sender's."""
    chat, user = update.effective_chat, update.effective_user
    await send(update.effective_message, reply_for_id(chat and chat.id, user and user.id))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown command: help in private or when addressed to the bot; silence otherwise. A
    command addressed to another bot (`/ask@otherbot`) is that bot's, in a private chat too."""
    message = update.effective_message
    name, target = command_name(message.text or "")
    if target is not None and target.lower() != (context.bot.username or "").lower():
        return
    if is_private(message) or target is not None:
        await send(message, reply_for_unknown(name))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More/Back/Similar: always answer the query, then edit the page or send new replies."""
    query = update.callback_query
    if not await within_rate(update, context):
        return
    callback = fmt.parse_callback(query.data)
    if callback is not None and callback.action in ("add", "remove"):
        outcome = await curation.button_outcome(update, context, callback)
    else:
        chat_id = update.effective_chat.id if update.effective_chat else None
        outcome = await run(context, reply_for_button, query.data, queries_of(context), chat_id)
    try:
        await query.answer(outcome.alert, show_alert=bool(outcome.alert))
    except BadRequest as exc:  # pressed while the bot was down: too old to answer, still served
        log.warning("button press not acknowledged (%s); serving it anyway", exc)
    if outcome.edit:
        reply = outcome.replies[0]
        try:
            await query.edit_message_text(reply.text, reply_markup=reply.keyboard)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # a double press: nothing to change
                raise
    elif outcome.replies and isinstance(query.message, Message):
        await send(query.message, outcome.replies)
    elif outcome.replies:
        for reply in outcome.replies:
            await context.bot.send_message(
                update.effective_chat.id, reply.text, reply_markup=reply.keyboard
            )


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback; tell the user briefly (never the traceback)."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update) or isinstance(context.error, Forbidden):
        return  # a chat that blocked or removed the bot can't be told anything
    if update.callback_query:
        try:
            await update.callback_query.answer(APOLOGY, show_alert=True)
            return
        except TelegramError:
            pass  # already answered before the failure: say it in the chat instead
    if isinstance(update.effective_message, Message):
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(APOLOGY)


# The registry app.py wires: every command here appears in /help and the command menu.
COMMAND_CALLBACKS: dict[str, Callable[..., Any]] = {
    "ask": ask,
    "topic": topic,
    "repo": repo,
    "paper": paper,
    "mine": mine,
    "latest": latest,
    "add": curation.add_command,
    "remove": curation.remove_command,
    "stats": stats,
    "id": id_command,
    "help": help_command,
    "start": start,
    "subscribe": subscriptions.subscribe,
    "unsubscribe": subscriptions.unsubscribe,
    "settings": subscriptions.settings_command,
}
