"""Adding papers by arXiv id or link, and filling library abstracts, against a real HTTP server on
127.0.0.1 that answers like the arXiv API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from store.collection import db as store_db
from store.collection.adding import (
    ADDED,
    FAILED,
    NOT_FOUND,
    PRESENT,
    UNRECOGNISED,
    UPDATED,
    add_papers,
    fill_missing_abstracts,
)
from store.collection.importers import parse_text
from store.collection.importers.fetch import USER_AGENT, Fetcher
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = FIXTURES / "library"


def atom(*entries: tuple[str, str, str]) -> str:
    """An arXiv API answer with one entry per (id with version, title, abstract)."""
    body = "".join(
        f"""<entry><id>http://arxiv.org/abs/{pid}</id><published>2025-04-11T09:00:00Z</published>
        <title>{title}</title><summary>{summary}</summary>
        <author><name>Ada Lovelace</name></author><category term="cs.CV"/></entry>"""
        for pid, title, summary in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xmlns:arxiv="http://arxiv.org/schemas/atom"><title>arXiv Query</title>{body}</feed>'
    )


CLIP = (
    "2103.00020v1",
    "Learning Transferable Visual Models From Natural Language Supervision",
    "We learn image representations from natural language supervision on 400 million pairs.",
)
OLD = (
    "cs/0112017v1",
    "An Old-Style Paper About Text Retrieval",
    "We index documents with inverted files and rank them by term weights.",
)
MORAINE = (
    "2403.01234v2",
    "Moraine: Reading Glacial Landforms from Aerial Photographs",
    "We detect moraines in aerial photographs with a vision transformer.",
)
GLACIER_HF = (
    "2504.09999v1",
    "Lighthouse: Long-Video Question Answering with Memory Tokens",
    "We answer questions about hour-long videos with a small set of memory tokens.",
)
TIDEPOOL = (
    "2504.07777v1",
    "Tidepool: Counting Marine Life in Underwater Video",
    "We count fish and other marine life in underwater video with a detector.",
)


@pytest.fixture
def server():
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def fetcher():
    f = Fetcher(retries=1, backoff=0.01, arxiv_interval=0.05, timeout=2.0)
    yield f
    f.close()


def add(db, server, fetcher, *refs, by="ada", where="-1001"):
    url = server.url("/api/query")
    return add_papers(db, list(refs), added_by=by, added_in=where, fetcher=fetcher, arxiv_url=url)


def test_every_kind_of_reference_in_one_request(fresh_db, server, fetcher):
    server.route("/api/query", atom(CLIP, OLD, MORAINE, GLACIER_HF, TIDEPOOL))
    report = add(
        fresh_db,
        server,
        fetcher,
        "2103.00020",
        "https://arxiv.org/abs/cs/0112017",
        "https://arxiv.org/pdf/2403.01234v2.pdf",
        "https://huggingface.co/papers/2504.09999",
        "10.48550/arXiv.2504.07777",
        "not-a-paper",
    )
    assert [o.status for o in report.outcomes] == [ADDED] * 5 + [UNRECOGNISED]
    assert report.lines()[0] == f"added: {CLIP[1]} [2103.00020]"
    assert report.lines()[-1] == "not an arXiv id, arXiv/HF link or arXiv DOI: not-a-paper"
    [(path, query, headers)] = server.requests  # ONE request for every paper
    assert path == "/api/query" and headers["User-Agent"] == USER_AGENT
    assert query["id_list"] == ["2103.00020,cs/0112017,2403.01234v2,2504.09999,2504.07777"]
    assert store_db.paper_count(fresh_db) == 5
    assert store_db.get_paper(fresh_db, "cs/0112017")["title"] == OLD[1]
    team = store_db.team_paper_ids(fresh_db, added_in="-1001")
    assert set(team) == {"2103.00020", "cs/0112017", "2403.01234", "2504.09999", "2504.07777"}
    provenance = store_db.team_provenance(fresh_db, "2103.00020")
    assert (provenance["added_by"], provenance["added_in"], provenance["via"]) == (
        "ada",
        "-1001",
        "add",
    )
    assert store_db.team_paper_ids(fresh_db, added_in="-42") == []
    assert store_db.team_paper_ids(fresh_db, added_by="ada") == team


def test_an_unknown_id_is_not_found_and_the_others_are_added(fresh_db, server, fetcher):
    server.route("/api/query", atom(CLIP))  # arXiv leaves out the id it does not know
    report = add(fresh_db, server, fetcher, "2103.00020", "2501.99999")
    assert [o.status for o in report.outcomes] == [ADDED, NOT_FOUND]
    assert report.lines()[1] == "not found on arXiv: 2501.99999"
    assert not report.ok
    assert store_db.paper_count(fresh_db) == 1


def test_an_arxiv_error_answer_changes_nothing(fresh_db, server, fetcher):
    server.route("/api/query", (FIXTURES / "arxiv_error.atom").read_bytes())
    report = add(fresh_db, server, fetcher, "2501.99999")
    [outcome] = report.outcomes
    assert outcome.status == NOT_FOUND
    assert "arXiv answered an error: incorrect id format" in str(outcome)
    assert store_db.paper_count(fresh_db) == 0
    assert store_db.team_paper_ids(fresh_db) == []


def test_arxiv_unreachable_is_an_outcome_not_a_crash(fresh_db, server, fetcher):
    server.route("/api/query", b"overloaded", status=503)
    [outcome] = add(fresh_db, server, fetcher, "2103.00020").outcomes
    assert outcome.status == FAILED and "HTTP 503" in str(outcome)
    assert len(server.requests) == 2  # retried once, as the fetcher is told to
    assert store_db.paper_count(fresh_db) == 0


def test_a_paper_stored_in_an_older_version_is_updated(fresh_db, server, fetcher):
    store_db.upsert_papers(
        fresh_db,
        parse_text((FIXTURES / "arxiv_v1.atom").read_text()),
    )
    server.route("/api/query", (FIXTURES / "arxiv_v2.atom").read_bytes())
    report = add(fresh_db, server, fetcher, "arxiv.org/abs/2504.08385")
    [outcome] = report.outcomes
    assert (outcome.status, outcome.version, outcome.previous_version) == (UPDATED, 2, 1)
    assert str(outcome).startswith("already in the collection, updated to v2 (was v1): Glacier")
    paper = store_db.get_paper(fresh_db, "2504.08385")
    assert "Second version" in paper["abstract"]
    assert store_db.paper_count(fresh_db) == 2
    assert store_db.team_paper_ids(fresh_db) == ["2504.08385"]  # now the team's too
    again = add(fresh_db, server, fetcher, "2504.08385", by="bob")
    assert again.outcomes[0].status == PRESENT
    assert store_db.team_provenance(fresh_db, "2504.08385")["added_by"] == "ada"  # first adder


def test_missing_abstracts_are_filled_from_arxiv(fresh_db, server, fetcher):
    store_db.upsert_papers(
        fresh_db,
        parse_text((LIBRARY / "team.bib").read_text()),
    )
    assert set(store_db.without_abstract(fresh_db)) == {"2504.08385", "2504.09999"}
    server.route("/api/query", atom(GLACIER_HF))  # arXiv knows Lighthouse only
    report = fill_missing_abstracts(fresh_db, fetcher=fetcher, arxiv_url=server.url("/api/query"))
    assert (report.filled, report.not_found) == (1, ["2504.08385"])
    assert server.requests[0][1]["id_list"] == ["2504.08385,2504.09999"]
    assert store_db.get_paper(fresh_db, "2504.09999")["abstract"] == GLACIER_HF[2]
    assert set(store_db.without_abstract(fresh_db)) == {"2504.08385"}


def test_missing_abstracts_go_100_ids_to_a_request(fresh_db, server, fetcher):
    lines = "".join(
        f"@misc{{p{n}, title = {{Paper number {n}}}, eprint = {{2401.{n:05d}}}, "
        "archivePrefix = {arXiv}}\n"
        for n in range(1, 151)
    )
    store_db.upsert_papers(fresh_db, parse_text(lines))
    server.route("/api/query", atom(("2401.00007v1", "Paper number 7", "Seven is found.")))
    report = fill_missing_abstracts(fresh_db, fetcher=fetcher, arxiv_url=server.url("/api/query"))
    assert [len(q["id_list"][0].split(",")) for _, q, _ in server.requests] == [100, 50]
    assert (report.filled, len(report.not_found)) == (1, 149)


def cli_run(db_path, *args, env=None):
    return CliRunner().invoke(
        cli, ["--db", str(db_path), *args], env=env or {}, catch_exceptions=False
    )


def test_add_command_in_a_real_process_then_the_paper_answers(db_path, server):
    server.route("/api/query", (FIXTURES / "arxiv_v1.atom").read_bytes())
    env = {**os.environ, "PAPERBOT_ARXIV_URL": server.url("/api/query")}
    cmd = [sys.executable, "-m", "bot.cli", "--db", str(db_path), "add"]
    proc = subprocess.run(
        [*cmd, "https://arxiv.org/abs/2504.08385v1", "2504.07777", "9912.99999"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # one of them was not found
    assert proc.stdout.splitlines() == [
        "added: Glacier: Tracking Ice Sheets with Vision-Language Models [2504.08385]",
        "added: Tidepool: Counting Marine Life in Underwater Video [2504.07777]",
        "not found on arXiv: 9912.99999",
    ]
    assert server.requests[0][2]["User-Agent"] == USER_AGENT
    again = subprocess.run(
        [*cmd, "2504.08385", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["results"][0]["status"] == PRESENT
    # The index caught up: the bundled collection plus the two papers, answerable right away.
    answer = json.loads(cli_run(db_path, "ask", "ice sheets satellite images", "--json").output)
    assert answer["results"][0]["id"] == "2504.08385"
    stats = json.loads(cli_run(db_path, "stats", "--json").output)
    assert (stats["papers"], stats["team_papers"], stats["feed_papers"]) == (93, 2, 0)
    assert stats["demo_papers"] == 91


def test_import_resolve_and_add_missing_abstracts_commands(db_path, server):
    server.route("/api/query", atom(GLACIER_HF))
    env = {"PAPERBOT_ARXIV_URL": server.url("/api/query")}
    result = cli_run(db_path, "import", "--resolve", str(LIBRARY / "team.bib"), env=env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"{LIBRARY / 'team.bib'}: 3 new, 0 updated, 0 unchanged, 1 no abstract "
        "(1 abstracts filled from arXiv)"
    )
    assert server.requests[0][1]["id_list"] == ["2504.08385,2504.09999"]
    server.route("/api/query", (FIXTURES / "arxiv_v1.atom").read_bytes())
    filled = cli_run(db_path, "add", "--missing-abstracts", env=env)
    assert filled.exit_code == 0, filled.output
    assert filled.output.strip() == "abstracts filled from arXiv: 1"
    stats = json.loads(cli_run(db_path, "stats", "--json").output)
    assert stats["papers_without_abstract"] == 0
    answer = json.loads(cli_run(db_path, "ask", "glacier satellite images ice", "--json").output)
    assert answer["results"][0]["id"] == "2504.08385"


def test_an_add_of_250_ids_asks_100_at_a_time_and_reports_every_one(fresh_db, server, fetcher):
    """`paperbot add` takes any number: 250 ids are 3 requests of at most 100, as the API advises
    (main sent all 250 in one), and every argument gets its line."""
    ids = [f"2401.{n:05d}" for n in range(1, 251)]
    server.route("/api/query", atom(("2401.00207v1", "Paper number 207", "Found in batch three.")))
    report = add_papers(
        fresh_db,
        ids,
        added_by="t",
        added_in="cli",
        fetcher=fetcher,
        arxiv_url=server.url("/api/query"),
    )
    assert [q["id_list"][0].split(",") for _, q, _ in server.requests] == [
        ids[:100],
        ids[100:200],
        ids[200:],
    ]
    assert [o.ref for o in report.outcomes] == ids
    assert (report.count(ADDED), report.count(NOT_FOUND)) == (1, 249)
    assert report.outcomes[206].title == "Paper number 207"
