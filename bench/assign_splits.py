#!/usr/bin/env python3
"""Seeded dev/test split assignment, balanced by BM25 difficulty.

Questions are bucketed by the rank plain BM25 (bench/bm25_baseline.py) gives
their best expected paper (1 / 2-3 / 4-10 / >10); each bucket is shuffled with
random.Random(seed) and its members alternately assigned dev/test, continuing
the alternation across buckets.  Rewrites the file in place (order kept).

A refusal set (rows without "expected": eval_absent_*.jsonl) is bucketed by its "kind"
(absent, offtopic) instead, so dev and test each hold both kinds.

Usage:  python bench/assign_splits.py SET.jsonl SEED
Seeds used: eval_paraphrase_hard.jsonl 20240611, eval_names_typos.jsonl 7,
eval_absent_a.jsonl 19, eval_absent_b.jsonl 1919.
"""

import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bm25_baseline import build_index, rank  # noqa: E402
from listing import parse_listing  # noqa: E402


def main():
    path, seed = sys.argv[1], int(sys.argv[2])
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    if all("expected" not in q for q in rows):
        kinds = sorted({q.get("kind", "") for q in rows})
        best = [kinds.index(q.get("kind", "")) for q in rows]

        def bucket(b):
            return b

    else:
        papers = parse_listing()
        titles = [t for t, _ in papers]
        bm25 = build_index(papers)
        best = []
        for q in rows:
            r = rank(bm25, titles, q["question"])
            best.append(min(r.index(t) + 1 for t in q["expected"]))

        def bucket(b):
            return 0 if b == 1 else 1 if b <= 3 else 2 if b <= 10 else 3

    rng = random.Random(seed)
    flip = 0
    for bk in range(4):
        members = [i for i in range(len(rows)) if bucket(best[i]) == bk]
        rng.shuffle(members)
        for i in members:
            rows[i]["split"] = ("dev", "test")[flip]
            flip ^= 1
    with open(path, "w", encoding="utf-8") as f:
        for q in rows:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    print(
        "%s: dev=%d test=%d"
        % (path, sum(q["split"] == "dev" for q in rows), sum(q["split"] == "test" for q in rows))
    )


if __name__ == "__main__":
    main()
