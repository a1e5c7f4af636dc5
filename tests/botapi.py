"""A local stand-in for the Telegram Bot API, for end-to-end tests.

Why: the bot should be tested through the very HTTP layer it uses in production
(python-telegram-bot's request machinery, its error mapping, long polling and
retries) without ever talking to api.telegram.org.  ``FakeBotAPI`` is a small
aiohttp server on 127.0.0.1 that speaks enough of the Bot API for that, records
every request, lets a test feed realistic updates, and can inject the failures
Telegram produces in practice (flood control, kicked bot, timeouts, dropped
connections).

Typical use::

    async with FakeBotAPI() as api:
        app = Application.builder().token("123456:TEST-token").base_url(api.base_url).build()
        ...start the app and its updater (polling)...
        api.add_private_message("/start")
        [reply] = await api.wait_for_sent(1)
        assert reply["text"] == "Welcome!"

PTB sends parameters form-encoded, with every non-string value JSON-encoded
(numbers, booleans, reply_markup, commands, ...).  The stub decodes them back
so that ``api.calls`` holds plain Python values: ``chat_id`` is an ``int``,
``reply_markup`` a ``dict``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

BOT_ID = 1000
BOT_USERNAME = "paperbot_test_bot"
BOT_FIRST_NAME = "PaperBot"
DEFAULT_USER_ID = 4242
DEFAULT_GROUP_ID = -1001234567890
MAX_MESSAGE_LENGTH = 4096  # in UTF-16 code units, like Telegram counts
_UPDATE_ID_BASES = itertools.count(int(time.time()) % 100_000 * 100)
_RECHECK_INTERVAL = 0.05  # seconds between re-checks of a wait condition

Params = dict[str, Any]
Call = tuple[str, Params]
MethodHandler = Callable[[Params], Any]  # may also return an awaitable

# Form fields that are free text or opaque ids: never JSON-decode them, or a
# message text like "42" or "true" would turn into a number or a bool.
# fmt: off
_STRING_FIELDS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_query_id",
    "inline_message_id", "url", "secret_token", "ip_address", "language_code", "name",
    "title", "description", "short_description", "data", "query", "action", "emoji",
    "question", "explanation", "custom_title", "first_name", "last_name", "phone_number",
    "address", "file_id", "photo", "document", "audio", "video", "voice", "animation",
    "sticker", "thumbnail", "next_offset", "business_connection_id", "message_effect_id",
})
# fmt: on

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
# A mention starts at a word boundary; this excludes e-mail addresses and the
# "@botname" part of "/cmd@botname", which belongs to the bot_command entity.
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}")

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was kicked from the group chat",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_FAULT_KINDS = frozenset({"timeout", "close", *(str(code) for code in _DEFAULT_DESCRIPTIONS)})

_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
    "can_pin_messages": True,
    "can_manage_topics": False,
}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram entity offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def compute_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram would attach to a user's text: a leading bot command and @mentions.

    PTB's CommandHandler only fires when a ``bot_command`` entity sits at offset 0,
    so incoming commands must carry it just like real ones do.
    """
    spans: list[tuple[str, int, int]] = []
    command = _COMMAND_RE.match(text)
    if command:
        spans.append(("bot_command", command.start(), command.end()))
    spans += [("mention", m.start(), m.end()) for m in _MENTION_RE.finditer(text)]
    return [
        {
            "type": kind,
            "offset": utf16_len(text[:start]),
            "length": utf16_len(text[start:end]),
        }
        for kind, start, end in sorted(spans, key=lambda span: span[1])
    ]


class BotAPIError(Exception):
    """An ``{"ok": false}`` answer.  Method handlers raise it to refuse a request."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        """Telegram sets the HTTP status to the error code, and PTB maps errors by that status."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.code)


@dataclass
class _Fault:
    """One queued failure for one request (see ``FakeBotAPI.fail_next``)."""

    kind: str
    retry_after: int = 1
    description: str | None = None
    delay: float = 10.0
    deliver: bool = True

    def error(self) -> BotAPIError:
        code = int(self.kind)
        description = self.description or _DEFAULT_DESCRIPTIONS[code]
        if code == 429:
            return BotAPIError(
                429,
                description.format(retry_after=self.retry_after),
                {"retry_after": self.retry_after},
            )
        return BotAPIError(code, description)


class FakeBotAPI:
    """Local Telegram Bot API server.  See the module docstring for the overall idea.

    Public state a test may read or tweak:
      calls            every request as (method, params), in arrival order
      admins           {chat_id: {user_id, ...}}: who getChatMember reports as administrator
      forbidden_chats  chat ids whose sendMessage answers 403 "blocked by the user"
      users, chats     registries of user / chat dicts used when building updates and messages
      left_chats       chat ids the bot left via leaveChat
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port: int | None = None
        self.bot_user: dict[str, Any] = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.admins: dict[int, set[int]] = {}
        self.forbidden_chats: set[int | str] = set()
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []
        self.left_chats: set[int | str] = set()

        self._pending: list[dict[str, Any]] = []
        self._delivered: list[
            tuple[Params, tuple[int | str, int]]
        ] = []  # ok sendMessage: (params, message key)
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}  # bot's own messages
        self._callback_ids: set[str] = set()
        self._faults: dict[str, deque[_Fault]] = {}
        # Update ids go on from one stand-in to the next, as Telegram's do for one bot: the bot's
        # inbox recognises an id it has seen (tests share databases, each starts its own stand-in).
        self._update_ids = itertools.count(next(_UPDATE_ID_BASES) * 1_000_000 + 1)
        self._message_ids = itertools.count(1)
        self._other_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, MethodHandler] = {}
        self._register_handlers()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1, port 0: the OS picks a free port, so tests may run in parallel."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        # A short shutdown timeout: pending long polls are woken up by stop() anyway.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Wake every waiting handler (long polls, simulated timeouts), then shut the server."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url``: PTB appends ``<token>/<method>``."""
        return f"http://{self.host}:{self.port}/bot"

    # ------------------------------------------------------------------ inspection

    def requests_for(self, method: str) -> list[Params]:
        """Params of every call to ``method`` (case-insensitive, like Telegram), in order."""
        return [params for name, params in self.calls if name.lower() == method.lower()]

    def sent(self, chat_id: int | str | None = None) -> list[Params]:
        """Params of every *successful* sendMessage, in order, optionally for one chat.

        Failed attempts (injected faults, blocked chats) are left out so that a test
        of retry logic sees each message once; ``calls`` still has every attempt.
        """
        return [p for p, _ in self._delivered if chat_id is None or p.get("chat_id") == chat_id]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        """Just the texts of ``sent(chat_id)``."""
        return [p.get("text", "") for p in self.sent(chat_id)]

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """The Message objects of ``sent(chat_id)`` in their current state (after edits)."""
        return [
            copy.deepcopy(self._messages[key])
            for p, key in self._delivered
            if chat_id is None or p.get("chat_id") == chat_id
        ]

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """Current state of a message the bot sent (after any edits), or None."""
        message = self._messages.get((chat_id, message_id))
        return copy.deepcopy(message) if message else None

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued but not yet confirmed by a getUpdates offset."""
        return list(self._pending)

    def commands_for(self) -> list[dict[str, Any]]:
        """Commands last set by setMyCommands (the bot sets one menu, for every chat)."""
        return list(self.commands)

    async def wait_for(
        self, predicate: Callable[[list[Call]], bool], timeout: float = 5.0
    ) -> list[Call]:
        """Wait until ``predicate(api.calls)`` holds; returns the calls.

        Raises AssertionError listing the calls seen, because "timed out" alone
        says nothing about what the bot did instead.
        """
        if not await self._wait_until(lambda: predicate(self.calls), timeout):
            raise AssertionError(
                f"timed out after {timeout}s waiting for condition\n{self.describe_calls()}"
            )
        return list(self.calls)

    async def wait_for_sent(
        self, n: int, timeout: float = 5.0, chat_id: int | str | None = None
    ) -> list[Params]:
        """Wait until at least ``n`` messages were sent (to ``chat_id`` if given).

        Returns ``sent(chat_id)``.
        """
        if not await self._wait_until(lambda: len(self.sent(chat_id)) >= n, timeout):
            where = "" if chat_id is None else f" to chat {chat_id}"
            raise AssertionError(
                f"timed out after {timeout}s waiting for {n} sent message(s){where}, "
                f"got {len(self.sent(chat_id))}: {self.sent_texts(chat_id)!r}\n"
                f"{self.describe_calls()}"
            )
        return self.sent(chat_id)

    def describe_calls(self) -> str:
        """Readable list of calls for failure messages; getUpdates polls are only counted."""
        polls = len(self.requests_for("getUpdates"))
        lines = [
            f"  {method} {params!r}"
            for method, params in self.calls
            if method.lower() != "getupdates"
        ]
        return f"calls seen ({polls} getUpdates omitted):\n" + ("\n".join(lines) or "  (none)")

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        kind: str,
        count: int = 1,
        *,
        retry_after: int = 1,
        description: str | None = None,
        delay: float = 10.0,
        deliver: bool = True,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail.

        kind:
          "429"      flood control, with ``parameters.retry_after`` = retry_after
          "400", "401", "403", "404", "409", "500", "502"
                     that error code; ``description`` overrides the default text
          "timeout"  answer only after ``delay`` seconds (pick it above the client's
                     read timeout); afterwards the request is still carried out, as on
                     Telegram, unless ``deliver=False``, which drops the connection instead
          "close"    drop the connection without answering
        Faulted calls are recorded in ``calls`` but have no other effect (except a
        delivered "timeout").
        """
        kind = str(kind)
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        fault = _Fault(
            kind, retry_after=retry_after, description=description, delay=delay, deliver=deliver
        )
        self._faults.setdefault(method.lower(), deque()).extend(
            copy.copy(fault) for _ in range(count)
        )

    # ------------------------------------------------------------------ update feeding

    def add_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update built by the caller (e.g. ``{"inline_query": ...}``); adds update_id."""
        update = {"update_id": next(self._update_ids), **payload}
        self._pending.append(update)
        self._notify()
        return update

    def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update again, as Telegram does when its confirmation was lost."""
        self._pending.append(copy.deepcopy(update))
        self._notify()

    def add_private_message(
        self,
        text: str,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        reply_to_bot_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user writes to the bot in a private chat (chat id = user id unless given),
        optionally replying to one of the bot's messages."""
        user = self.user(user_id)
        chat_id = chat_id if chat_id is not None else user_id
        message = self._incoming_message(self.chat(chat_id), user, text)
        if reply_to_bot_message_id is not None:
            message["reply_to_message"] = self._bot_message(chat_id, reply_to_bot_message_id)
        return self.add_update({"message": message})

    def add_group_message(
        self,
        text: str,
        chat_id: int = DEFAULT_GROUP_ID,
        user_id: int = DEFAULT_USER_ID,
        reply_to_bot_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user writes in a group, optionally replying to one of the bot's messages."""
        message = self._incoming_message(self.chat(chat_id), self.user(user_id), text)
        if reply_to_bot_message_id is not None:
            message["reply_to_message"] = self._bot_message(chat_id, reply_to_bot_message_id)
        return self.add_update({"message": message})

    def add_callback_query(
        self,
        data: str,
        message_id: int,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
    ) -> dict[str, Any]:
        """A user presses an inline button with ``data`` under the bot's message ``message_id``.

        If the stub never sent that message, a placeholder is created so that the
        bot can edit it afterwards.
        """
        chat_id = chat_id if chat_id is not None else user_id
        query_id = str(next(self._other_ids) + 10**15)
        self._callback_ids.add(query_id)
        query = {
            "id": query_id,
            "from": self.user(user_id),
            "chat_instance": str(abs(chat_id) * 7 + 1),
            "data": data,
            "message": self._bot_message(chat_id, message_id),
        }
        return self.add_update({"callback_query": query})

    def add_my_chat_member(
        self,
        chat_id: int = DEFAULT_GROUP_ID,
        new_status: str = "member",
        user_id: int = DEFAULT_USER_ID,
        old_status: str | None = None,
    ) -> dict[str, Any]:
        """The bot's own membership changes, e.g. a user adds it to a group.

        Also keeps ``admins`` consistent so a later getChatMember agrees with the update.
        """
        if old_status is None:
            old_status = "member" if new_status in ("left", "kicked") else "left"
        bot_admins = self.admins.setdefault(chat_id, set())
        if new_status in ("administrator", "creator"):
            bot_admins.add(BOT_ID)
        else:
            bot_admins.discard(BOT_ID)
        update = {
            "chat": self.chat(chat_id),
            "from": self.user(user_id),
            "date": _now(),
            "old_chat_member": _member_dict(self.bot_user, old_status),
            "new_chat_member": _member_dict(self.bot_user, new_status),
        }
        return self.add_update({"my_chat_member": update})

    def user(self, user_id: int) -> dict[str, Any]:
        """The user dict for ``user_id``; edit ``api.users[user_id]`` to change names."""
        if user_id == BOT_ID:
            return self._public_bot_user()
        return self.users.setdefault(
            user_id,
            {
                "id": user_id,
                "is_bot": False,
                "first_name": f"User{user_id}",
                "username": f"user{user_id}",
                "language_code": "en",
            },
        )

    def chat(self, chat_id: int | str) -> dict[str, Any]:
        """The chat dict for ``chat_id``: private if positive, supergroup if -100..., else group."""
        if chat_id not in self.chats:
            self.chats[chat_id] = _default_chat(chat_id, self.users.get(chat_id))  # type: ignore[arg-type]
        return self.chats[chat_id]  # type: ignore[index]

    # ------------------------------------------------------------------ HTTP plumbing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """Record the call, apply a queued fault if any, then run the method handler."""
        method = request.match_info["method"]
        params = await _read_params(request)
        self.calls.append((method, params))
        self._notify()

        fault = self._pop_fault(method)
        if fault is not None:
            response = await self._apply_fault(fault, request)
            if response is not None:
                return response

        handler = self._handlers.get(method.lower())
        if handler is None:
            return BotAPIError(404, "Not Found: method not found").response()
        try:
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except BotAPIError as error:
            return error.response()
        self._notify()  # state changed (e.g. a delivered message): wake wait_for_sent
        return web.json_response({"ok": True, "result": result})

    def _pop_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method.lower())
        return queue.popleft() if queue else None

    async def _apply_fault(self, fault: _Fault, request: web.Request) -> web.StreamResponse | None:
        """Return the faulty response, or None to go on with normal processing."""
        if fault.kind == "timeout":
            await self._wait_until(lambda: self._closing, fault.delay)
            if fault.deliver and not self._closing:
                return None
            return _drop_connection(request)
        if fault.kind == "close":
            return _drop_connection(request)
        return fault.error().response()

    def _notify(self) -> None:
        """Wake everyone waiting in ``_wait_until``; a fresh Event avoids clear() races."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` holds; False on timeout.

        Re-checks on every state change of the stub, and also every _RECHECK_INTERVAL,
        because a test's predicate may look at state outside the stub (say, a list
        that the bot's error handler appends to).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return condition()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, _RECHECK_INTERVAL))
        return True

    # ------------------------------------------------------------------ Bot API methods

    def _register_handlers(self) -> None:
        # What python-telegram-bot calls on the bot's behalf, and what the bot itself sends.
        self._handlers = {
            "getme": lambda params: dict(self.bot_user),
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setmycommands": self._set_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "answercallbackquery": self._answer_callback_query,
            "leavechat": self._leave_chat,
            "getchatmember": self._get_chat_member,
        }

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        """Long polling: answer at once if updates are pending, else wait up to ``timeout``."""
        self._confirm(int(params.get("offset") or 0))
        timeout = float(params.get("timeout") or 0)
        await self._wait_until(lambda: bool(self._pending), timeout)
        return self._pending[: int(params.get("limit") or 100)]

    def _confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last -offset ones."""
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _delete_webhook(self, params: Params) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _set_my_commands(self, params: Params) -> bool:
        self.commands = list(params.get("commands") or [])
        return True

    def _send_message(self, params: Params) -> dict[str, Any]:
        chat_id = _chat_id(params)
        self._check_not_blocked(chat_id)
        text = str(params.get("text", ""))
        if not text.strip():
            raise BotAPIError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise BotAPIError(400, "Bad Request: message is too long")
        message = self._new_message(self.chat(chat_id), self._public_bot_user(), text)
        if params.get("entities"):
            message["entities"] = params["entities"]
        _set_inline_markup(message, params.get("reply_markup"))
        reply_to = (params.get("reply_parameters") or {}).get("message_id") or params.get(
            "reply_to_message_id"
        )
        if reply_to:
            message["reply_to_message"] = self._known_message(chat_id, int(reply_to))
        key = (chat_id, message["message_id"])
        self._messages[key] = message
        self._delivered.append((params, key))
        return copy.deepcopy(message)

    def _edit_message_text(self, params: Params) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable_message(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise BotAPIError(400, "Bad Request: message text is empty")
        return self._apply_edit(message, text=text, reply_markup=params.get("reply_markup"))

    def _editable_message(self, params: Params) -> dict[str, Any]:
        message = self._messages.get((_chat_id(params), int(params.get("message_id") or 0)))
        if message is None:
            raise BotAPIError(400, "Bad Request: message to edit not found")
        return message

    @staticmethod
    def _apply_edit(message: dict[str, Any], text: str, reply_markup: Any) -> dict[str, Any]:
        """Telegram refuses no-op edits, and an edit without reply_markup removes the keyboard."""
        edited = {k: v for k, v in message.items() if k not in ("reply_markup", "entities")}
        edited["text"] = text
        _set_inline_markup(edited, reply_markup)
        if edited.get("text") == message.get("text") and edited.get("reply_markup") == message.get(
            "reply_markup"
        ):
            raise BotAPIError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edited["edit_date"] = _now()
        message.clear()
        message.update(edited)
        return copy.deepcopy(message)

    def _answer_callback_query(self, params: Params) -> bool:
        if str(params.get("callback_query_id")) not in self._callback_ids:
            raise BotAPIError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return True

    def _leave_chat(self, params: Params) -> bool:
        self.left_chats.add(_chat_id(params))
        return True

    def _get_chat_member(self, params: Params) -> dict[str, Any]:
        chat_id, user_id = _chat_id(params), int(params["user_id"])
        status = "administrator" if user_id in self.admins.get(chat_id, set()) else "member"  # type: ignore[arg-type]
        return _member_dict(self.user(user_id), status)

    # ------------------------------------------------------------------ message helpers

    def _check_not_blocked(self, chat_id: int | str) -> None:
        if chat_id in self.forbidden_chats:
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")

    def _public_bot_user(self) -> dict[str, Any]:
        """The bot as it appears in ``from`` fields (getMe-only capabilities stripped)."""
        return {key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")}

    def _new_message(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str
    ) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "from": dict(sender),
            "chat": dict(chat),
            "date": _now(),
            "text": text,
        }

    def _incoming_message(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str
    ) -> dict[str, Any]:
        message = self._new_message(chat, sender, text)
        entities = compute_entities(text)
        if entities:
            message["entities"] = entities
        return message

    def _known_message(self, chat_id: int | str, message_id: int) -> dict[str, Any]:
        """A message for reply_to_message: the stored one if known, else a minimal stand-in."""
        message = self._messages.get((chat_id, message_id))
        if message is not None:
            return {k: v for k, v in copy.deepcopy(message).items() if k != "reply_to_message"}
        return {"message_id": message_id, "chat": dict(self.chat(chat_id)), "date": _now()}

    def _bot_message(self, chat_id: int | str, message_id: int) -> dict[str, Any]:
        """The bot's message ``message_id`` (created as a placeholder if the stub never sent it)."""
        key = (chat_id, message_id)
        if key not in self._messages:
            placeholder = self._new_message(
                self.chat(chat_id), self._public_bot_user(), "(earlier bot message)"
            )
            placeholder["message_id"] = message_id
            self._messages[key] = placeholder
        return self._known_message(chat_id, message_id)


# ---------------------------------------------------------------------- module helpers


def _now() -> int:
    return int(time.time())


def _default_chat(chat_id: int | str, user: dict[str, Any] | None) -> dict[str, Any]:
    if chat_id > 0:
        user = user or {"first_name": f"User{chat_id}", "username": f"user{chat_id}"}
        return {
            "id": chat_id,
            "type": "private",
            "first_name": user["first_name"],
            "username": user.get("username"),
        }
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": f"Test group {chat_id}"}


def _member_dict(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A ChatMember of the given status with the fields PTB requires for it."""
    member: dict[str, Any] = {"status": status, "user": dict(user)}
    if status == "administrator":
        member.update(_ADMIN_RIGHTS)
    elif status == "creator":
        member["is_anonymous"] = False
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _set_inline_markup(message: dict[str, Any], reply_markup: Any) -> None:
    """Telegram only echoes inline keyboards back in the Message object."""
    if isinstance(reply_markup, dict) and "inline_keyboard" in reply_markup:
        message["reply_markup"] = reply_markup


def _chat_id(params: Params) -> int | str:
    """chat_id as int (or "@username"); missing or malformed is Telegram's "chat not found"."""
    value = params.get("chat_id")
    if isinstance(value, bool) or value is None or value == "":
        raise BotAPIError(400, "Bad Request: chat not found")
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BotAPIError(400, "Bad Request: chat not found") from None


async def _read_params(request: web.Request) -> Params:
    """Query string and form fields (PTB posts form-encoded), decoded to Python values."""
    params: Params = {key: _decode_form_value(key, value) for key, value in request.query.items()}
    if request.body_exists:
        form = await request.post()
        params.update({key: _decode_form_value(key, str(value)) for key, value in form.items()})
    return params


def _decode_form_value(key: str, value: str) -> Any:
    """PTB JSON-encodes every non-string parameter; undo that, but leave text fields alone."""
    if key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _drop_connection(request: web.Request) -> web.Response:
    """Close the socket without an answer; the client sees a protocol/connection error."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never reaches the client
