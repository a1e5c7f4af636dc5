"""The `paperbot` command line on a real SQLite file."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import FIXTURES


def run(db_path, *args, input=None):
    result = CliRunner().invoke(
        cli, ["--db", str(db_path), *args], input=input, catch_exceptions=False
    )
    return result


def test_first_question_on_an_empty_database_uses_the_bundled_collection(db_path):
    result = run(db_path, "ask", "remote sensing images with captions", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["query"] == "remote sensing images with captions"
    assert "Remote Sensing" in data["results"][0]["title"]
    assert json.loads(run(db_path, "stats", "--json").output)["papers"] == 91


def test_import_counts_and_idempotence(db_path):
    first = run(db_path, "import", str(FIXTURES / "arxiv_v1.atom"), str(FIXTURES / "hf_daily.json"))
    assert first.exit_code == 0
    assert "total: 3 new, 1 updated, 0 unchanged, 0 refused" in first.output
    again = run(db_path, "import", "--json", str(FIXTURES / "hf_daily.json"))
    assert json.loads(again.output)["unchanged"] == 2


def test_refused_file_is_named_and_exit_code_is_nonzero(db_path, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('[{"paper": {"id": "2504.1", "title": "T", "summary": ')
    result = run(db_path, "import", str(bad), str(FIXTURES / "hf_paper.json"))
    assert result.exit_code == 1
    assert "broken.json: refused: broken JSON at line 1" in result.output
    assert "1 new" in result.output and "1 refused" in result.output


def test_imported_paper_is_answerable_right_away(db_path):
    run(db_path, "ask", "warm up")  # seeds and builds the index
    run(db_path, "import", str(FIXTURES / "hf_daily.json"))
    data = json.loads(run(db_path, "ask", "ice sheets melting satellite", "--json").output)
    assert data["results"][0]["id"] == "2504.08385"
    assert data["results"][0]["url"] == "https://huggingface.co/papers/2504.08385"


def test_export_is_jsonl_with_contract_fields(db_path):
    lines = run(db_path, "export").output.splitlines()
    assert len(lines) == 91
    first = json.loads(lines[0])
    assert {
        "id",
        "arxiv_id",
        "title",
        "abstract",
        "authors",
        "published",
        "added_at",
        "source",
        "links",
    } <= first.keys()


def test_ask_reads_questions_from_stdin(db_path):
    result = run(db_path, "ask", "-", input="remote sensing\nqwxz plmk\n")
    objs = [json.loads(line) for line in result.output.splitlines()]
    assert [o["query"] for o in objs] == ["remote sensing", "qwxz plmk"]
    assert objs[0]["results"] and objs[1]["results"] == []


def test_repo_without_links_says_so(db_path):
    result = run(db_path, "repo", "CroCo")
    assert "no code link in the abstract" in result.output


def test_topic_and_similar(db_path):
    topic = json.loads(
        run(db_path, "topic", "remote sensing", "--limit", "2", "--page", "2", "--json").output
    )
    assert topic["offset"] == 2 and len(topic["results"]) == 2
    pid = topic["results"][0]["id"]
    similar = json.loads(run(db_path, "similar", pid, "--json").output)
    assert pid not in [r["id"] for r in similar["results"]]


def test_fetch_command_with_a_local_feed(db_path):
    from tests.feedserver import FeedServer

    with FeedServer() as server:
        url = server.route("/daily", (FIXTURES / "hf_daily.json").read_bytes())
        result = run(db_path, "fetch", "--source", "hf", "--url", url)
        assert result.exit_code == 0
        assert ": 2 new, 0 updated, 0 unchanged" in result.output
        server.route("/daily", b"<html>oops", status=502)
        failed = run(db_path, "fetch", "--source", "hf", "--url", url)
    assert failed.exit_code == 1
    assert "failed, nothing changed: HTTP 502" in failed.output


def test_fetch_url_needs_a_source(db_path):
    result = CliRunner().invoke(
        cli, ["--db", str(db_path), "fetch", "--url", "http://127.0.0.1:9/x"]
    )
    assert result.exit_code == 2 and "--source" in result.output


def test_push_dry_run_lists_what_each_chat_would_get(db_path):
    from store.collection import db as store_db

    run(db_path, "stats")
    db = store_db.open_db(db_path)
    store_db.subscribe(db, -5)
    db.close()
    run(db_path, "import", str(FIXTURES / "hf_daily.json"))
    result = run(db_path, "push", "--dry-run")
    assert "chat -5: 2 papers in 1 messages" in result.output
    assert "would push: 1 chats: 2 papers" in result.output
    assert "chat -5: 2 papers" in run(db_path, "push", "--dry-run").output  # nothing recorded


def test_push_without_token_is_a_one_line_error(db_path, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["--db", str(db_path), "push"])
    assert result.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in result.output


def test_backup_command_into_a_folder(db_path, tmp_path):
    run(db_path, "stats")
    result = run(db_path, "backup", str(tmp_path / "backups") + "/")
    assert result.exit_code == 0
    [copy] = (tmp_path / "backups").iterdir()
    assert json.loads(run(copy, "stats", "--json").output)["papers"] == 91
