"""Choose the fusion's BM25 weight by cross-validation over every question set.

python bench/crossval.py [--weights 0.2 0.3 ...]

For each weight, top-1 and top-3 on each set's development questions (the sets with a dev/test
split contribute dev only; the test halves are never used to choose). Leave-one-set-out: the
weight best on the other sets' mean of top-1 and top-3 is scored on the set left out.
Prints the table, the left-out scores, and the weight best over all development questions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.evaluate import question_sets  # noqa: E402
from store.answers.engine import Answers  # noqa: E402
from store.answers.evaluation import evaluate  # noqa: E402
from store.collection import db as store_db  # noqa: E402
from store.semantic import stage as sem  # noqa: E402


def dev_sets() -> dict[str, list[dict]]:
    """Each set's questions used for choosing: its dev split if it has one, else all of it."""
    sets = question_sets()
    return {name: sets.get(f"{name}:dev", items) for name, items in sets.items() if ":" not in name}


def choose(table: dict[float, dict[str, tuple[float, float]]], names: list[str]) -> float:
    """The weight with the best mean of top-1 and top-3 over these sets (the first answer is the
    one read, the next two are the ones glanced at); ties go to the weight nearest 0.5."""

    def mean(w: float) -> float:
        return sum(sum(table[w][n]) / 2 for n in names) / len(names)

    return max(table, key=lambda w: (round(mean(w), 4), -abs(w - 0.5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    args = parser.parse_args()
    sets = dev_sets()
    encoder = sem.Encoder()
    table: dict[float, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "cv.db"
        db = store_db.open_db(db_path)
        store_db.ensure_seeded(db)
        for weight in args.weights:
            answers = Answers(db, db_path, semantic=encoder, lexical_weight=weight)
            table[weight] = {}
            for name, items in sets.items():
                r = evaluate(answers, items)
                table[weight][name] = (r["recall@1"], r["recall@3"])
    names = list(sets)
    print("| BM25 weight | " + " | ".join(names) + " |")
    print("| --- " * (len(names) + 1) + "|")
    for w, row in table.items():
        print(f"| {w} | " + " | ".join(f"{row[n][0]:.2f} / {row[n][1]:.2f}" for n in names) + " |")
    print(
        "\nleave one set out (weight chosen on the others -> its top-1 / top-3 on the one left out):"
    )
    for left in names:
        w = choose(table, [n for n in names if n != left])
        print(f"  {left}: {w} -> {table[w][left][0]:.2f} / {table[w][left][1]:.2f}")
    print(f"\nchosen over all development questions: {choose(table, names)}")


if __name__ == "__main__":
    main()
