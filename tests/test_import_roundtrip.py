"""Importers lose nothing: generated records with `%`, braces, backslashes, accents and newlines
come back from BibTeX, RIS, CSL JSON and JSON Lines as written; an export read back (into the same
database or a fresh one) exports byte for byte the same."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import cli
from store.collection.importers import parse_text
from tests.conftest import FIXTURES

# (the text a reader sees, how a BibTeX file may write it)
_BIB_TOKENS = [
    ("%", "%"),  # bare: BibTeX reads it as text inside a field
    ("%", r"\%"),
    ("{", r"\{"),
    ("}", r"\}"),
    ("\\", r"\textbackslash{}"),
    ("é", "é"),
    ("é", r"{\'e}"),
    ("ü", r"{\"u}"),
    ("ß", r"{\ss}"),
    ("ø", "ø"),
    ("\n", "\n"),
    (" ", " "),
    ("Caps", "{Caps}"),  # a braced group keeps its letters, loses its braces
    ("78.3", "78.3"),
    ("&", r"\&"),
]
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.,;:()", min_size=1, max_size=8)
BIB_TEXT = st.lists(
    st.one_of(st.sampled_from(_BIB_TOKENS), WORDS.map(lambda w: (w, w))), min_size=1, max_size=40
)
# What RIS, CSL JSON and JSON Lines carry as is (no markup language): any of these characters.
_CHARS = "abcxyzABC019 %{}\\\néüßø&.,;:'-_$~#^"
PLAIN = st.text(alphabet=st.sampled_from(list(_CHARS)), min_size=1, max_size=120)
NAME = st.text(alphabet=st.sampled_from([c for c in _CHARS if c not in ",\n"]), max_size=30)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _words(tokens: list[tuple[str, str]]) -> tuple[str, str]:
    """(plain text, BibTeX form), the plain text starting with a letter (a title needs one)."""
    return "T " + "".join(t for t, _ in tokens), "T " + "".join(b for _, b in tokens)


@settings(max_examples=150)
@given(title=BIB_TEXT, abstract=BIB_TEXT, quoted=st.booleans())
def test_bibtex_fields_come_back_as_written(title, abstract, quoted):
    plain_title, bib_title = _words(title)
    plain_abstract, bib_abstract = _words(abstract)
    value = f'"{bib_abstract}"' if quoted else f"{{{bib_abstract}}}"
    text = (
        f"@article{{key,\n  title = {{{bib_title}}},\n  abstract = {value},\n  year = 2021,\n}}\n"
    )
    [record] = parse_text(text)
    assert record["title"] == _collapse(plain_title)
    assert _collapse(record["raw"]) == _collapse(plain_abstract)
    assert record["abstract"].count("%") == plain_abstract.count("%")


@settings(max_examples=150)
@given(title=PLAIN, abstract=PLAIN, author=NAME)
def test_ris_fields_come_back_as_written(title, abstract, author):
    lines = ["TY  - JOUR"]
    for tag, value in (("TI", title), ("AB", abstract)):
        first, *rest = [line for line in value.split("\n")]
        lines.append(f"{tag}  - X{first}")  # wrapped lines continue the value
        lines += [f" {line}" for line in rest]
    lines += [f"AU  - {author}X", "ER  - "]
    [record] = parse_text("\n".join(lines) + "\n")
    assert record["title"] == _collapse("X" + title)
    assert _collapse(record["raw"]) == _collapse("X" + abstract)
    assert record["authors"] == [_collapse(author + "X")]


@settings(max_examples=150)
@given(title=PLAIN, abstract=PLAIN)
def test_csl_json_fields_come_back_as_written(title, abstract):
    item = {"type": "article", "title": "X" + title, "abstract": abstract, "URL": "", "DOI": ""}
    [record] = parse_text(json.dumps([item]))
    assert record["title"] == _collapse("X" + title)
    assert record["raw"] == abstract.strip()


@settings(max_examples=150)
@given(title=PLAIN, abstract=PLAIN)
def test_json_lines_fields_come_back_as_written(title, abstract):
    line = {"id": "p1", "title": "X" + title, "abstract": "X" + abstract, "source": "jsonl"}
    record, _ = parse_text(json.dumps(line) + "\n" + json.dumps({**line, "id": "p2"}))
    assert record["title"] == _collapse("X" + title)
    assert record["raw"] == ("X" + abstract).strip()


def run(db_path, *args):
    result = CliRunner().invoke(cli, ["--db", str(db_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


LAB_BIB = r"""@article{pct, title = {Sparse Tokens at 78.3% Top-1},
  abstract = {Reaching 78.3% top-1; see https://github.com/lab/sparse and {\'e}t{\'e}.},
  author = {J{\'e}gou, Herv{\'e}}, year = {2023}, month = feb,
  url = {https://lab.example.org/sparse}, keywords = {tokens; vision}}
"""


def test_an_export_reimported_anywhere_exports_the_same_bytes(tmp_path):
    """Every format in, exported, read into a fresh database and exported again: the same bytes
    (links keep their order and kinds, `added_at` is kept); read back into its own database:
    every paper unchanged, the same bytes."""
    (tmp_path / "lab.bib").write_text(LAB_BIB)
    sources = [*sorted(FIXTURES.glob("*.*")), *sorted((FIXTURES / "library").glob("team.*"))]
    first = tmp_path / "first.db"
    CliRunner().invoke(
        cli, ["--db", str(first), "import", *map(str, sources), str(tmp_path / "lab.bib")]
    )
    export = run(first, "export")
    assert "78.3% top-1" in export and len(export.splitlines()) >= 8
    (tmp_path / "all.jsonl").write_text(export)
    second = tmp_path / "second.db"
    run(second, "import", str(tmp_path / "all.jsonl"))
    assert run(second, "export") == export
    again = run(first, "import", str(tmp_path / "all.jsonl"))
    assert re.search(rf"0 new, 0 updated, {len(export.splitlines())} unchanged", again)
    assert run(first, "export") == export


@settings(max_examples=30)
@given(abstract=BIB_TEXT)
def test_a_long_bibtex_field_decodes_in_pieces_as_it_would_whole(abstract):
    """Past 4,096 characters the decoder works in pieces (linear time): the text is the same."""
    plain, bib = _words(abstract)
    times = 9000 // len(bib) + 1
    text = f"@article{{key, title = {{T}}, abstract = {{{(bib + ' ') * times}}}}}\n"
    [record] = parse_text(text)
    assert _collapse(record["raw"]) == _collapse((plain + " ") * times)


def _export_lines(db) -> str:
    from store.collection import db as store_db

    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in store_db.iter_export(db))


@settings(max_examples=40)
@given(
    papers=st.lists(
        st.tuples(PLAIN, PLAIN, st.lists(NAME.filter(str.strip), max_size=3)),
        min_size=1,
        max_size=4,
    )
)
def test_generated_papers_survive_export_import_export_byte_for_byte(papers):
    from store.collection import db as store_db

    lines = [
        {"id": f"p{i}", "title": f"X{i} {t}", "abstract": f"Y {a}", "authors": au}
        for i, (t, a, au) in enumerate(papers)
    ]
    first = store_db.open_db(":memory:")
    store_db.upsert_papers(first, parse_text("\n".join(map(json.dumps, lines)) + "\n"))
    export = _export_lines(first)
    second = store_db.open_db(":memory:")
    store_db.upsert_papers(second, parse_text(export))
    assert _export_lines(second) == export
