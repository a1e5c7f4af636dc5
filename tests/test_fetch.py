"""`fetch` against a real HTTP server on 127.0.0.1: new papers only, dedup, and failures that change nothing."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from store.collection import db as store_db
from store.collection.importers.fetch import USER_AGENT, Fetcher, fetch
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer


@pytest.fixture
def server():
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def fetcher():
    f = Fetcher(retries=1, backoff=0.01, arxiv_interval=0.2, timeout=0.4)
    yield f
    f.close()


def export(db):
    return list(store_db.iter_export(db))


def test_hf_fetch_adds_only_new_papers_and_asks_today_and_yesterday(seeded_db, server, fetcher):
    url = server.route("/daily", (FIXTURES / "hf_daily.json").read_bytes())
    first = fetch(seeded_db, fetcher, ("hf",), url=url, today=date(2025, 4, 14))
    assert [str(r) for r in first] == [
        "hf daily 2025-04-14: 2 new, 0 updated, 0 unchanged",
        "hf daily 2025-04-13: 0 new, 0 updated, 2 unchanged",
    ]
    assert [q["date"] for _, q, _ in server.requests] == [["2025-04-14"], ["2025-04-13"]]
    assert server.requests[0][2]["User-Agent"] == USER_AGENT
    again = fetch(seeded_db, fetcher, ("hf",), url=url, today=date(2025, 4, 14))
    assert sum(r.new for r in again) == 0
    assert store_db.paper_count(seeded_db) == 93


def test_arxiv_fetch_then_new_version_and_hf_copy_are_stored_once(fresh_db, server, fetcher):
    atom = server.route("/api/query", (FIXTURES / "arxiv_v1.atom").read_bytes())
    [result] = fetch(fresh_db, fetcher, ("arxiv",), url=atom, arxiv_query="cat:cs.CV")
    assert (result.new, result.error) == (2, None)
    assert server.requests[0][1]["search_query"] == ["cat:cs.CV"]
    server.route("/api/query", (FIXTURES / "arxiv_v2.atom").read_bytes())
    [result] = fetch(fresh_db, fetcher, ("arxiv",), url=atom)
    assert (result.new, result.updated) == (0, 1)
    hf = server.route("/hf", (FIXTURES / "hf_daily.json").read_bytes())
    fetch(fresh_db, fetcher, ("hf",), url=hf)
    assert store_db.paper_count(fresh_db) == 3
    assert store_db.get_paper(fresh_db, "2504.08385")["version"] == 2


def test_arxiv_requests_are_spaced(fresh_db, server):
    atom = server.route("/api/query", (FIXTURES / "arxiv_v1.atom").read_bytes())
    fetcher = Fetcher(retries=0, arxiv_interval=0.5)
    import time

    start = time.monotonic()
    fetcher.arxiv(atom, "q")
    fetcher.arxiv(atom, "q")
    assert time.monotonic() - start >= 0.5
    fetcher.close()


@pytest.mark.parametrize(
    ("status", "body", "delay", "reason"),
    [
        (500, b"oops", 0.0, "HTTP 500"),
        (200, (FIXTURES / "hf_daily.json").read_bytes()[:700], 0.0, "broken JSON"),
        (200, b"<html>maintenance</html>", 0.0, "not an Atom feed"),
        (200, b"[]", 1.0, "timed out"),
        (404, b"", 0.0, "HTTP 404"),
        (200, b"", 0.0, "empty response"),
        (302, b"", 0.0, "HTTP 302"),  # a redirect without Location is an error page
    ],
)
def test_bad_feed_changes_nothing_and_says_why(
    seeded_db, server, fetcher, status, body, delay, reason
):
    before = export(seeded_db)
    url = server.route("/bad", body, status=status, delay=delay)
    results = fetch(seeded_db, fetcher, ("hf",), url=url, today=date(2025, 4, 14))
    assert all(r.error and reason in r.error for r in results)
    assert str(results[0]).startswith("hf daily 2025-04-14: failed, nothing changed: ")
    assert export(seeded_db) == before


def test_server_errors_are_retried(fresh_db, server):
    url = server.route("/flaky", b"oops", status=503)
    fetcher = Fetcher(retries=2, backoff=0.01)
    with pytest.raises(Exception, match="HTTP 503"):
        fetcher.get(url)
    assert len(server.requests) == 3
    fetcher.close()


def test_huge_body_is_refused(fresh_db, server, monkeypatch):
    monkeypatch.setattr("store.collection.importers.fetch.MAX_BODY", 1000)
    url = server.route("/huge", b"[" + b" " * 5000 + b"]")
    [result, _] = fetch(fresh_db, Fetcher(retries=0, client=httpx.Client()), ("hf",), url=url)
    assert "over" in result.error and store_db.paper_count(fresh_db) == 0


def test_a_redirect_to_another_host_is_refused_and_the_same_host_followed(tmp_path):
    """`paperbot fetch` as a process: a feed on 127.0.0.2 answering 302 to 127.0.0.1 (another
    host name, as an attacker's redirect to a local service would be) fetches nothing there; a
    redirect to another path of the same host is followed."""
    from tests.processes import paperbot

    hf = (FIXTURES / "hf_daily.json").read_bytes()
    with FeedServer("127.0.0.1") as inside, FeedServer("127.0.0.2") as outside:
        target = inside.route("/secret", hf)
        outside.redirect("/api/daily", target)
        done = paperbot(
            tmp_path / "p.db", "fetch", "--source", "hf", "--url", outside.url("/api/daily")
        )
        assert done.returncode == 1
        assert "redirected to another host (127.0.0.1), refused" in done.stderr
        assert "Traceback" not in done.stderr
        assert not inside.requests  # never fetched
        outside.route("/moved", hf)
        outside.redirect("/api/daily", outside.url("/moved"), status=301)
        done = paperbot(
            tmp_path / "p.db", "fetch", "--source", "hf", "--url", outside.url("/api/daily")
        )
        assert done.returncode == 0, done.stderr
        assert "new" in done.stdout and not inside.requests


def test_the_default_arxiv_address_is_https():
    from store.collection.importers.fetch import ARXIV_URL

    assert ARXIV_URL.startswith("https://export.arxiv.org/")
