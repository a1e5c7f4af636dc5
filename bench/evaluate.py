"""Report answer quality and speed on the repo's question sets, for each stage configuration.

python bench/evaluate.py [--misses] [--json] [--config NAME ...]

Configurations, from each part alone to the default: `bm25` (plain BM25Okapi over the index),
`bm25+expansion` (acronyms mined from the collection and field synonyms), `semantic-alone`
(all-MiniLM-L6-v2 orders the candidates, BM25 only proposes some), and `fused` (the default:
BM25 with expansion and the embedding, fused by standard scores). For each: Recall@1/@3 on every
question set in tests/data (and each set's dev/test split), nonsense refusals, real questions
refused, and the p50/p95 latency of `ask` over all questions (the question's embedding included),
and the in-field absent / off-topic questions refused on each absent set and its dev/test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.answers.engine import Answers  # noqa: E402
from store.answers.evaluation import evaluate, facts, latency, load_questions, refusals  # noqa: E402
from store.collection import db as store_db  # noqa: E402
from store.semantic import stage as sem  # noqa: E402

DATA = ROOT / "tests" / "data"
# literal: reuse the abstracts' words. paraphrase: the development set of earlier work.
# paraphrase_heldout: written from the listing alone (easy for BM25). paraphrase_hard: written
# from the listing alone avoiding the titles' words and using at most two of the abstract's (BM25
# 0.30 top-3; dev/test split). names_typos: names, acronyms, typos, shorthand (dev/test split).
SETS = ("literal", "paraphrase", "paraphrase_heldout", "paraphrase_hard", "names_typos", "lab_b")
# Questions no paper answers, written from the listing alone by two helpers (bench/eval_sets.md):
# in-field absent topics (many near misses sharing a word with a real paper) and off-topic ones.
ABSENT = ("absent_a", "absent_b")

CONFIGS = {
    "bm25": {"expansion": False, "semantic": False},
    "bm25+expansion": {"expansion": True, "semantic": False},
    "semantic-alone": {"expansion": True, "semantic": "encoder", "lexical_weight": 0.0},
    "fused": {"expansion": True, "semantic": "encoder"},
}


def question_sets() -> dict[str, list[dict]]:
    """Every set, and each split of the sets that have one (as `name:dev`, `name:test`)."""
    out = {}
    for name in SETS:
        items = load_questions(DATA / f"eval_{name}.jsonl")
        out[name] = items
        for split in sorted({i["split"] for i in items if i.get("split")}):
            out[f"{name}:{split}"] = [i for i in items if i.get("split") == split]
    return out


def absent_sets() -> dict[str, list[dict]]:
    """The refusal sets written from the listing alone (in-field absent and off-topic
    questions), whole and by split (`absent_a:dev`...)."""
    out = {}
    for name in ABSENT:
        items = load_questions(DATA / f"eval_{name}.jsonl")
        out[name] = items
        for split in sorted({i["split"] for i in items if i.get("split")}):
            out[f"{name}:{split}"] = [i for i in items if i.get("split") == split]
    return out


def run(answers: Answers, sets: dict[str, list[dict]], misses: bool) -> dict:
    report: dict = {"stage": answers.stage}
    questions = []
    for name, items in sets.items():
        if ":" not in name:
            questions += [item["question"] for item in items]
        result = evaluate(answers, items)
        result["refused"] = sum(1 for m in result["misses"] if not m["got"])
        if not misses:
            result.pop("misses")
        report[name] = result
    nonsense = [q for q in (DATA / "eval_nonsense.txt").read_text().splitlines() if q.strip()]
    report["nonsense"] = refusals(answers, nonsense)
    for name, items in absent_sets().items():
        report[name] = {
            kind: refusals(answers, [i["question"] for i in items if i["kind"] == kind])
            for kind in ("absent", "offtopic")
        }
        if not misses:
            for r in report[name].values():
                r.pop("answered")
    report["facts"] = facts(answers, load_questions(DATA / "eval_facts.jsonl"))
    if not misses:
        report["facts"].pop("missed")
    report["latency_ms"] = latency(answers, questions + nonsense)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--misses", action="store_true", help="list the questions not answered first"
    )
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--config", action="append", choices=list(CONFIGS), help="only these")
    args = parser.parse_args()
    names = args.config or list(CONFIGS)
    encoder = sem.Encoder() if any(CONFIGS[n]["semantic"] for n in names) else None
    sets = question_sets()
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "eval.db"
        db = store_db.open_db(db_path)
        store_db.ensure_seeded(db)
        for name in names:
            options = dict(CONFIGS[name])
            if options["semantic"] == "encoder":
                options["semantic"] = encoder
            started = time.perf_counter()
            reports[name] = run(Answers(db, db_path, **options), sets, args.misses)
            reports[name]["setup_and_run_s"] = round(time.perf_counter() - started, 1)
    if args.json or args.misses:
        print(json.dumps(reports, indent=2, ensure_ascii=False))
        return
    print_table(reports, sets)


def print_table(reports: dict, sets: dict) -> None:
    """Markdown: one row per configuration, top-1 / top-3 per set, refusals, latency."""
    cols = list(sets)
    absent = list(absent_sets())
    print(
        "| configuration | "
        + " | ".join(cols)
        + " | nonsense refused | real refused | facts quoted | p50 / p95 ms | "
        + " | ".join(f"{a} absent / off-topic refused" for a in absent)
        + " |"
    )
    print("| --- " * (len(cols) + 5 + len(absent)) + "|")
    for name, r in reports.items():
        cells = [f"{r[c]['recall@1']:.2f} / {r[c]['recall@3']:.2f}" for c in cols]
        real = sum(r[c]["refused"] for c in cols if ":" not in c)
        non = r["nonsense"]
        lat = r["latency_ms"]
        print(
            f"| {name} | " + " | ".join(cells) + f" | {non['refused']}/{non['questions']} | "
            f"{real} | {r['facts']['quoted']}/{r['facts']['questions']} | "
            f"{lat['p50']:.1f} / {lat['p95']:.1f} | "
            + " | ".join(_refused(r[a]) for a in absent)
            + " |"
        )
    print("\nquestions: " + ", ".join(f"{c} {len(sets[c])}" for c in cols))


def _refused(kinds: dict) -> str:
    """'refused/questions' for the in-field absent and the off-topic questions of a set."""
    return " / ".join(f"{r['refused']}/{r['questions']}" for r in kinds.values())


if __name__ == "__main__":
    main()
