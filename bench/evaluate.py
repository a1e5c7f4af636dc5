"""Report answer quality on the repo's question sets (literal, paraphrase, nonsense).

python bench/evaluate.py [--misses]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from store.answers import Answers
from store.evaluation import evaluate, load_questions, refusals

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--misses", action="store_true", help="list the questions not answered first"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        answers = Answers.open(Path(tmp) / "eval.db")
        report = {}
        for name in ("literal", "paraphrase"):
            result = evaluate(answers, load_questions(DATA / f"eval_{name}.jsonl"))
            if not args.misses:
                result.pop("misses")
            report[name] = result
        nonsense = (DATA / "eval_nonsense.txt").read_text(encoding="utf-8").splitlines()
        report["nonsense"] = refusals(answers, [q for q in nonsense if q.strip()])
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
