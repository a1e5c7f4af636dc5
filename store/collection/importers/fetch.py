"""Fetching feeds over HTTP (Hugging Face daily papers, the arXiv API) into the collection.

Network here, parsing in the format modules, writing in store.collection.db: each feed response is parsed whole
and written in one transaction, so an error page, a timeout or a truncated body changes nothing and
the next run simply tries again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx

from store.collection import db as store_db
from store.collection.importers import FormatError, parse_text

log = logging.getLogger(__name__)

USER_AGENT = "paperbot/0.1 (self-hosted research-group Telegram bot; python-httpx)"
HF_URL = "https://huggingface.co/api/daily_papers"
ARXIV_URL = "https://export.arxiv.org/api/query"
DEFAULT_ARXIV_QUERY = 'cat:cs.CV AND abs:"vision-language"'
MAX_BODY = 16 * 1024 * 1024
MAX_REDIRECTS = 5  # followed only to the same host name, never from https to http
ARXIV_INTERVAL = 3.0  # seconds between arXiv requests, as the API asks


class FeedError(RuntimeError):
    """A feed that could not be fetched or read; the message is one line."""


@dataclass
class FeedResult:
    """What one feed request did: counts, or the one-line reason it changed nothing."""

    name: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None

    def __str__(self) -> str:
        if self.error:
            return f"{self.name}: failed, nothing changed: {self.error}"
        return f"{self.name}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged"


class Fetcher:
    """HTTP with timeouts, a few retries with backoff, a clear User-Agent and arXiv's pacing."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        arxiv_interval: float = ARXIV_INTERVAL,
        timeout: float = 20.0,
    ) -> None:
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"User-Agent": USER_AGENT},
        )
        self.retries = retries
        self.backoff = backoff
        self.arxiv_interval = arxiv_interval
        self._last_arxiv = 0.0

    def get(self, url: str, params: dict[str, str | int] | None = None) -> str:
        """The body of a GET as text; retries server errors, 429 and network errors, then FeedError."""
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._get_once(url, params)
            except _Retryable as exc:  # retries are logged, the outcome is said once by the caller
                last = str(exc)
                log.info("feed %s: attempt %d failed: %s", url, attempt + 1, last)
        raise FeedError(last)

    def _get_once(self, url: str, params) -> str:
        """One GET, following redirects only to the URL's own host name (a feed redirected to
        127.0.0.1 or another site is refused, never fetched)."""
        start = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            body = self._request(url, params)
            if isinstance(body, bytearray):
                try:
                    return body.decode("utf-8")
                except UnicodeDecodeError:
                    raise FeedError("response is not UTF-8 text") from None
            if body.host != start.host:
                raise FeedError(f"redirected to another host ({body.host}), refused")
            if start.scheme == "https" and body.scheme != "https":
                raise FeedError(f"redirected from https to {body.scheme}, refused")
            url, params = str(body), None
        raise FeedError(f"more than {MAX_REDIRECTS} redirects, refused")

    def _request(self, url: str, params) -> bytearray | httpx.URL:
        """The body of one response, or where it redirects to."""
        try:
            with self.client.stream("GET", url, params=params, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    return response.url.join(response.headers["location"])
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 300:
                    raise FeedError(f"HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise FeedError(f"response over {MAX_BODY // (1024 * 1024)} MB, refused")
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except httpx.HTTPError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        return body

    def arxiv(self, url: str, query: str, max_results: int = 100) -> str:
        """One arXiv API page of the newest matches, at least `arxiv_interval` after the last."""
        params = {
            "search_query": query,
            "start": 0,
            "max_results": max_results,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
        }
        return self._arxiv_paced(url, params)

    def arxiv_ids(self, url: str, ids: list[str]) -> str:
        """The arXiv API's entries for these ids (with `vN` for a given version) in ONE request,
        as the API asks of clients looking up several papers; paced like every arXiv request."""
        params = {"id_list": ",".join(ids), "start": 0, "max_results": len(ids)}
        return self._arxiv_paced(url, params)

    def _arxiv_paced(self, url: str, params: dict[str, str | int]) -> str:
        """A GET at least `arxiv_interval` after this fetcher's previous arXiv request."""
        wait = self._last_arxiv + self.arxiv_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self.get(url, params)
        finally:
            self._last_arxiv = time.monotonic()

    def close(self) -> None:
        self.client.close()


class _Retryable(Exception):
    """A failure worth another try (5xx, 429, timeouts, dropped connections)."""


def hf_dates(today: date | None = None, days: int = 2) -> list[str]:
    """Today and the previous day(s), as the daily-papers API wants them."""
    today = today or datetime.now(UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days)]


def store_feed(db, name: str, text: str, source: str) -> FeedResult:
    """Parse a whole feed body and write it in one transaction."""
    if not text.strip():
        return FeedResult(name, error="empty response")
    try:
        records = parse_text(text, source=source)
        result = store_db.upsert_papers(db, records, name=name)
    except (FormatError, store_db.StoreError) as exc:
        return FeedResult(name, error=str(exc))
    return FeedResult(name, result.new, result.updated, result.unchanged)


def fetch(
    db,
    fetcher: Fetcher,
    sources: tuple[str, ...] = ("hf", "arxiv"),
    url: str | None = None,
    arxiv_query: str = DEFAULT_ARXIV_QUERY,
    today: date | None = None,
) -> list[FeedResult]:
    """Pull every chosen source into the collection; `url` replaces the chosen source's address."""
    results: list[FeedResult] = []
    if "hf" in sources:
        for day in hf_dates(today):
            name = f"hf daily {day}"
            try:
                text = fetcher.get(url or HF_URL, {"date": day})
            except FeedError as exc:
                results.append(FeedResult(name, error=str(exc)))
                continue
            results.append(store_feed(db, name, text, "hf"))
    if "arxiv" in sources:
        name = "arxiv query"
        try:
            text = fetcher.arxiv(url or ARXIV_URL, arxiv_query)
        except FeedError as exc:
            results.append(FeedResult(name, error=str(exc)))
        else:
            results.append(store_feed(db, name, text, "arxiv"))
    return results
