"""The CLI an operator expects, run as real processes on real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from store.collection import db as store_db
from tests.conftest import FIXTURES
from tests.processes import paperbot

BOM = "\ufeff"
LONG_WORDS = " ".join(f"quasicrystal{i % 50}" for i in range(4000))  # ~60,000 chars, no period


def jsonl(path, papers) -> str:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers))
    return str(path)


def team_papers(tmp_path) -> str:
    return jsonl(
        tmp_path / "team.jsonl",
        [
            {
                "id": "t1",
                "title": "Kelp Forest Mapping",
                "abstract": "We map kelp forests. Boats help.",
            },
            {"id": "t2", "title": "Tundra Lichen Survey", "abstract": "We count lichen on tundra."},
        ],
    )


def test_global_options_anywhere_help_and_version(tmp_path):
    db_path = tmp_path / "papers.db"
    paperbot(db_path, "stats")  # the demo collection: enough papers for the no-answer rule
    paperbot(db_path, "import", str(FIXTURES / "hf_daily.json"))
    question = "ice sheets melting satellite"
    after = paperbot(tmp_path / "other.db", "ask", "--db", str(db_path), question, "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["results"][0]["id"] == "2504.08385"
    assert not (tmp_path / "other.db").exists()  # the later --db wins, as on the command line
    for args in (["-h"], ["ask", "-h"], ["subscriptions", "add", "-h"]):
        shown = paperbot(db_path, *args)
        assert shown.returncode == 0 and shown.stdout.startswith("Usage: ")
    assert paperbot(db_path, "--version").stdout.strip() == "paperbot, version 0.1.0"


def test_paper_shows_one_paper_in_full_and_unknown_ids_say_so(tmp_path):
    db_path = tmp_path / "papers.db"
    paperbot(db_path, "import", str(FIXTURES / "hf_daily.json"))
    text = paperbot(db_path, "paper", "2504.08385").stdout
    assert text.startswith("Glacier") and "Ada Lovelace, Alan Turing" in text
    assert "id 2504.08385 · arXiv 2504.08385" in text and "71.2% accuracy" in text
    assert "code: https://github.com/example/glacier" in text
    data = json.loads(paperbot(db_path, "paper", "2504.08385", "--json").stdout)
    assert data["id"] == "2504.08385" and data["url"] and data["links"]
    for args in (["paper", "nope"], ["similar", "nope"]):
        missing = paperbot(db_path, *args)
        assert (missing.returncode, missing.stderr.strip()) == (1, "unknown id: nope")


def test_latest_lists_newest_first(tmp_path):
    db_path = tmp_path / "papers.db"
    paperbot(db_path, "import", str(FIXTURES / "hf_daily.json"))
    paperbot(db_path, "import", team_papers(tmp_path))
    data = json.loads(paperbot(db_path, "latest", "--limit", "2", "--json").stdout)
    assert [hit["id"] for hit in data["results"]] == ["t2", "t1"]
    text = paperbot(db_path, "latest").stdout
    assert text.index("Tundra Lichen Survey") < text.index("Glacier")


def test_subscriptions_list_add_remove_and_the_dry_run_digest(tmp_path):
    db_path = tmp_path / "papers.db"
    paperbot(db_path, "import", team_papers(tmp_path))
    added = paperbot(db_path, "subscriptions", "add", "-100123", "remote", "sensing")
    assert added.returncode == 0, added.stderr
    assert paperbot(db_path, "subscriptions", "add", "42").returncode == 0
    listed = json.loads(paperbot(db_path, "subscriptions", "list", "--json").stdout)
    assert [(s["chat_id"], s["keywords"]) for s in listed["subscriptions"]] == [
        (-100123, "remote sensing"),
        (42, ""),
    ]
    paperbot(db_path, "import", str(FIXTURES / "hf_daily.json"))
    dry = paperbot(db_path, "push", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    chat42 = dry.stdout[dry.stdout.index("chat 42:") :]
    assert "<b>New papers (2)</b>" in chat42 and "Glacier" in chat42 and "Lighthouse" in chat42
    assert "would push: 2 chats" in dry.stdout
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("select count(*) from ledger").fetchone()[0] == 0  # nothing recorded
    assert paperbot(db_path, "subscriptions", "remove", "42").returncode == 0
    gone = paperbot(db_path, "subscriptions", "remove", "42")
    assert (gone.returncode, gone.stderr.strip()) == (1, "chat 42 is not subscribed")
    assert "1 subscribed chats" in paperbot(db_path, "subscriptions", "list").stdout


def test_a_chat_id_that_is_no_telegram_id_is_one_line_and_exit_2(tmp_path):
    """23 digits overflowed SQLite's integers: main printed a 41-line OverflowError traceback."""
    db_path = tmp_path / "papers.db"
    bound = str(2**52)
    for command in ("add", "remove"):
        for value in ("99999999999999999999999", bound, f"-{bound}", "abc"):
            done = paperbot(db_path, "subscriptions", command, value)
            assert done.returncode == 2, done.stderr
            assert done.stderr.strip() == (
                f"Error: {value!r} is not a Telegram chat id (a whole number under 2**52 in size;"
                " a group's is negative)"
            )
    biggest = str(-(2**52 - 1))
    assert paperbot(db_path, "subscriptions", "add", biggest).returncode == 0
    listed = json.loads(paperbot(db_path, "subscriptions", "list", "--json").stdout)
    assert [s["chat_id"] for s in listed["subscriptions"]] == [int(biggest)]


def test_ask_cuts_a_huge_snippet_as_the_bot_does(tmp_path):
    db_path = tmp_path / "papers.db"
    huge = {"id": "h1", "title": "Quasicrystal Atlas", "abstract": LONG_WORDS}
    paperbot(db_path, "stats")  # the demo collection: enough papers for the no-answer rule
    paperbot(db_path, "import", jsonl(tmp_path / "huge.jsonl", [huge]))
    shown = paperbot(db_path, "ask", "quasicrystal7 quasicrystal9 atlas")
    assert "Quasicrystal Atlas" in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 1205  # the bot's 1200 + "…"
    assert "…" in shown.stdout


def test_demo_only_in_a_database_that_never_had_an_import(tmp_path):
    team = tmp_path / "team.db"
    paperbot(team, "import", team_papers(tmp_path))
    paperbot(team, "ask", "anything at all")  # used to add the 91 demo papers for good
    assert json.loads(paperbot(team, "stats", "--json").stdout)["papers"] == 2

    fresh = tmp_path / "fresh.db"
    assert "Flamingo" in paperbot(fresh, "ask", "visual language model few-shot").stdout
    claimed = {
        "title": "Flamingo: a Visual Language Model for Few-Shot Learning",
        "abstract": "Ours.",
    }
    imported = paperbot(
        fresh, "import", team_papers(tmp_path), jsonl(tmp_path / "f.jsonl", [claimed])
    )
    assert "note: 90 demo papers are still here; `paperbot remove --demo`" in imported.stderr
    removed = paperbot(fresh, "remove", "--demo")
    assert (removed.returncode, removed.stdout.strip()) == (0, "removed 90 demo papers")
    assert json.loads(paperbot(fresh, "stats", "--json").stdout)["papers"] == 3
    # the index followed: demo papers are gone from answers, the team's and the claimed one stay
    gone = json.loads(paperbot(fresh, "ask", "remote sensing image captioning", "--json").stdout)
    left = {"t1", "t2", "t-62daf974db6d"}  # the team's two and the claimed Flamingo
    assert {hit["id"] for hit in gone["results"]} <= left
    kelp = json.loads(paperbot(fresh, "ask", "kelp forests", "--json").stdout)
    assert kelp["results"][0]["id"] == "t1"
    assert paperbot(fresh, "paper", "t-62daf974db6d").returncode == 0  # Flamingo, claimed
    assert paperbot(fresh, "remove", "--demo").stdout.strip() == "no demo papers to remove"


def test_a_database_seeded_by_the_old_version_gets_its_demo_marked(tmp_path):
    db_path = tmp_path / "papers.db"
    paperbot(db_path, "ask", "warm up")
    paperbot(db_path, "import", team_papers(tmp_path))
    with sqlite3.connect(db_path) as conn:  # as schema 1 left it: no demo table
        conn.execute("drop table demo")
        conn.execute("pragma user_version = 1")
    assert paperbot(db_path, "remove", "--demo").stdout.strip() == "removed 91 demo papers"
    assert json.loads(paperbot(db_path, "stats", "--json").stdout)["papers"] == 2


LISTING = """Daily papers

Kelp Forest Mapping

We map kelp forests.

Tundra Lichen Survey

We count lichen on the tundra with drones
and small cameras, wrapped over
three lines.
"""


def test_listing_with_short_and_wrapped_abstracts(tmp_path):
    db_path = tmp_path / "papers.db"
    path = tmp_path / "listing.txt"
    path.write_text(LISTING.split("\n\n", 1)[1])
    result = paperbot(db_path, "import", str(path))
    assert result.returncode == 0, result.stderr
    db = store_db.open_db(db_path)
    papers = {p["title"]: p["abstract"] for p in store_db.iter_export(db)}
    assert papers == {
        "Kelp Forest Mapping": "We map kelp forests.",
        "Tundra Lichen Survey": "We count lichen on the tundra with drones and small cameras, "
        "wrapped over three lines.",
    }


@pytest.mark.parametrize("name", ["hf_daily.json", "arxiv_v1.atom", "jsonl", "listing"])
def test_a_byte_order_mark_is_accepted_in_every_format(tmp_path, name):
    if name == "jsonl":
        text = Path(team_papers(tmp_path)).read_text()
    elif name == "listing":
        text = LISTING.split("\n\n", 1)[1]
    else:
        text = (FIXTURES / name).read_text()
    path = tmp_path / f"bom-{name}"
    path.write_text(BOM + text, encoding="utf-8")
    result = paperbot(tmp_path / "papers.db", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "refused" not in result.stderr and "0 new" not in result.stdout


def test_an_export_read_back_claims_every_demo_paper_it_names(tmp_path):
    """Export, fix one abstract, import: the fix lands, and every paper the file names stops being
    a demo paper, unchanged ones too (issue 22: README's "a demo paper that an import later names
    becomes the team's and stays"; before, `remove --demo` then dropped 90 of the 91)."""
    db = tmp_path / "papers.db"
    exported = paperbot(db, "export").stdout.splitlines()
    first = json.loads(exported[0])
    first["abstract"] = "A corrected abstract about kelp forests."
    (tmp_path / "all.jsonl").write_text("\n".join([json.dumps(first), *exported[1:]]) + "\n")
    imported = paperbot(db, "import", str(tmp_path / "all.jsonl"))
    assert "0 new, 1 updated, 90 unchanged" in imported.stdout
    assert paperbot(db, "remove", "--demo").stdout.strip() == "no demo papers to remove"
    assert json.loads(paperbot(db, "stats", "--json").stdout)["papers"] == 91
