"""Running a real Application against the Bot API stand-in, the way `paperbot run` does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from telegram.ext import Application


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """initialize, post_init (run_polling calls it), start, long polling; then stop it all."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


TOKEN = "123456:A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"  # well-formed, made up: the stand-in takes any


@contextlib.asynccontextmanager
async def running_bot(api, answers, **env: str) -> AsyncIterator[Application]:
    """The bot as `paperbot run` builds it (settings from these env values), polling the stand-in
    `api` (tests/botapi.py) until the block ends."""
    from bot.app import build_application
    from bot.config import Settings

    settings = Settings.from_env(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api.base_url, **env}
    )
    async with polling(build_application(settings, answers)) as app:
        yield app
