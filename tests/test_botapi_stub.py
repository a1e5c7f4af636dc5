"""Self-test of tests/botapi.py: a real python-telegram-bot Application against FakeBotAPI."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import time
import warnings
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.botapi import BOT_ID, BOT_USERNAME, DEFAULT_GROUP_ID, FakeBotAPI, compute_entities
from tests.harness import polling

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"
USER = 777


@pytest_asyncio.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    """A bare Bot for calling methods directly (no polling)."""
    async with Bot(TOKEN, base_url=api.base_url) as bare_bot:
        yield bare_bot


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"Hello {update.effective_user.first_name}!")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(f"chose {update.callback_query.data}")


@contextlib.asynccontextmanager
async def running_app(api: FakeBotAPI, *handlers: object) -> AsyncIterator[Application]:
    """The Application lifecycle a production bot goes through, polling the stub."""
    app = Application.builder().token(TOKEN).base_url(api.base_url).build()
    for handler in handlers:
        app.add_handler(handler)  # type: ignore[arg-type]
    async with polling(app):
        yield app


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int -> timedelta migration
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


async def test_echo_and_command_round_trip(api: FakeBotAPI) -> None:
    handlers = (
        CommandHandler("start", start),
        MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
    )
    async with running_app(api, *handlers):
        api.add_private_message("/start", user_id=USER)
        api.add_private_message("hi there", user_id=USER)
        sent = await api.wait_for_sent(2)

    assert [p["text"] for p in sent] == [f"Hello User{USER}!", "echo: hi there"]
    assert all(p["chat_id"] == USER for p in sent)
    assert api.requests_for("getMe") and api.requests_for("deleteWebhook")
    assert api.pending_updates == []  # the updater confirmed everything via offset
    reply = api.message(USER, 3)  # ids: 1 and 2 are the user's messages, 3 and 4 the replies
    assert (
        reply is not None
        and reply["from"]["id"] == BOT_ID
        and reply["text"] == f"Hello User{USER}!"
    )


async def test_group_command_addressed_to_bot_and_reply(api: FakeBotAPI) -> None:
    handlers = (CommandHandler("start", start), MessageHandler(filters.REPLY & filters.TEXT, echo))
    async with running_app(api, *handlers):
        api.add_group_message(f"/start@{BOT_USERNAME}", user_id=USER)
        [greeting] = await api.wait_for_sent(1, chat_id=DEFAULT_GROUP_ID)
        bot_msg_id = api.sent_messages(DEFAULT_GROUP_ID)[0]["message_id"]
        api.add_group_message("thanks", user_id=USER, reply_to_bot_message_id=bot_msg_id)
        sent = await api.wait_for_sent(2, chat_id=DEFAULT_GROUP_ID)

    assert greeting["text"] == f"Hello User{USER}!"
    assert sent[1]["text"] == "echo: thanks"
    assert api.sent_texts(chat_id=12345) == []


async def test_long_polling_returns_early_and_honours_offset(api: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.3) == ()
    assert time.monotonic() - started >= 0.25  # it really waited

    asyncio.get_running_loop().call_later(0.1, api.add_private_message, "wake up")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert time.monotonic() - started < 2  # returned as soon as the update arrived
    assert [u.message.text for u in updates] == ["wake up"]

    api.add_private_message("second")
    again = await bot.get_updates(offset=updates[0].update_id, timeout=0)
    assert [u.message.text for u in again] == ["wake up", "second"]
    confirmed = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)
    assert confirmed == () and api.pending_updates == []


async def test_callback_query_edit_flow(api: FakeBotAPI, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    menu = await bot.send_message(USER, "Pick one", reply_markup=keyboard)
    assert menu.reply_markup == keyboard and menu.from_user.username == BOT_USERNAME

    async with running_app(api, CallbackQueryHandler(on_button)):
        api.add_callback_query("a", message_id=menu.message_id, chat_id=USER, user_id=USER)
        await api.wait_for(lambda calls: any(m == "editMessageText" for m, _ in calls))

    assert api.requests_for("answerCallbackQuery")
    edited = api.message(USER, menu.message_id)
    assert edited is not None and edited["text"] == "chose a" and "reply_markup" not in edited
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("chose a", chat_id=USER, message_id=menu.message_id)


async def test_bot_added_to_group_and_admin_checks(api: FakeBotAPI, bot: Bot) -> None:
    seen: list[str] = []

    async def on_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.my_chat_member.new_chat_member.status)

    async with running_app(api, ChatMemberHandler(on_member, ChatMemberHandler.MY_CHAT_MEMBER)):
        api.add_my_chat_member(DEFAULT_GROUP_ID, new_status="member", user_id=USER)
        await api.wait_for(lambda calls: bool(seen), timeout=3)
    assert seen == ["member"]

    api.admins[DEFAULT_GROUP_ID] = {USER}
    assert isinstance(await bot.get_chat_member(DEFAULT_GROUP_ID, USER), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(DEFAULT_GROUP_ID, 5), ChatMemberMember)


@pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)  # RetryAfter's own warning
async def test_fault_injection(api: FakeBotAPI, bot: Bot) -> None:
    api.fail_next("sendMessage", "403")
    with pytest.raises(Forbidden, match="kicked from the group chat"):
        await bot.send_message(DEFAULT_GROUP_ID, "hello")

    api.fail_next("sendMessage", "429", count=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "hello")
        assert retry_after_seconds(caught.value) == 7

    api.fail_next("sendMessage", "400", description="Bad Request: can't parse entities")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(USER, "hello")

    api.fail_next("getMe", "500")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.get_me()

    api.fail_next("sendMessage", "close")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "dropped")

    api.fail_next("sendMessage", "timeout", delay=0.6)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.2)
    await api.wait_for_sent(1, timeout=3)  # the slow request is still carried out, like on Telegram

    api.forbidden_chats.add(USER)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(USER, "anyone there?")
    api.forbidden_chats.clear()

    await bot.send_message(USER, "finally")
    assert api.sent_texts() == ["slow", "finally"]
    assert len(api.requests_for("sendMessage")) == 8  # every attempt was recorded


async def test_faults_inside_running_app_reach_error_handler(api: FakeBotAPI) -> None:
    errors: list[BaseException] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    api.forbidden_chats.add(USER)
    async with running_app(api, MessageHandler(filters.TEXT, echo)) as app:
        app.add_error_handler(on_error)
        api.add_private_message("hi", user_id=USER)
        await api.wait_for(lambda calls: bool(errors), timeout=3)
    assert isinstance(errors[0], Forbidden)
    assert api.sent() == []


async def test_entities_use_utf16_offsets() -> None:
    assert compute_entities(f"/start@{BOT_USERNAME} now") == [
        {"type": "bot_command", "offset": 0, "length": 6 + 1 + len(BOT_USERNAME)}
    ]
    assert compute_entities("😀 hi @alice, mail me at a@b.com") == [
        {"type": "mention", "offset": 6, "length": 6}
    ]
    assert compute_entities("no /command here") == []


async def test_stop_is_prompt_with_hanging_requests() -> None:
    async with FakeBotAPI() as api, Bot(TOKEN, base_url=api.base_url) as bot:
        api.fail_next("sendMessage", "timeout", delay=30)
        hanging = [
            asyncio.create_task(bot.get_updates(timeout=30, read_timeout=60)),
            asyncio.create_task(bot.send_message(USER, "slow", read_timeout=60)),
        ]
        await api.wait_for(lambda calls: len(calls) == 2, timeout=2)
        started = time.monotonic()
        await api.stop()
        assert time.monotonic() - started < 1.5
        results = await asyncio.wait_for(asyncio.gather(*hanging, return_exceptions=True), 1.5)
    # Both requests end promptly (empty answer or a dropped connection); nothing is delivered.
    assert results[0] == () or isinstance(results[0], NetworkError)
    assert isinstance(results[1], NetworkError) and api.sent() == []
