"""Choose the fusion's BM25 weight, and fit the no-answer decision, by cross-validation over
every question set.

python bench/crossval.py [--weights 0.2 0.3 ...]
python bench/crossval.py --decision     # fit store/answers/decision.py's FUSED and LEXICAL

The decision: each question's evidence (decision.Evidence) from the default engine; answerable
sets are label 1, the refusal sets (nonsense, the absent sets' dev halves) label 0. Leave one set
out: fitted on the others, with the threshold just below their lowest real question (an existing
test asks that no real question of the sets be refused), scored on the set left out. Then fitted on all and printed as the code to paste.

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

from bench.evaluate import DATA, absent_sets, question_sets  # noqa: E402
from store.answers import decision  # noqa: E402
from store.answers.engine import Answers  # noqa: E402
from store.answers.evaluation import evaluate, load_questions  # noqa: E402
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


REFUSE_SHARE = 0.0  # of the training sets' real questions refused at the threshold: none
MARGIN = 0.1  # the threshold sits this far (log-odds) below the lowest real question's score


def labelled_evidence(answers: Answers) -> dict[str, list[tuple[decision.Evidence, ...]]]:
    """Per set: (fused evidence, BM25-alone evidence, label) of each question used for fitting."""
    out: dict[str, list] = {}
    for name, items in dev_sets().items():
        out[name] = [(*_evidence(answers, i["question"]), 1) for i in items]
    facts = load_questions(DATA / "eval_facts.jsonl")
    out["facts"] = [(*_evidence(answers, i["question"]), 1) for i in facts]
    nonsense = [q for q in (DATA / "eval_nonsense.txt").read_text().splitlines() if q.strip()]
    out["nonsense"] = [(*_evidence(answers, q), 0) for q in nonsense]
    for name, items in absent_sets().items():
        if name.endswith(":dev"):
            out[name] = [(*_evidence(answers, i["question"]), 0) for i in items]
    return out


def _evidence(answers: Answers, question: str) -> tuple[decision.Evidence, decision.Evidence]:
    answers.last_evidence = (decision.Evidence(), decision.Evidence())
    answers.ask(question)
    return answers.last_evidence


def fit_model(rows: list, which: int, names: tuple[str, ...]) -> decision.Model:
    """A decision model fitted on these rows, its threshold at REFUSE_SHARE of the real ones."""
    x = [r[which].row(names) for r in rows]
    y = [r[2] for r in rows]
    means, scales, weights, intercept = decision.fit(x, y)
    model = decision.Model(names, means, scales, weights, intercept, 0.0)
    real = sorted(model.score(r[which]) for r in rows if r[2] == 1)
    cut = real[int(len(real) * REFUSE_SHARE)] - MARGIN
    return decision.Model(names, means, scales, weights, intercept, round(cut, 4))


def decision_report(answers: Answers) -> None:
    """Leave-one-set-out scores of both models, then the models fitted on every set."""
    sets = labelled_evidence(answers)
    for which, label, names in (
        (0, "FUSED", decision.FEATURES),
        (1, "LEXICAL", decision.LEXICAL_FEATURES),
    ):
        print(f"\n{label}: leave one set out (refused / questions of the set left out)")
        for left in sets:
            rows = [r for n, rs in sets.items() if n != left for r in rs]
            model = fit_model(rows, which, names)
            refused = sum(not model.answers(r[which]) for r in sets[left])
            kind = "real" if sets[left][0][2] else "refusal"
            print(f"  {left} ({kind}): {refused} / {len(sets[left])}")
        model = fit_model([r for rs in sets.values() for r in rs], which, names)
        print(f"{label} = {model!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    parser.add_argument("--decision", action="store_true", help="fit the no-answer decision")
    args = parser.parse_args()
    if args.decision:
        with tempfile.TemporaryDirectory() as tmp:
            db_path = Path(tmp) / "cv.db"
            db = store_db.open_db(db_path)
            store_db.ensure_seeded(db)
            decision_report(Answers(db, db_path, semantic=sem.Encoder()))
        return
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
