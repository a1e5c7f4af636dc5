"""The demo mark, removals and the team / feed / demo counts, through `paperbot` on a real file.

README: "a demo paper that an import later names (same id, arXiv id or title) becomes the team's
and stays"; `remove --demo` takes only the untouched ones; `stats` counts every paper once.
"""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import FIXTURES


def run(db_path, *args, code=0):
    result = CliRunner().invoke(cli, ["--db", str(db_path), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def counts(db_path) -> tuple[int, int, int, int]:
    """(papers, team, feed, demo) as `paperbot stats --json` gives them; they must add up."""
    s = json.loads(run(db_path, "stats", "--json"))
    assert s["team_papers"] + s["feed_papers"] + s["demo_papers"] == s["papers"], s
    return s["papers"], s["team_papers"], s["feed_papers"], s["demo_papers"]


CLIP_BIB = r"""@article{radford2021,
  title = {Learning Transferable Visual Models From Natural Language Supervision},
  author = {Radford, Alec},
  abstract = {The lab's own abstract, reaching 76.2% zero-shot.},
  eprint = {2103.00020}, archivePrefix = {arXiv}, year = {2021},
}
"""


def test_an_export_read_back_keeps_every_paper_from_remove_demo(db_path, tmp_path):
    (tmp_path / "clip.bib").write_text(CLIP_BIB)
    run(db_path, "import", str(tmp_path / "clip.bib"))  # a fresh database: no demo yet
    run(db_path, "ask", "warm up")  # nothing is loaded once an import happened
    (tmp_path / "all.jsonl").write_text(run(db_path, "export"))
    assert counts(db_path) == (1, 1, 0, 0)

    seeded = tmp_path / "seeded.db"
    assert counts(seeded) == (91, 0, 0, 91)
    run(seeded, "import", str(tmp_path / "clip.bib"))  # names the demo's CLIP by its title
    assert counts(seeded) == (91, 1, 0, 90)
    (tmp_path / "seeded.jsonl").write_text(run(seeded, "export"))
    again = run(seeded, "import", str(tmp_path / "seeded.jsonl"))
    assert "0 new, 0 updated, 91 unchanged" in again
    assert counts(seeded) == (91, 1, 90, 0)  # the collection's now, none of them demo
    assert "no demo papers to remove" in run(seeded, "remove", "--demo")
    assert counts(seeded) == (91, 1, 90, 0)


def test_remove_demo_takes_only_the_papers_no_import_named(db_path, tmp_path):
    (tmp_path / "clip.bib").write_text(CLIP_BIB)
    assert counts(db_path) == (91, 0, 0, 91)
    run(db_path, "import", str(tmp_path / "clip.bib"), str(FIXTURES / "hf_daily.json"))
    papers, team, feed, demo = counts(db_path)
    assert (team, demo) == (1, 90) and feed == papers - 91
    assert "removed 90 demo papers" in run(db_path, "remove", "--demo")
    assert counts(db_path) == (papers - 90, 1, feed, 0)
    paper = run(db_path, "paper", "2103.00020")
    assert "reaching 76.2% zero-shot" in paper


def test_remove_on_a_fresh_database_finds_the_demo_papers_the_others_show(db_path, tmp_path):
    out = run(db_path, "remove", "t-826d74fca928", "2501.99999", code=1)
    assert "removed: t-826d74fca928" in out and "not in the collection: 2501.99999" in out
    assert counts(db_path) == (90, 0, 0, 90)
    assert "t-826d74fca928" not in run(db_path, "export")

    fresh = tmp_path / "fresh.db"
    assert "removed 91 demo papers" in run(fresh, "remove", "--demo")
    assert counts(fresh) == (0, 0, 0, 0)  # and it never comes back
    run(fresh, "ask", "remote sensing")
    assert counts(fresh) == (0, 0, 0, 0)


def test_counts_stay_right_after_imports_and_removals(db_path):
    library = FIXTURES / "library"
    run(db_path, "import", str(FIXTURES / "hf_daily.json"))
    papers, team, feed, demo = counts(db_path)
    assert (team, demo) == (0, 0) and feed == papers
    run(db_path, "import", str(library / "team.bib"))
    after = counts(db_path)
    assert after[1] > 0 and after[3] == 0
    team_id = json.loads(run(db_path, "stats", "--json"))["team_papers"]
    assert team_id == after[1]
    feed_paper = json.loads(run(db_path, "export").splitlines()[0])["id"]
    run(db_path, "remove", feed_paper)
    assert counts(db_path)[0] == after[0] - 1


def test_an_incoming_abstract_wins_even_cut_short(db_path, tmp_path):
    """`1 updated` means the record's abstract is the one stored, as README says, even when it is
    the stored one with its end cut off (a correction dropping a sentence)."""
    run(db_path, "stats")
    line = json.loads(run(db_path, "export").splitlines()[0])
    first = line["abstract"].split(". ")[0] + "."
    assert line["abstract"].startswith(first) and len(first) < len(line["abstract"])
    (tmp_path / "fix.jsonl").write_text(json.dumps({**line, "abstract": first, "raw": first}))
    assert "0 new, 1 updated, 0 unchanged" in run(db_path, "import", str(tmp_path / "fix.jsonl"))
    assert json.loads(run(db_path, "paper", line["id"], "--json"))["abstract"] == first


def test_backup_refuses_the_live_database_and_what_is_not_a_file_or_folder(db_path, tmp_path):
    import os

    run(db_path, "stats")
    before = db_path.read_bytes()
    for target in (db_path, tmp_path / "." / db_path.name, f"{db_path}-wal"):
        out = run(db_path, "backup", str(target), code=1)
        assert "refused: that is the live database" in out and "Traceback" not in out
    assert db_path.read_bytes() == before
    fifo, device = tmp_path / "pipe", tmp_path / "full"
    os.mkfifo(fifo)
    device.symlink_to("/dev/full")
    for target in (fifo, device):
        out = run(db_path, "backup", str(target), code=1)
        assert out.strip() == f"Error: backup to {target} refused: not a regular file or a folder"
    assert fifo.is_fifo() and device.is_symlink() and os.readlink(device) == "/dev/full"
    assert not list(tmp_path.glob("*.partial"))


def test_backup_to_a_missing_folder_makes_it_and_writes_inside(db_path, tmp_path):
    run(db_path, "stats")
    out = run(db_path, "backup", str(tmp_path / "backups" / "nonexistent" / "deeper"))
    [copy] = (tmp_path / "backups" / "nonexistent" / "deeper").iterdir()
    assert copy.name.startswith("papers-") and copy.suffix == ".db"
    assert f"backup written: {copy}" in out
    assert counts(copy) == (91, 0, 0, 91)
    out = run(db_path, "backup", str(tmp_path / "named" / "copy.db"))  # an extension: a file
    assert (tmp_path / "named" / "copy.db").is_file()


def test_a_library_entry_identical_to_a_demo_paper_is_the_teams_and_stays(db_path, tmp_path):
    """`1 unchanged`, yet the team's now (a library import): `remove --demo` keeps it."""
    papers = [json.loads(line) for line in run(db_path, "export").splitlines()]
    plain = re.compile(r"^[A-Za-z0-9 ,.;:()'/?!-]+$")
    paper = next(
        p
        for p in papers
        if plain.match(p["title"] + p["abstract"]) and "--" not in p["abstract"] and not p["links"]
    )
    entry = f"@misc{{k, title = {{{paper['title']}}}, abstract = {{{paper['abstract']}}}}}\n"
    (tmp_path / "same.bib").write_text(entry)
    assert "0 new, 0 updated, 1 unchanged" in run(db_path, "import", str(tmp_path / "same.bib"))
    assert counts(db_path) == (91, 1, 0, 90)
    assert "removed 90 demo papers" in run(db_path, "remove", "--demo")
    assert counts(db_path) == (1, 1, 0, 0)
    assert json.loads(run(db_path, "paper", paper["id"], "--json"))["title"] == paper["title"]
