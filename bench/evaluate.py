"""Report answer quality and speed on the repo's question sets, for each stage configuration.

python bench/evaluate.py [--misses] [--json] [--config NAME ...]

Configurations: bm25 (plain BM25Okapi over the index), bm25+expansion (acronyms mined from the
collection and field synonyms), bm25+expansion+rm3 (plus pseudo-relevance feedback), and
bm25+expansion+semantic (plus all-MiniLM-L6-v2 fusion, the numpy encoder of store/encoder.py).
For each: Recall@1/@3 and MRR on the literal, paraphrase and held-out paraphrase sets, nonsense refusals, and the p50
and p95 latency of `ask` over all questions (the question's embedding included).
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

from store import db as store_db  # noqa: E402
from store import semantic as sem  # noqa: E402
from store.answers import Answers  # noqa: E402
from store.evaluation import evaluate, latency, load_questions, refusals  # noqa: E402

DATA = ROOT / "tests" / "data"
# paraphrase: written alongside the expansion vocabulary and the fusion weights (a development set);
# heldout: written afterwards from the listing alone, never used to tune anything.
SETS = ("literal", "paraphrase", "paraphrase_heldout")

CONFIGS = {
    "bm25": {"expansion": False, "feedback": False, "semantic": False},
    "bm25+expansion": {"expansion": True, "feedback": False, "semantic": False},
    "bm25+expansion+rm3": {"expansion": True, "feedback": True, "semantic": False},
    "bm25+expansion+semantic": {"expansion": True, "feedback": False, "semantic": "encoder"},
}


def run(db, db_path: Path, name: str, config: dict, encoder, args) -> dict:
    options = dict(config)
    if options["semantic"] == "encoder":
        options["semantic"] = encoder
    answers = Answers(db, db_path, **options)
    report: dict = {"stage": answers.stage}
    questions = []
    for set_name in SETS:
        items = load_questions(DATA / f"eval_{set_name}.jsonl")
        questions += [item["question"] for item in items]
        result = evaluate(answers, items)
        if not args.misses:
            result.pop("misses")
        report[set_name] = result
    nonsense = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
    nonsense = [q for q in nonsense if q.strip()]
    report["nonsense"] = refusals(answers, nonsense)
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
    encoder = None
    if any(CONFIGS[n]["semantic"] for n in names):
        if sem.installed():
            encoder = sem.Encoder()
        else:
            print("semantic stage not installed (model folder missing): skipped", file=sys.stderr)
            names = [n for n in names if not CONFIGS[n]["semantic"]]
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "eval.db"
        db = store_db.open_db(db_path)
        store_db.ensure_seeded(db)
        for name in names:
            started = time.perf_counter()
            reports[name] = run(db, db_path, name, CONFIGS[name], encoder, args)
            reports[name]["setup_and_run_s"] = round(time.perf_counter() - started, 1)
    if args.json or args.misses:
        print(json.dumps(reports, indent=2, ensure_ascii=False))
        return
    head = f"{'configuration':26} {'lit R@1':>7} {'lit R@3':>7} {'par R@1':>7} {'par R@3':>7} {'held R@1':>8} {'held R@3':>8} {'nonsense':>9} {'p50 ms':>7} {'p95 ms':>7}"
    print(head)
    print("-" * len(head))
    for name, r in reports.items():
        lit, par, non, lat = r["literal"], r["paraphrase"], r["nonsense"], r["latency_ms"]
        held = r["paraphrase_heldout"]
        print(
            f"{name:26} {lit['recall@1']:7.2f} {lit['recall@3']:7.2f} {par['recall@1']:7.2f} "
            f"{par['recall@3']:7.2f} {held['recall@1']:8.2f} {held['recall@3']:8.2f} "
            f"{non['refused']:>4}/{non['questions']:<4} "
            f"{lat['p50']:7.1f} {lat['p95']:7.1f}"
        )
    sizes = {
        k: v["questions"]
        for k, v in next(iter(reports.values())).items()
        if isinstance(v, dict) and "questions" in v
    }
    print(f"\nquestions: {sizes}")


if __name__ == "__main__":
    main()
