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
