"""Corrections land: a re-imported record wins field by field; an id collision is refused."""

from __future__ import annotations

import json

from store.collection import db as store_db
from store.collection.importers import parse_text
from tests.processes import paperbot

PAPERS = [
    {
        "id": f"p{i}",
        "title": title,
        "abstract": abstract,
        "authors": ["Ada Lovelace"],
        "keywords": ["vision"],
    }
    for i, (title, abstract) in enumerate(
        [
            ("Glacier Tracking with Satellites", "We track glaciers from orbit. It works well."),
            ("Coral Reef Captions", "We caption coral reefs. Divers wrote the captions."),
            ("Desert Dune Segmentation", "We segment dunes. Wind shapes them."),
        ]
    )
]


def jsonl(path, papers) -> str:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers))
    return str(path)


def test_export_edit_an_abstract_import_again_lands_the_fix(tmp_path):
    db_path = tmp_path / "papers.db"
    assert paperbot(db_path, "import", jsonl(tmp_path / "in.jsonl", PAPERS)).returncode == 0
    exported = [json.loads(line) for line in paperbot(db_path, "export").stdout.splitlines()]
    fixed = "We caption coral reefs with zooxanthellae counts. Divers checked every caption."
    for paper in exported:
        if paper["id"] == "p1":
            paper["abstract"] = fixed
    result = paperbot(db_path, "import", jsonl(tmp_path / "fixed.jsonl", exported))
    assert result.returncode == 0, result.stderr
    assert "total: 0 new, 1 updated, 2 unchanged, 0 refused" in result.stdout
    assert fixed in paperbot(db_path, "paper", "p1").stdout
    answer = json.loads(paperbot(db_path, "ask", "zooxanthellae counts", "--json").stdout)
    assert answer["results"][0]["id"] == "p1"
    assert "zooxanthellae" in answer["results"][0]["snippet"]


def test_newer_record_wins_each_field_it_has_and_keeps_the_others(tmp_path):
    db = store_db.open_db(tmp_path / "papers.db")
    store_db.upsert_papers(db, parse_text("\n".join(json.dumps(p) for p in PAPERS)))
    correction = {"id": "p2", "title": "Desert Dune Segmentation!", "abstract": "Dunes, fixed."}
    result = store_db.upsert_papers(db, parse_text(json.dumps(correction)))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 0)
    paper = store_db.get_paper(db, "p2")
    assert paper["title"] == "Desert Dune Segmentation!"  # a small fix of a title lands
    assert paper["abstract"] == "Dunes, fixed."
    assert paper["authors"] == ["Ada Lovelace"] and paper["keywords"] == ["vision"]  # not blanked


def test_id_collision_with_another_title_refuses_the_file_naming_both(tmp_path):
    db_path = tmp_path / "papers.db"
    assert paperbot(db_path, "import", jsonl(tmp_path / "in.jsonl", PAPERS)).returncode == 0
    clash = [
        {"id": "new1", "title": "A Brand New Paper", "abstract": "Fresh work on new things."},
        {"id": "p0", "title": "Protein Folding at Scale", "abstract": "Another paper entirely."},
    ]
    result = paperbot(db_path, "import", jsonl(tmp_path / "clash.jsonl", clash))
    assert result.returncode == 1
    (line,) = [x for x in result.stderr.splitlines() if "refused" in x]
    assert '"Glacier Tracking with Satellites"' in line and '"Protein Folding at Scale"' in line
    assert "id p0" in line and "whole file is refused" in line
    db = store_db.open_db(db_path)
    assert store_db.paper_count(db) == 3  # nothing of the file, not even its good record
    assert store_db.get_paper(db, "p0")["title"] == "Glacier Tracking with Satellites"
