"""Importers: every format, dedup across versions and sources, idempotence, refusals, seed links."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.collection import db as store_db
from store.collection.clean import clean_abstract, collapse_spaces, extract_links
from store.collection.importers import FormatError, parse_text, read_file
from tests.conftest import FIXTURES

SEED_LINKS = [
    "https://github.com/OpenGVLab/InternGPT",
    "https://github.com/OpenGVLab/VisionLLM",
    "https://github.com/om-ai-lab/RS5M",
    "https://github.com/muzairkhattak/multimodal-prompt-learning",
    "https://github.com/wangjk666/OmniVid",
    "https://github.com/salesforce/LAVIS/tree/main/projects/instructblip",
    "https://github.com/deepglint/RealSyn",
    "https://github.com/microsoft/FIBER",
    "https://github.com/OpenAI/CLIP",
    "https://vitron-llm.github.io/",
    "https://github.com/Haiyang-W/GiT",
    "https://github.com/ZhanYang-nwpu/SkyEyeGPT",
    "https://github.com/jingyi0000/VLM_survey",
    "https://github.com/OpenGVLab/TPO",
    "https://casia-iva-group.github.io/projects/VALOR",
    "https://github.com/Alpha-VLLM/LLaMA2-Accessory",
    "https://github.com/deepglint/Croc",
    "https://github.com/ziqipang/LM4VisualEncoding",
    "https://github.com/RupertLuo/Valley",
    "https://github.com/Sara-Ahmed/SiT",
    "https://github.com/KevinLight831/CTP",
    "https://crfm.stanford.edu/helm/vhelm/v2.0.1",
    "https://github.com/hkust-nlp/PreSelect",
    "https://github.com/jmerullo/limber",
    "https://github.com/alibaba/AliceMind",
    "https://github.com/yu-rp/VisualPerceptionToken",
    "https://github.com/jy0205/LaVIT",
    "https://github.com/WebVLN/WebVLN",
    "https://pivot-prompt.github.io",
    "https://huggingface.co/spaces/pivot-prompt/pivot-prompt-demo",
    "https://github.com/SparksJoe/Prism",
    "https://github.com/kaist-dmlab/pcb",
    "https://github.com/zjukg/Structure-CLIP",
    "https://github.com/airsplay/lxmert",
    "https://github.com/salesforce/CodeT5",
    "https://github.com/Hao840/ADEM-VL",
    "https://github.com/thunlp/muffin",
    "https://huggingface.co/OpenGVLab/HoVLE",
    "https://github.com/baaivision/EVE",
    "https://github.com/sony/aki",
    "https://anonymous.4open.science/r/mocoop-6387",
    "https://www.github.com/devaansh100/CLIPTrans",
    "https://github.com/sail-sg/ptp",
    "https://github.com/zzxslp/SoM-LLaVA",
    "https://github.com/YuchenLiu98/COMM",
    "https://huggingface.co/Tyrannosaurus/ArtGPT-4",
]


def all_papers(db) -> list[dict]:
    return list(store_db.iter_export(db))


def test_seed_listing_gives_91_papers_with_exact_links(seeded_db):
    papers = all_papers(seeded_db)
    assert len(papers) == 91
    assert papers[0]["title"].startswith("CroCo: Self-Supervised Pre-training")
    assert not any(p["title"] in ("new", "Subscribe", "Mar 12") for p in papers)
    urls = [link["url"] for p in papers for link in p["links"]]
    assert urls == SEED_LINKS
    assert sum(1 for p in papers if p["links"]) == 44


def test_seed_link_kinds(seeded_db):
    kinds = {link["url"]: link["kind"] for p in all_papers(seeded_db) for link in p["links"]}
    assert kinds["https://huggingface.co/spaces/pivot-prompt/pivot-prompt-demo"] == "demo"
    assert kinds["https://huggingface.co/OpenGVLab/HoVLE"] == "model"
    assert kinds["https://pivot-prompt.github.io"] == "project"
    assert kinds["https://github.com/salesforce/CodeT5"] == "code"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://github.com/a/b.", ["https://github.com/a/b"]),
        ("at https://github.com/sony/aki, and", ["https://github.com/sony/aki"]),
        (
            "(https://crfm.stanford.edu/helm/vhelm/v2.0.1).",
            ["https://crfm.stanford.edu/helm/vhelm/v2.0.1"],
        ),
        ("at https: //github.com/salesforce/CodeT5 .", ["https://github.com/salesforce/CodeT5"]),
        ("www.github.com/devaansh100/CLIPTrans.", ["https://www.github.com/devaansh100/CLIPTrans"]),
        ("page: pivot-prompt.github.io and more", ["https://pivot-prompt.github.io"]),
        ("no links here, e.g. 85.3% on ImageNet-1K.", []),
    ],
)
def test_link_repair(text, expected):
    assert [link["url"] for link in extract_links(text)] == expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("over 60\\% mAP", "over 60% mAP"),
        ("improves by 5-6 \\% in", "improves by 5-6% in"),
        ("a ``blind faith in text'' effect", 'a "blind faith in text" effect'),
        ("by 3%sim20% in", "by 3%–20% in"),
        ("into Ntimes N blocks", "into N×N blocks"),
        ("As illustrated in Fig.~reffig:case (a), the", "As illustrated in Fig. case (a), the"),
    ],
)
def test_latex_residue_cleaned(raw, clean):
    assert clean_abstract(raw) == clean


def test_ours_macro_becomes_the_papers_name(seeded_db):
    ufo = [p for p in all_papers(seeded_db) if p["title"].startswith("UFO:")][0]
    assert "we present UFO, a framework" in ufo["abstract"]
    assert "\\ours" in ufo["raw"]


def test_reimport_changes_nothing(seeded_db):
    again = store_db.upsert_papers(seeded_db, parse_text(store_db.bundled_listing()))
    assert str(again) == "0 new, 0 updated, 91 unchanged"


def test_hf_daily_array(fresh_db):
    records = parse_text(read_file(FIXTURES / "hf_daily.json"))
    assert store_db.upsert_papers(fresh_db, records).new == 2
    glacier = store_db.get_paper(fresh_db, "2504.08385")
    assert glacier["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert glacier["keywords"] == ["ice sheets", "satellite imagery", "vision-language model"]
    assert glacier["listed"] == "2025-04-14" and glacier["published"] == "2025-04-11"
    assert "71.2% accuracy" in glacier["abstract"]
    assert glacier["links"] == [
        {"url": "https://github.com/example/glacier", "kind": "code"},
        {"url": "https://example.github.io/glacier", "kind": "project"},
    ]
    assert store_db.get_paper(fresh_db, "2504.09999")["links"] == []


def test_hf_single_paper_object(fresh_db):
    store_db.upsert_papers(fresh_db, parse_text(read_file(FIXTURES / "hf_paper.json")))
    orbit = store_db.get_paper(fresh_db, "2505.00001")
    assert {link["kind"] for link in orbit["links"]} == {"demo", "model", "code"}


def test_arxiv_versions_update_not_duplicate(fresh_db):
    first = store_db.upsert_papers(fresh_db, parse_text(read_file(FIXTURES / "arxiv_v1.atom")))
    assert first.new == 2
    second = store_db.upsert_papers(fresh_db, parse_text(read_file(FIXTURES / "arxiv_v2.atom")))
    assert (second.new, second.updated) == (0, 1)
    glacier = store_db.get_paper(fresh_db, "2504.08385v2")
    assert glacier["version"] == 2 and "Second version" in glacier["abstract"]
    assert glacier["title"] == "Glacier: Tracking Ice Sheets with Vision-Language Models"
    # an older version seen later changes nothing
    third = store_db.upsert_papers(fresh_db, parse_text(read_file(FIXTURES / "arxiv_v1.atom")))
    assert (third.new, third.updated, third.unchanged) == (0, 0, 2)
    assert "Second version" in store_db.get_paper(fresh_db, "2504.08385")["abstract"]


def test_same_paper_from_hf_and_arxiv_is_stored_once(fresh_db):
    store_db.upsert_papers(fresh_db, parse_text(read_file(FIXTURES / "arxiv_v1.atom")))
    result = store_db.upsert_papers(fresh_db, parse_text(read_file(FIXTURES / "hf_daily.json")))
    assert (result.new, result.updated) == (
        1,
        1,
    )  # Lighthouse is new, Glacier gains keywords + link
    assert store_db.paper_count(fresh_db) == 3
    glacier = store_db.get_paper(fresh_db, "2504.08385")
    assert glacier["keywords"] == [
        "cs.CV",
        "cs.CL",
        "ice sheets",
        "satellite imagery",
        "vision-language model",
    ]
    assert "https://example.github.io/glacier" in [link["url"] for link in glacier["links"]]


def test_title_dedup_merges_seed_paper_with_its_arxiv_record(seeded_db):
    record = {
        "id": "2303.00001",
        "arxiv_id": "2303.00001",
        "title": "  VisionLLM: Large Language Model is also an Open-Ended Decoder for Vision-Centric TASKS ",
        "abstract": "x" * 300,
    }
    result = store_db.upsert_papers(seeded_db, parse_text(json.dumps(record)))
    assert (result.new, result.updated) == (0, 1)
    paper = store_db.get_paper(seeded_db, "2303.00001")
    assert paper["id"].startswith("t-")  # the stored id stays stable
    assert paper["arxiv_id"] == "2303.00001"


def test_jsonl_round_trip(seeded_db, tmp_path):
    exported = all_papers(seeded_db)
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in exported) + "\n")
    other = store_db.open_db(tmp_path / "other.db")
    result = store_db.upsert_papers(other, parse_text(read_file(path)))
    assert result.new == 91
    strip = lambda p: {k: v for k, v in p.items() if k != "added_at"}  # noqa: E731
    assert [strip(p) for p in all_papers(other)] == [strip(p) for p in exported]
    assert (
        str(store_db.upsert_papers(other, parse_text(read_file(path))))
        == "0 new, 0 updated, 91 unchanged"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("just a note\nnothing else\n", "unknown format"),
        ('[{"paper": {"id": "1", "title": "T"', "broken JSON at line 1"),
        ('[{"paper": {"id": "2504.1", "title": 5, "summary": "s"}}]', "item 1: title must be text"),
        ('[{"paper": {"id": "2504.1", "summary": "an abstract"}}]', "item 1: missing title"),
        (
            '{"id": "a", "title": "t", "abstract": "a"}\n{"id": "b", "title": "t2"',
            "line 2: broken JSON",
        ),
        ("<feed><entry>", "broken XML"),
    ],
)
def test_broken_input_is_refused_with_reason(content, reason):
    with pytest.raises(FormatError, match=reason):
        parse_text(content)


def test_listing_title_without_abstract_names_the_line():
    text = "Header\n\nTitle One\n\n" + "word " * 60 + "\n\nDangling Title\n"
    with pytest.raises(FormatError, match="line 7: title without an abstract"):
        parse_text(text)


def test_arxiv_error_feed_refused():
    with pytest.raises(FormatError, match="arXiv answered an error"):
        parse_text(read_file(FIXTURES / "arxiv_error.atom"))


def test_failed_write_leaves_database_untouched(seeded_db):
    before = all_papers(seeded_db)
    good = parse_text(read_file(FIXTURES / "hf_daily.json"))
    seeded_db.execute(  # the second paper's write fails, as a full disk would
        "create trigger fail before insert on papers when new.title like 'Lighthouse%' "
        "begin select raise(abort, 'simulated write failure'); end"
    )
    with pytest.raises(store_db.StoreError, match="nothing was imported"):
        store_db.upsert_papers(seeded_db, good)
    assert all_papers(seeded_db) == before


# ---------------------------------------------------------------- bulk JSON Lines and fast paths


def test_big_jsonl_parsed_in_a_pool_gives_the_same_records(tmp_path, monkeypatch):
    from store.collection import importers

    lines = [
        json.dumps(
            {
                "title": f"Paper {i}",
                "abstract": f"Abstract {i} with code at https://github.com/a/b{i}. 60\\% done.",
            }
        )
        for i in range(50)
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    sequential = list(importers.iter_file(path))
    monkeypatch.setattr(importers, "POOL_BYTES", 1)
    monkeypatch.setattr(importers, "POOL_LINES", 7)
    assert list(importers.iter_file(path)) == sequential
    assert sequential[3]["links"] == [{"url": "https://github.com/a/b3", "kind": "code"}]
    path.write_text("\n".join(lines[:40] + ["{broken"] + lines[40:]) + "\n")
    with pytest.raises(FormatError, match="line 41: broken JSON"):
        list(importers.iter_file(path))


def _reference_collapse(text: str) -> str:
    text = "".join(ch if ch.isprintable() or ch in " \n\t" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x1f\x00\x85\xa0\u2028\u3000é.")),
        max_size=30,
    )
)
def test_collapse_spaces_matches_its_regex_definition(text):
    assert collapse_spaces(text) == _reference_collapse(text)


_LINKISH = list("ab.-/:@ \n\t()<>\"'`,") + [
    "http",
    "s",
    "://",
    "https: //",
    "HTTP:  //",
    "www.",
    "WWW.",
    "github.com",
    "GitHub.io",
    "gitlab.com",
    "huggingface.co/x/y",
    "é",
    "\u212a",
    ".com/",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_LINKISH), max_size=20).map("".join))
def test_link_extraction_matches_scanning_the_whole_text(text):
    """The needle pre-check and per-piece scan find exactly what the regex finds in the whole text."""
    from store.collection.clean import _LINK, fix_broken_schemes

    expected, seen = [], set()
    for match in _LINK.finditer(fix_broken_schemes(text)):
        url = match.group(0).rstrip(".,;:!?'\"`")
        if not re.match(r"https?://", url, re.IGNORECASE):
            url = "https://" + url
        host = re.sub(r"^https?://", "", url, flags=re.IGNORECASE).split("/")[0]
        if "." in host and url.lower() not in seen:
            seen.add(url.lower())
            expected.append(url)
    assert [link["url"] for link in extract_links(text)] == expected


def test_raw_text_is_stored_only_when_cleaning_changed_it(tmp_path):
    """Most abstracts need no cleaning: their raw text is not stored twice (half the database),
    yet every paper still exports its raw text, and re-importing the export changes nothing."""
    from store.collection.importers.jsonl import iter_records

    db = store_db.open_db(tmp_path / "p.db")
    clean = {"id": "a1", "title": "Plain", "abstract": "Nothing to clean here."}
    latex = {"id": "a2", "title": "Ours: A Model", "abstract": "We gain 5\\% with \\ours."}
    store_db.upsert_papers(db, iter_records(json.dumps(p) for p in (clean, latex)))
    stored = dict(db.execute("select id, raw from papers").fetchall())
    assert stored == {"a1": None, "a2": "We gain 5\\% with \\ours."}
    exported = {p["id"]: p for p in store_db.iter_export(db)}
    assert exported["a1"]["raw"] == exported["a1"]["abstract"] == "Nothing to clean here."
    assert exported["a2"]["raw"] == "We gain 5\\% with \\ours."
    assert exported["a2"]["abstract"] == "We gain 5% with Ours."
    again = store_db.upsert_papers(db, iter_records(json.dumps(p) for p in exported.values()))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)


def test_a_field_of_control_characters_only_is_missing():
    """Hypothesis found it: "\\x1b" is not whitespace, so it passed the check, then cleaning left an
    empty abstract that was imported as a paper."""
    with pytest.raises(FormatError, match="item 1: missing abstract"):
        parse_text(json.dumps([{"paper": {"title": "0", "summary": "\x1b"}}]))
