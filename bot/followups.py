"""Follow-ups in the bot: where a message was asked (the answer it replies to, the asker's
thread), remembering which papers each sent answer showed, and the reply for an answer with a
note (a metadata or follow-up answer: the count, the yes/no, the authors above the papers).

The reading of a follow-up is store/answers/followup.py; the papers are kept durably by
`Chats.remember_answer` (table answer_papers), so a reply after a restart still follows.
"""

from __future__ import annotations

import logging
import sqlite3

from telegram import InlineKeyboardButton, Message

from bot import formatting as fmt
from bot.formatting import Reply
from store.answers.followup import Follow
from store.answers.results import Answer
from store.collection.db import StoreError

log = logging.getLogger(__name__)


def follow_of(message: Message, replies_to_bot: bool) -> Follow:
    """Where a message was asked: the bot's answer it replies to, and the asker's thread."""
    user = message.from_user.id if message.from_user else 0
    replied = message.reply_to_message
    key = f"{message.chat_id}:{replied.message_id}" if replied and replies_to_bot else None
    text = (replied.text or "") if key and replied else ""
    return Follow(reply_key=key, replied_text=text, thread=f"{message.chat_id}:{user}")


def remember_answer(
    answers, answer: Answer | None, follow: Follow, chat_id: int, sent: list[Message]
) -> None:
    """Keep which papers the answer showed under each message it was sent as (durably)."""
    if answer is None or not answer.results or not sent:
        return
    keys = [f"{chat_id}:{m.message_id}" for m in sent]
    ids = [hit.id for hit in answer.results]
    try:
        answers.chats.remember_answer(keys, follow.thread, answer.query, ids)
    except (StoreError, sqlite3.Error) as exc:  # a read-only database: answers, no follow-ups
        log.warning("cannot remember the answer's papers for follow-ups: %s", exc)


def noted_answer_replies(answer: Answer) -> list[Reply]:
    """A metadata or follow-up answer: its note above its papers; an answer without a note is
    a plain answer (`formatting.answer_replies`)."""
    if not answer.note:
        return fmt.answer_replies(answer)
    blocks = [fmt.esc(answer.note)]
    blocks += [fmt.hit_block(hit, n) for n, hit in enumerate(answer.results, 1)]
    if not answer.results and answer.suggestions:
        blocks.append(fmt.nothing_found(answer.query, answer.suggestions)[0].text)
    rows = fmt.hit_rows(answer.results)
    shown = len(answer.results)
    if answer.total > shown:
        more = fmt.more_data("a", shown, answer.query)
        rows.append([InlineKeyboardButton("More", callback_data=more)])
    return fmt.replies(blocks, fmt.keyboard(rows))
