"""The index's numbered strings (terms, paper ids): found by value after a save and load, as a dict
of last numbers would find them, with hash collisions and odd ids included."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.search.index.strtable import StringTable, line_of

ODD = [
    "2401.00001",
    'a "quoted" id',
    '"leading quote',
    "two\nlines",
    "cr\rid",
    "ünïcode",
    "🦘",
    " ",
]


def _save(table: StringTable, folder: Path, held: tuple[int, int] | None) -> tuple[int, int]:
    size = table.save(folder / "t.txt", folder / "t-keys.npy", held)
    return len(table), size


def _load(folder: Path, held: tuple[int, int]) -> StringTable:
    return StringTable.load(folder / "t.txt", folder / "t-keys.npy", *held)


def _crc_twins() -> tuple[str, str]:
    """Two different terms with the same crc32 (a birthday search: ~80k random terms)."""
    rng = random.Random(0)
    seen: dict[int, str] = {}
    while True:
        text = f"t{rng.getrandbits(60):x}"
        crc = zlib.crc32(line_of(text))
        if crc in seen:
            return seen[crc], text
        seen[crc] = text


def _model(strings: list[str]) -> dict[str, int]:
    return dict(zip(strings, range(len(strings)), strict=True))


def test_odd_strings_survive_save_and_load(tmp_path):
    table = StringTable()
    for text in ODD:
        table.add(text)
    held = _save(table, tmp_path, None)
    loaded = _load(tmp_path, held)
    assert list(loaded) == ODD
    assert [loaded[i] for i in range(len(ODD))] == ODD
    assert [loaded.get(t) for t in ODD] == list(range(len(ODD)))
    assert loaded.get_many([*ODD, "absent"]) == [*range(len(ODD)), None]
    assert "two\nlines" in loaded and "two" not in loaded
    for outside in (len(ODD), -len(ODD) - 1):
        with pytest.raises(IndexError):
            loaded[outside]


def test_a_lookup_overtaken_by_a_save_is_not_remembered(tmp_path):
    """A lookup running while another thread adds and saves the same string must not leave
    "missing" behind in the memo once the string is saved."""
    table = StringTable()
    table.add("old")
    held = _save(table, tmp_path, None)
    real_find = table._find

    def find_during_a_save(line, crc):
        found = real_find(line, crc)
        table.add("new")
        table.save(tmp_path / "t.txt", tmp_path / "t-keys.npy", held)
        return found

    table._find = find_during_a_save
    assert table.get("new") is None  # the answer when it started
    del table._find
    assert table.get("new") == 1 and table.get_many(["new", "old"]) == [1, 0]


def test_same_hash_different_strings_are_told_apart(tmp_path):
    first, second = _crc_twins()
    table = StringTable()
    table.add(first)
    held = _save(table, tmp_path, None)
    loaded = _load(tmp_path, held)
    assert loaded.get(first) == 0 and loaded.get(second) is None
    loaded.add(second)
    loaded = _load(tmp_path, _save(loaded, tmp_path, held))
    assert (loaded.get(first), loaded.get(second)) == (0, 1)
    assert loaded.get_many([second, first]) == [1, 0]


def test_a_re_added_string_is_found_at_its_last_number(tmp_path):
    table = StringTable()
    for text in ["a", "b", "a"]:
        table.add(text)
    assert table.get("a") == 2
    loaded = _load(tmp_path, _save(table, tmp_path, None))
    assert loaded.get("a") == 2 and loaded.get_many(["a", "b"]) == [2, 1]
    loaded.add("b")
    assert loaded.get("b") == 3 and dict(loaded.items()) == {"a": 2, "b": 3}


def test_a_missing_or_stale_keys_file_is_rebuilt(tmp_path):
    table = StringTable()
    for i in range(50):
        table.add(f"w{i}")
    held = _save(table, tmp_path, None)
    (tmp_path / "t-keys.npy").unlink()
    assert _load(tmp_path, held).get("w7") == 7
    other = StringTable()
    other.add("x")
    other.save(tmp_path / "o.txt", tmp_path / "t-keys.npy", None)  # a keys file of 1 string
    assert _load(tmp_path, held).get("w49") == 49


def test_bytes_past_the_saved_length_are_ignored_and_cut(tmp_path):
    table = StringTable()
    table.add("kept")
    held = _save(table, tmp_path, None)
    with open(tmp_path / "t.txt", "ab") as fh:
        fh.write(b"half-written")
    loaded = _load(tmp_path, held)
    assert list(loaded) == ["kept"]
    loaded.add("next")
    held = _save(loaded, tmp_path, held)
    assert (tmp_path / "t.txt").read_bytes() == b"kept\nnext\n"
    assert list(_load(tmp_path, held)) == ["kept", "next"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.text(min_size=1, max_size=8), max_size=12), st.booleans()),
        max_size=6,
    )
)
def test_any_adds_and_saves_answer_as_a_dict_of_last_numbers(tmp_path_factory, steps):
    """Whatever is added, saved, loaded or materialized, lookups match a dict's."""
    folder = tmp_path_factory.mktemp("t")
    table, strings, held = StringTable(), [], None
    later = [t for added, _ in steps for t in added]  # looked up before they are added, too
    for added, reload in steps:
        for text in added:
            table.add(text)
        strings += added
        held = _save(table, folder, held)
        if reload:
            table = _load(folder, held)
        model = _model(strings)
        probes = [*later, "never-added"]
        assert list(table) == strings
        assert [table.get(t) for t in probes] == [model.get(t) for t in probes]
        assert table.get_many(probes) == [model.get(t) for t in probes]
    table.materialize()
    assert table.get_many([*strings, "never-added"]) == [
        _model(strings).get(t) for t in strings
    ] + [None]
