"""The team's reference library: BibTeX, CSL JSON and RIS files into a real SQLite collection."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import cli
from store.collection import db as store_db
from store.collection.importers import FormatError, bibtex, csl_json, detect_format, parse_text, ris
from tests.conftest import FIXTURES

LIBRARY = FIXTURES / "library"


def run(db_path, *args):
    return CliRunner().invoke(cli, ["--db", str(db_path), *args], catch_exceptions=False)


def records_of(name: str) -> list[dict]:
    return parse_text((LIBRARY / name).read_text())


def test_formats_are_recognised_by_content():
    assert detect_format((LIBRARY / "team.bib").read_text()) == "bibtex"
    assert detect_format((LIBRARY / "team.json").read_text()) == "csl"
    assert detect_format((LIBRARY / "team.ris").read_text()) == "ris"
    assert detect_format((FIXTURES / "hf_daily.json").read_text()) == "hf"


def test_bibtex_braces_accents_macros_and_arxiv_ids():
    glacier, mueller, lighthouse = records_of("team.bib")
    # `{Glacier}: Tracking } # ice # {...}`: a @string macro inside a concatenation, braces gone.
    assert glacier["title"] == "Glacier: Tracking Ice Sheets with Vision-Language Models"
    assert (glacier["arxiv_id"], glacier["published"]) == ("2504.08385", "2025-04")  # month = apr
    assert glacier["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert glacier["abstract"] == ""  # no abstract: kept by its title
    assert mueller["title"] == "Über die Müller-Straße: Café Scenes for CLIP-style Pre-training"
    assert mueller["authors"] == ["Jörg Müller", "José García", "The OpenScenes Team"]
    assert mueller["abstract"].startswith("We collect café street scenes")
    assert mueller["keywords"] == ["street scenes", "captions", "contrastive learning"]
    assert mueller["arxiv_id"] is None and mueller["published"] == "2021-06"
    links = {link["url"]: link["kind"] for link in mueller["links"]}
    assert links == {
        "https://github.com/example/cafe_scenes": "code",  # `cafe\_scenes` in the abstract
        "https://example.org/~mueller/cafe": "other",  # the url field verbatim: `~` is no space
        "https://doi.org/10.1109/CVPR.2021.01234": "other",
    }
    assert lighthouse["arxiv_id"] == "2504.09999"  # howpublished = {arXiv preprint arXiv:...}


def test_bibtex_concatenation_month_macros_and_string_redefinition():
    text = """
    @String{ven = "Conf"} @string{VEN = "Workshop"}
    @misc{x, title = "On " # ven # { {T}ricks}, year = 2019, month = "3",
      eprint = {cs/0112017v2}, archivePrefix = {arXiv}, pages = {1--9}}
    @misc{y, title = {Pubmed eprint is no arXiv id}, eprint = {1234.56789}, eprinttype = {pubmed},
      date = {2020-05-17}, note = {see also 2103.00020}}
    """
    x, y = parse_text(text)
    assert x["title"] == "On Workshop Tricks"  # macros are case-insensitive, later wins
    assert (x["arxiv_id"], x["version"], x["published"]) == ("cs/0112017", 2, "2019-03")
    assert y["arxiv_id"] is None and y["published"] == "2020-05-17"


def test_csl_json_items():
    tidepool, fjord = records_of("team.json")
    assert tidepool["title"] == "Tidepool: Counting Marine Life in Underwater Video"  # <i> gone
    assert (tidepool["arxiv_id"], tidepool["published"]) == ("2504.07777", "2025-04-10")
    assert tidepool["authors"] == ["Jacques Cousteau", "Ocean Lab"]
    assert fjord["title"] == "Fjord Mapping with Sentinel Imagery: A Café-Scale Study"
    assert (fjord["published"], fjord["keywords"]) == ("2023-07", ["remote sensing", "fjords"])


def test_ris_records():
    moraine, glacier = records_of("team.ris")
    assert moraine["abstract"].endswith("the project page is https://example.github.io/moraine.")
    assert (moraine["arxiv_id"], moraine["version"]) == ("2403.01234", 2)
    assert moraine["authors"] == ["Louis Agassiz", "James D. Forbes"]
    assert moraine["published"] == "2024-03-05"
    assert {"url": "https://example.github.io/moraine", "kind": "project"} in moraine["links"]
    assert (glacier["arxiv_id"], glacier["published"]) == ("2504.08385", "2025")  # from the DOI


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken.bib", "line 6: unreadable entry"),
        ("broken.ris", "line 7: TY before the ER of the record at line 5"),
        ("broken.json", "item 2 (bad): author must be a list of name objects"),
    ],
)
def test_a_broken_library_file_is_refused_whole_naming_the_place(db_path, name, reason):
    run(db_path, "import", str(FIXTURES / "arxiv_v1.atom"))
    db = store_db.open_db(db_path)
    before = list(store_db.iter_export(db))
    result = run(db_path, "import", str(LIBRARY / name))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "refused" in line]
    assert lines[0].startswith(f"{LIBRARY / name}: refused: {reason}")
    assert list(store_db.iter_export(db)) == before  # the fine entries before it: not written
    assert store_db.team_paper_ids(db) == []
    assert store_db.integrity_ok(db)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("@article{a, title={A}}\n@article{a, title={B}}\n", "line 2: entry key 'a' used twice"),
        ("@article{a, author={X}}\n", "entry 'a' (line 1): missing title"),
        ("@article{a, title={A}, year={20x1}}\n", "year must be four digits"),
        ("TY  - JOUR\nTI  - No end\n", "line 1: record without an ER line"),
        ("TY  - JOUR\nTI  - A\nER  - \nAU  - Stray, A.\n", "line 4: AU outside a record"),
        ('[{"type": "article", "issued": {"date-parts": [[2020]]}}]', "item 1: missing title"),
    ],
)
def test_broken_entries(text, reason):
    with pytest.raises(FormatError, match=re.escape(reason)):
        parse_text(text)


def test_library_merges_with_feed_papers_and_marks_the_team_papers(db_path):
    assert run(db_path, "import", str(FIXTURES / "arxiv_v1.atom")).exit_code == 0
    result = run(db_path, "import", *(str(LIBRARY / n) for n in ("team.bib", "team.json")))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{LIBRARY / 'team.bib'}: 2 new, 0 updated, 1 unchanged, 1 no abstract"
    # the CSL item names other authors than the feed: the newer record wins (a correction)
    assert lines[1] == f"{LIBRARY / 'team.json'}: 1 new, 1 updated, 0 unchanged, 0 no abstract"
    assert lines[2] == "total: 3 new, 1 updated, 1 unchanged, 0 refused, 1 no abstract"
    db = store_db.open_db(db_path)
    # Glacier (BibTeX) and Tidepool (CSL) are the feed's papers: one paper each, the feed's text.
    assert store_db.paper_count(db) == 5
    glacier = store_db.get_paper(db, "2504.08385")
    assert glacier["abstract"].startswith("We present Glacier")
    team = store_db.team_paper_ids(db)
    assert set(team) == {"2504.08385", "2504.07777", "2504.09999"} | {
        p["id"] for p in store_db.iter_export(db) if p["source"] in ("bibtex", "csl")
    }
    provenance = store_db.team_provenance(db, "2504.09999")
    assert provenance["via"] == "library" and provenance["added_in"] == "cli"
    stats = json.loads(run(db_path, "stats", "--json").output)
    assert (stats["team_papers"], stats["feed_papers"], stats["papers"]) == (5, 0, 5)
    assert stats["papers_without_abstract"] == 1
    # A library entry by title only answers questions by its title.
    answer = json.loads(
        run(db_path, "ask", "long video question answering memory tokens", "--json").output
    )
    assert answer["results"][0]["id"] == "2504.09999"


def test_the_feed_paper_arriving_after_the_library_entry_fills_its_abstract(db_path):
    run(db_path, "import", str(LIBRARY / "team.ris"))
    db = store_db.open_db(db_path)
    assert store_db.get_paper(db, "2504.08385")["abstract"] == ""
    run(db_path, "import", str(FIXTURES / "arxiv_v1.atom"))
    assert store_db.get_paper(db, "2504.08385")["abstract"].startswith("We present Glacier")
    assert store_db.paper_count(db) == 3
    stats = json.loads(run(db_path, "stats", "--json").output)
    assert (stats["team_papers"], stats["feed_papers"]) == (2, 1)  # Tidepool came by the feed


def test_export_of_title_only_entries_re_imports(db_path, tmp_path):
    run(db_path, "import", str(LIBRARY / "team.bib"))
    exported = run(db_path, "export").output
    assert '"abstract": ""' in exported
    copy = tmp_path / "copy.db"
    (tmp_path / "all.jsonl").write_text(exported)
    result = run(copy, "import", str(tmp_path / "all.jsonl"))
    assert result.exit_code == 0 and "3 new" in result.output


def test_a_schema_1_database_gains_the_team_table_on_open(db_path):
    store_db.open_db(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("drop table team_papers")
        conn.execute("pragma user_version = 1")
    conn.close()
    db = store_db.open_db(db_path)
    assert "team_papers" in db.table_names()
    assert db.execute("pragma user_version").fetchone()[0] == store_db.SCHEMA_VERSION
    assert store_db.stats(db)["team_papers"] == 0


BIB_PIECES = st.sampled_from(
    [
        "@article{k,",
        "@string{m = ",
        "title = ",
        "{",
        "}",
        '"',
        "#",
        "m",
        ",",
        "\n",
        '\\"u',
        "\\'",
        "{\\ss}",
        "$x^2$",
        "%",
        "@comment{",
        "@preamble{",
        "2021",
        "month = feb",
        "and",
    ]
)
RIS_PIECES = st.sampled_from(
    [
        "TY  - JOUR\n",
        "TI  - T\n",
        "AB  - a\n",
        "ER  - \n",
        "PY  - 20x/1\n",
        "AU  - X, Y\n",
        "KW  - k\n",
        "wrapped text\n",
        "\n",
        "DA  - 2021/13/40\n",
        "UR  - arxiv.org/abs/2103.00020\n",
    ]
)


@given(st.lists(BIB_PIECES, max_size=40).map("".join))
def test_any_bibtex_like_text_is_records_or_a_one_line_refusal(text):
    _records_or_format_error(bibtex.parse, text)


@given(st.lists(RIS_PIECES, max_size=30).map("".join))
def test_any_ris_like_text_is_records_or_a_one_line_refusal(text):
    _records_or_format_error(ris.parse, text)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "type",
                        "title",
                        "author",
                        "issued",
                        "date-parts",
                        "raw",
                        "DOI",
                        "URL",
                        "number",
                        "literal",
                        "family",
                    ]
                ),
                c,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_any_csl_like_json_is_records_or_a_one_line_refusal(data):
    _records_or_format_error(csl_json.parse, json.dumps([data]))


def _records_or_format_error(parse, text: str) -> None:
    try:
        records = parse(text)
    except FormatError as exc:
        assert "\n" not in str(exc)
        return
    for record in records:
        assert record["title"] and isinstance(record["abstract"], str)
