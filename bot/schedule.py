"""The daily job: fetch the feeds, then push digests, at each chat's time in its time zone.

Jobs live in memory only (PTB's JobQueue), so they are re-created at start-up from the database:
one job per distinct (time, time zone) among the subscriptions and the default.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import time
from zoneinfo import ZoneInfo

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import ContextTypes, Job, JobQueue

from bot.config import FeedSettings
from bot.push import push_all, summary
from store import db as store_db
from store.answers import Answers
from store.importers.fetch import FeedResult, Fetcher, fetch

log = logging.getLogger(__name__)

DEFAULT_TIME = time(8, 0)
JOB_PREFIX = "push:"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def fetch_all(
    answers: Answers, feeds: FeedSettings, fetcher: Fetcher | None = None
) -> list[FeedResult]:
    """Run every configured source (blocking: call it in a thread), then index what arrived."""
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    lines: list[FeedResult] = []
    try:
        for source in feeds.sources:
            url = feeds.hf_url if source == "hf" else feeds.arxiv_url
            with answers.store() as db:
                results = fetch(db, fetcher, (source,), url=url, arxiv_query=feeds.arxiv_query)
            lines += results
    finally:
        if own:
            fetcher.close()
    answers.refresh()
    return lines


def slot_of(sub: dict, default_time: time, default_tz: str) -> tuple[str, str]:
    """A subscription's (HH:MM, zone), falling back to the defaults."""
    return sub.get("push_time") or default_time.strftime("%H:%M"), sub.get("timezone") or default_tz


def schedule_pushes(
    job_queue: JobQueue, answers: Answers, push_time: time | None, timezone: str
) -> list[Job]:
    """(Re)create the daily jobs from the database: one per distinct slot, default slot always."""
    default_time = push_time or DEFAULT_TIME
    for job in job_queue.jobs():
        if job.name and job.name.startswith(JOB_PREFIX):
            job.schedule_removal()
    with answers.store() as db:
        subs = store_db.active_subscriptions(db)
    slots = {(default_time.strftime("%H:%M"), timezone)}
    slots |= {slot_of(sub, default_time, timezone) for sub in subs}
    jobs = []
    for hhmm, zone in sorted(slots):
        hour, minute = (int(x) for x in hhmm.split(":"))
        at = time(hour, minute, tzinfo=ZoneInfo(zone))
        jobs.append(
            job_queue.run_daily(
                daily_job,
                time=at,
                name=f"{JOB_PREFIX}{hhmm}:{zone}",
                data={"slot": (hhmm, zone), "default": (default_time, timezone)},
            )
        )
    return jobs


async def daily_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Fetch, then push to the chats whose slot this is."""
    answers: Answers = context.bot_data["answers"]
    feeds: FeedSettings = context.bot_data["settings"].feeds
    for result in await asyncio.to_thread(fetch_all, answers, feeds):
        log.log(logging.WARNING if result.error else logging.INFO, "fetch: %s", result)
    slot = context.job.data["slot"]
    default_time, default_tz = context.job.data["default"]
    with answers.store() as db:
        subs = store_db.active_subscriptions(db)
    chats = {s["chat_id"] for s in subs if slot_of(s, default_time, default_tz) == slot}
    outcomes = await push_all(answers, bot_sender(context.bot), chat_ids=chats)
    log.info("push: %s", summary(outcomes))


def bot_sender(bot):
    """A `Send` for push_all over a telegram Bot: HTML, no link previews."""

    async def send(chat_id: int, text: str):
        return await bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        )

    return send
