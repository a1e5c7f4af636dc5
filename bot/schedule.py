"""The daily job: fetch the feeds, then push digests, at each chat's time in its time zone.

Jobs live in memory only (PTB's JobQueue), so they are re-created at start-up from the database:
one job per distinct (time, time zone) among the subscriptions and the default.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from functools import partial
from zoneinfo import ZoneInfo

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import ContextTypes, Job, JobQueue

from bot.config import FeedSettings
from bot.push import PushBusy, push_all, summary
from store.answers.engine import Answers
from store.collection import db as store_db
from store.collection.importers import FormatError, parse_text
from store.collection.importers.fetch import (
    ARXIV_URL,
    HF_URL,
    FeedError,
    FeedResult,
    Fetcher,
    hf_dates,
)

log = logging.getLogger(__name__)

DEFAULT_TIME = time(8, 0)
JOB_PREFIX = "push:"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# A digest whose time passed while the scheduler slept (the clock jumped forward, the machine was
# suspended, the loop was busy) is sent at the scheduler's next wake-up (within the refresh job's
# minute), once; APScheduler's default skips it when over a second late.
LATE_RUN = {"misfire_grace_time": None, "coalesce": True}


@dataclass
class Download:
    """One feed request's body, or the one-line reason it failed (nothing stored yet)."""

    name: str
    source: str  # "hf" or "arxiv": the records' source label
    text: str | None = None
    error: str | None = None


def feed_requests(
    feeds: FeedSettings, fetcher: Fetcher, today: date | None = None
) -> list[tuple[str, str, Callable[[], str]]]:
    """(name, source, request) of every configured feed, in the order of PAPERBOT_SOURCES."""
    requests: list[tuple[str, str, Callable[[], str]]] = []
    for source in feeds.sources:
        if source == "hf":
            url = feeds.hf_url or HF_URL
            for day in hf_dates(today):
                requests.append((f"hf daily {day}", "hf", partial(fetcher.get, url, {"date": day})))
        else:
            get = partial(fetcher.arxiv, feeds.arxiv_url or ARXIV_URL, feeds.arxiv_query)
            requests.append(("arxiv query", "arxiv", get))
    return requests


def download(feeds: FeedSettings, fetcher: Fetcher, today: date | None = None) -> list[Download]:
    """Every feed's body: network only, no database and no lock (this is the slow part)."""
    out = []
    for name, source, get in feed_requests(feeds, fetcher, today):
        try:
            out.append(Download(name, source, text=get()))
        except FeedError as exc:
            out.append(Download(name, source, error=str(exc)))
    return out


def store_download(answers: Answers, got: Download) -> FeedResult:
    """Parse a body (outside the lock), then write it in one short transaction."""
    if got.error is not None or got.text is None:
        return FeedResult(got.name, error=got.error or "no body")
    try:
        records = parse_text(got.text, source=got.source)
        result = answers.import_records(records, name=got.name)
    except (FormatError, store_db.StoreError) as exc:
        return FeedResult(got.name, error=str(exc))
    return FeedResult(got.name, result.new, result.updated, result.unchanged)


def fetch_all(
    answers: Answers, feeds: FeedSettings, fetcher: Fetcher | None = None
) -> list[FeedResult]:
    """Download every feed, then store each (blocking: call it in a thread) and index the new
    papers. The engine's lock is taken only after the network: questions never wait on a feed."""
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    try:
        downloads = download(feeds, fetcher)
    finally:
        if own:
            fetcher.close()
    results = [store_download(answers, got) for got in downloads]
    answers.refresh()
    return results


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
    subs = answers.chats.active()
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
                job_kwargs=LATE_RUN,
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
    subs = answers.chats.active()
    chats = {s["chat_id"] for s in subs if slot_of(s, default_time, default_tz) == slot}
    try:
        outcomes = await push_all(answers, bot_sender(context.bot), chat_ids=chats)
    except PushBusy as exc:
        log.warning("push: %s", exc)
        return
    log.info("push: %s", summary(outcomes))


def bot_sender(bot):
    """A `Send` for push_all over a telegram Bot: HTML, no link previews."""

    async def send(chat_id: int, text: str):
        return await bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        )

    return send
