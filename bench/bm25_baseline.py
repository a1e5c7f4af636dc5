#!/usr/bin/env python3
"""Plain BM25 baseline over the paper listing, as a hardness check.

Each paper is one document: title tokens twice + abstract tokens.  Tokens are
lowercase alphanumeric runs ([a-z0-9]+), stopwords removed (same list as
bench/check_overlap.py), Snowball English stemmed with PyStemmer.  Queries are
tokenized the same way and scored with rank_bm25.BM25Okapi (default
parameters).  A question is a hit at k if ANY of its expected titles is in the
top k.  Prints top-1 / top-3 recall per set and per split.

Usage:  python bench/bm25_baseline.py SET.jsonl [SET.jsonl ...] [--show-hits]
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

import Stemmer
from rank_bm25 import BM25Okapi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_overlap import STOPWORDS  # noqa: E402
from listing import parse_listing  # noqa: E402

_stemmer = Stemmer.Stemmer("english")


def tokenize(text):
    toks = [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOPWORDS]
    return _stemmer.stemWords(toks)


def build_index(papers):
    docs = [tokenize(t) * 2 + tokenize(a) for t, a in papers]
    return BM25Okapi(docs)


def rank(bm25, titles, question):
    scores = bm25.get_scores(tokenize(question))
    order = sorted(range(len(titles)), key=lambda i: (-scores[i], i))
    return [titles[i] for i in order]


def evaluate(path, bm25, titles, show):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    groups = {"all": []}
    for q in rows:
        ranked = rank(bm25, titles, q["question"])
        exp = set(q["expected"])
        best = min((ranked.index(t) + 1 for t in exp if t in ranked), default=999)
        groups["all"].append(best)
        if "split" in q:
            groups.setdefault(q["split"], []).append(best)
        if show:
            print("  rank %3d  %s  -> top1: %s" % (best, q["question"], ranked[0][:60]))
    print(f"== {path}")
    out = {}
    for g in sorted(groups, key=lambda g: (g != "all", g)):
        r = groups[g]
        if not r:
            continue
        t1 = sum(b <= 1 for b in r) / len(r)
        t3 = sum(b <= 3 for b in r) / len(r)
        out[g] = (len(r), t1, t3)
        print("  %-5s n=%3d  top1=%.3f  top3=%.3f" % (g, len(r), t1, t3))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--show-hits", action="store_true", help="print rank per question")
    args = ap.parse_args()
    papers = parse_listing()
    titles = [t for t, _ in papers]
    bm25 = build_index(papers)
    for p in args.sets:
        evaluate(p, bm25, titles, args.show_hits)


if __name__ == "__main__":
    main()
