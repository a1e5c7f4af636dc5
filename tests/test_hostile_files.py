"""`paperbot import` of what a lab's files really hold, and of hostile files, as real processes.

Data that must not be lost (a bare `%` in a BibTeX abstract), and files that must be refused at
once with one line (a FIFO, /dev/zero through a symlink, /dev/urandom, an @string bomb, a field of
megabytes, an empty file). Every run has a generous timeout: on a version that blocks or expands
them, the test fails by that timeout instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.processes import paperbot

LIMIT = 60  # seconds: far above what any of these takes now (0.5-3 s), far below the old cost


def _export(db_path: Path) -> dict[str, dict]:
    done = paperbot(db_path, "export", timeout=LIMIT)
    assert done.returncode == 0, done.stderr
    return {p["id"]: p for p in map(json.loads, done.stdout.splitlines())}


def _refused(db_path: Path, path: Path | str) -> str:
    """The one stderr line `paperbot import` refused `path` with (exit 1, nothing written)."""
    done = paperbot(db_path, "import", str(path), timeout=LIMIT)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if "refused" in line]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "0 new" in done.stdout
    return lines[0]


BIB = r"""% a comment line of the file: still a comment
@article{pct,
  title = {Sparse Tokens Reach 78.3% Top-1},
  author = {J{\'e}gou, Herv{\'e} and M{\"u}ller, Anna},
  abstract = {We train a model reaching 78.3% top-1 on ImageNet with 40% fewer
    FLOPs; an escaped 50\% stays too. The rest of the line % is kept},
  eprint = {2301.00001},
  archivePrefix = {arXiv},
  year = {2023},
}
@misc{quoted,
  title = "Quoted 100% Title",
  abstract = "A quoted abstract with 5% noise and more text after it.",
  year = 2022,
}
"""


def test_a_bare_percent_in_a_bibtex_field_is_text(tmp_path):
    db_path = tmp_path / "papers.db"
    (tmp_path / "lab.bib").write_text(BIB)
    done = paperbot(db_path, "import", str(tmp_path / "lab.bib"), timeout=LIMIT)
    assert done.returncode == 0, done.stderr
    papers = _export(db_path)
    pct = papers["2301.00001"]
    assert pct["title"] == "Sparse Tokens Reach 78.3% Top-1"
    assert pct["abstract"] == (
        "We train a model reaching 78.3% top-1 on ImageNet with 40% fewer FLOPs; an escaped "
        "50% stays too. The rest of the line % is kept"
    )
    assert pct["authors"] == ["Hervé Jégou", "Anna Müller"]
    [quoted] = [p for p in papers.values() if p["id"] != "2301.00001"]
    assert quoted["title"] == "Quoted 100% Title"
    assert quoted["abstract"] == "A quoted abstract with 5% noise and more text after it."


def test_non_regular_files_are_refused_at_once(tmp_path):
    db_path = tmp_path / "papers.db"
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    zero = tmp_path / "papers.json"
    zero.symlink_to("/dev/zero")  # endless NULs: read whole, a MemoryError
    for path, kind in ((fifo, "a FIFO"), (zero, "a character device"), ("/dev/urandom", "")):
        line = _refused(db_path, path)
        assert f"{path}: refused: not a regular file ({kind or 'a character device'})" in line


@pytest.mark.parametrize("content", ["", "\ufeff\n  \n\t\n"])
def test_an_empty_file_says_empty_file(tmp_path, content):
    (tmp_path / "empty.json").write_text(content, encoding="utf-8")
    line = _refused(tmp_path / "papers.db", tmp_path / "empty.json")
    assert line.endswith("empty.json: refused: empty file")


def test_a_string_doubling_bomb_is_refused_quickly(tmp_path):
    lines = ['@string{s0 = "' + "x" * 16 + '"}']
    lines += [f"@string{{s{i} = s{i - 1} # s{i - 1}}}" for i in range(1, 60)]  # 16 * 2^59
    lines.append("@article{bomb, title = {Bomb}, abstract = s59}")
    (tmp_path / "bomb.bib").write_text("\n".join(lines))
    assert len((tmp_path / "bomb.bib").read_bytes()) < 2048
    line = _refused(tmp_path / "papers.db", tmp_path / "bomb.bib")
    assert "@string s15: expands past the 300,000-character limit" in line


def _long(n: int) -> str:
    unit = "lorem ipsum dolor sit amet "
    return (unit * (n // len(unit) + 1))[:n]


def test_a_four_megabyte_abstract_is_refused_naming_the_field(tmp_path):
    (tmp_path / "long.bib").write_text(
        "@article{long, title = {Long}, abstract = {" + _long(4_000_000) + "}}"
    )
    line = _refused(tmp_path / "papers.db", tmp_path / "long.bib")
    assert "entry 'long' (line 1): abstract is over the 100,000-character limit" in line
    record = {"id": "x", "title": "Long", "abstract": _long(200_000)}
    (tmp_path / "long.jsonl").write_text(json.dumps(record) + "\n")
    line = _refused(tmp_path / "papers.db", tmp_path / "long.jsonl")
    assert "line 1: abstract is 200,000 characters, over the 100,000-character limit" in line


def test_a_four_megabyte_field_a_paper_does_not_use_is_not_decoded(tmp_path):
    """Zotero's `annote` or `file` may be long: it is skipped, and the LaTeX decoder (superlinear:
    4 MB took minutes) never reads it."""
    db_path = tmp_path / "papers.db"
    text = r"@article{notes, title = {Long {\"U}ber Notes}, abstract = {Short.}, annote = {"
    (tmp_path / "notes.bib").write_text(text + _long(4_000_000) + r" \'e}}")
    done = paperbot(db_path, "import", str(tmp_path / "notes.bib"), timeout=LIMIT)
    assert done.returncode == 0, done.stderr
    [paper] = _export(db_path).values()
    assert paper["title"] == "Long Über Notes" and paper["abstract"] == "Short."


def test_a_huge_abstract_stored_by_an_older_version_is_read_only_so_far(tmp_path, monkeypatch):
    """Questions read at most the first 100,000 characters of an abstract (so a 50 MB one stored
    before imports refused it cannot make them take seconds); the export still gives it whole."""
    from click.testing import CliRunner

    from bot.cli import cli
    from store.collection import db as store_db

    db_path = tmp_path / "papers.db"
    tail = " The zanzibar quokka appears only here."
    abstract = _long(150_000) + tail
    db = store_db.open_db(db_path)
    store_db.ensure_seeded(db)  # the demo's 91 papers beside it
    record = {"id": "old1", "title": "An Old Giant", "abstract": abstract, "links": []}
    store_db.upsert_papers(db, [record], name="an older version's import")
    db.close()
    monkeypatch.setenv("PAPERBOT_SEMANTIC", "off")

    def run(*args):
        result = CliRunner().invoke(cli, ["--db", str(db_path), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert json.loads(run("ask", "zanzibar quokka", "--json"))["results"] == []
    hit = json.loads(run("ask", "old giant lorem ipsum", "--json"))["results"][0]
    assert hit["id"] == "old1" and "zanzibar" not in hit["snippet"]
    assert len(json.loads(run("paper", "old1", "--json"))["abstract"]) == 100_000
    exported = [json.loads(line) for line in run("export").splitlines()]
    assert [p["abstract"] for p in exported if p["id"] == "old1"] == [abstract.strip()]


def test_a_ris_value_wrapped_over_many_lines_is_refused_at_its_limit(tmp_path):
    """200,000 continuation lines of one abstract (15 MB): refused at the line that passes the
    limit (joining them took minutes, then stored 15 MB)."""
    line = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor\n"
    text = "TY  - JOUR\nTI  - Long\nAB  - start\n" + line * 200_000 + "ER  - \n"
    (tmp_path / "long.ris").write_text(text)
    assert _refused(tmp_path / "papers.db", tmp_path / "long.ris").endswith(
        "long.ris: refused: line 3900: AB is over the 300,000-character limit"
    )
