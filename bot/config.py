"""Settings read once from the environment, and the log filter that keeps the bot token secret.

The bot's settings are read here, once (deploy/.env.example lists them all; PAPERBOT_DB is also
honoured by store.collection.db for the CLI). Bad values raise `ConfigError` with a one-line message that
never holds the token.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.collection.importers.fetch import DEFAULT_ARXIV_QUERY

TOKEN_RE = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # Telegram's rule for setWebhook secret_token
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ADD_POLICIES = ("members", "admins")  # PAPERBOT_ADD: who may add papers from a chat
MASK = "***"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line and safe to print."""


@dataclass(frozen=True)
class FeedSettings:
    """Where the daily fetch reads from; needs no token, so `paperbot fetch` reads it alone."""

    sources: tuple[str, ...] = ("hf", "arxiv")
    hf_url: str | None = None  # None: Hugging Face's daily-papers API
    arxiv_url: str | None = None  # None: the arXiv API
    arxiv_query: str = DEFAULT_ARXIV_QUERY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FeedSettings:
        """PAPERBOT_SOURCES, PAPERBOT_HF_URL, PAPERBOT_ARXIV_URL, PAPERBOT_ARXIV_QUERY."""
        env = os.environ if environ is None else environ
        raw = env.get("PAPERBOT_SOURCES", "").strip() or "hf,arxiv"
        sources = tuple(s.strip() for s in raw.split(",") if s.strip())
        unknown = set(sources) - {"hf", "arxiv"}
        if unknown:
            raise ConfigError(
                f"PAPERBOT_SOURCES may name hf and arxiv, not {', '.join(sorted(unknown))}"
            )
        return cls(
            sources=sources,
            hf_url=_api_url_named("PAPERBOT_HF_URL", env.get("PAPERBOT_HF_URL", "").strip()),
            arxiv_url=_api_url_named(
                "PAPERBOT_ARXIV_URL", env.get("PAPERBOT_ARXIV_URL", "").strip()
            ),
            arxiv_query=env.get("PAPERBOT_ARXIV_QUERY", "").strip() or DEFAULT_ARXIV_QUERY,
        )


@dataclass(frozen=True)
class Settings:
    """Everything the bot is configured with; built by `from_env`, never mutated."""

    token: str = field(repr=False)
    api_url: str | None = None  # python-telegram-bot's base_url, e.g. http://127.0.0.1:8081/bot
    db_path: Path | None = (
        None  # None: store.collection.db's default (PAPERBOT_DB or the user data dir)
    )
    webhook_secret: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    allowed_chats: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()
    push_time: time | None = None
    timezone: str = "UTC"
    rate_limit: int = 10  # questions per user per minute; 0 = no limit
    add_policy: str = "members"  # who may /add: anyone in an allowed chat, or its admins
    feeds: FeedSettings = field(default_factory=lambda: FeedSettings())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raises ConfigError on the first bad one."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, "").strip()

        db = get("PAPERBOT_DB")
        return cls(
            token=validate_token(get("TELEGRAM_BOT_TOKEN")),
            api_url=_api_url(get("TELEGRAM_API_URL")),
            db_path=Path(db) if db else None,
            webhook_secret=validate_secret(get("PAPERBOT_WEBHOOK_SECRET")),
            log_level=_log_level(get("PAPERBOT_LOG_LEVEL")),
            allowed_chats=_ids("PAPERBOT_ALLOWED_CHATS", get("PAPERBOT_ALLOWED_CHATS")),
            admins=_ids("PAPERBOT_ADMINS", get("PAPERBOT_ADMINS")),
            push_time=_push_time(get("PAPERBOT_PUSH_TIME")),
            timezone=_timezone(get("PAPERBOT_TIMEZONE")),
            rate_limit=_count("PAPERBOT_RATE_LIMIT", get("PAPERBOT_RATE_LIMIT"), default=10),
            add_policy=_add_policy(get("PAPERBOT_ADD")),
            feeds=FeedSettings.from_env(env),
        )

    @property
    def base_file_url(self) -> str | None:
        """The file-download URL matching `api_url` (a self-hosted server serves both)."""
        if not self.api_url or "/bot" not in self.api_url:
            return None
        head, _, tail = self.api_url.rpartition("/bot")
        return f"{head}/file/bot{tail}"


def validate_token(token: str) -> str:
    """The token if it looks like BotFather's `<bot id>:<secret>`; the error never echoes it."""
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set (get a token from @BotFather)")
    if not TOKEN_RE.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed: expected <digits>:<secret> as given by @BotFather"
        )
    return token


def _api_url(value: str) -> str | None:
    return _api_url_named("TELEGRAM_API_URL", value)


def _api_url_named(name: str, value: str) -> str | None:
    if not value:
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def validate_secret(value: str | None) -> str | None:
    """A webhook secret token as Telegram accepts it, or None when unset."""
    if value and not SECRET_RE.match(value):
        raise ConfigError("PAPERBOT_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
    return value or None


def _log_level(value: str) -> str:
    level = (value or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"PAPERBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return level


def _ids(name: str, value: str) -> frozenset[int]:
    """Comma- or space-separated Telegram ids (chat ids may be negative)."""
    try:
        return frozenset(int(part) for part in re.split(r"[,\s]+", value) if part)
    except ValueError:
        raise ConfigError(f"{name} must be a comma-separated list of numeric ids") from None


def _push_time(value: str) -> time | None:
    if not value:
        return None
    match = re.match(r"^(\d{1,2}):(\d{2})$", value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"PAPERBOT_PUSH_TIME must be HH:MM (24-hour), got {value!r}")
    return time(int(match[1]), int(match[2]))


def _timezone(value: str) -> str:
    name = value or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PAPERBOT_TIMEZONE is not a known time zone: {name!r}") from None
    return name


def _add_policy(value: str) -> str:
    policy = (value or "members").lower()
    if policy not in ADD_POLICIES:
        raise ConfigError(f"PAPERBOT_ADD must be members or admins, got {value!r}")
    return policy


def _count(name: str, value: str, default: int = 0) -> int:
    if not value:
        return default
    if not (value.isascii() and value.isdigit()):  # "²" is a digit to str.isdigit, not to int
        raise ConfigError(f"{name} must be a whole number (0 = no limit), got {value!r}")
    return int(value)


# ---------------------------------------------------------------- secrets in logs


def mask(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced, keeping the public bot id for context."""
    if not secret or secret not in text:
        return text
    bot_id = secret.split(":", 1)[0]
    return text.replace(secret, f"{bot_id}:{MASK}")


class TokenFilter(logging.Filter):
    """Masks the token in every record: httpx and PTB errors put request URLs with it in logs."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked; the same for the traceback text."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let the handler report it as usual
            return True
        if self.token in message:
            record.msg, record.args = mask(message, self.token), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self.token)
        return True


# Loggers that speak on every turn of a background job ("Running job", "executed successfully"
# every 5 s from the idle bot): warnings only, unless PAPERBOT_LOG_LEVEL=DEBUG.
QUIET_LOGGERS = ("apscheduler", "telegram.ext.JobQueue")


def setup_logging(settings: Settings) -> None:
    """Log to stderr at the configured level, token masked on every handler, httpx quiet, the
    job scheduler quiet (a job that does work logs that work itself)."""
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=settings.log_level
    )
    install_token_filter(settings.token)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every URL, token included
    if settings.log_level != "DEBUG":
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def install_token_filter(token: str, logger: logging.Logger | None = None) -> TokenFilter:
    """Filter on handlers, not loggers: records propagated from child loggers skip logger filters."""
    token_filter = TokenFilter(token)
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, TokenFilter) for f in handler.filters):
            handler.addFilter(token_filter)
    return token_filter
