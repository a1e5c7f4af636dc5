#!/usr/bin/env python3
"""Word-overlap checker for paperbot evaluation question sets.

For every question of a JSONL set ({"question", "expected", ...}) this prints
the content words the question shares with its FIRST expected paper's title
and abstract, compared after lowercasing and Snowball English stemming
(PyStemmer).  Content word = lowercase alphabetic token ([a-z]+) of two or
more letters that is not in the stopword list below.

Rule for the "paraphrase hard" set (enforced with --strict):
  * the question shares NO content word with the title of any of its
    expected papers, and
  * it shares at most MAX_ABSTRACT (2) content words with the abstract of its
    first expected paper.

Every expected title must exist verbatim in the listing, and for fact
questions ({"fact": ...}) the fact must be an exact, case-sensitive substring of
the first expected paper's abstract (both always checked).

Usage:  python bench/check_overlap.py [--strict] [--quiet] SET.jsonl [SET.jsonl ...]
Exit status 1 if a title is unknown or a fact is not found, or if --strict and any question violates
the rule; 0 otherwise.
"""

import argparse
import json
import os
import re
import sys

import Stemmer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from listing import parse_listing  # noqa: E402

MAX_ABSTRACT = 2

STOPWORDS = set(
    """
a about above across after again against all almost along also although always am among an and another any anybody
anyone anything anywhere are aren around as at be became because become been before being below between both but by
can cannot could couldn did didn do does doesn doing don done down during each either else enough etc even ever every
few for from further get gets getting got had hadn has hasn have haven having he her here hers herself him himself his
how however i if in into is isn it its itself just least less let like ll m made make makes many may maybe me might
mine more most much must my myself need needs no nor not now of off often on once one only onto or other others our
ours ourselves out over own per please quite rather re really s said same say says see seem seems shall she should
shouldn since so some something somewhere still such t than that the their theirs them themselves then there these
they thing things this those though through thus to too toward towards under until up upon us ve very via was wasn
we were weren what whatever when where whereas whether which while who whom whose why will with within without won
would wouldn yet you your yours yourself yourselves
what which who whom whose where when why how
paper papers model models method methods approach approaches work works use used uses using
anyone someone somebody know knows remember recall anybody hey hi hmm ok okay guys folks thanks thx pls lol
did does do is are was were there here one ones stuff kind sort way instead etc vs
""".split()
)

_stemmer = Stemmer.Stemmer("english")
STOP_STEMS = set(_stemmer.stemWords(sorted(STOPWORDS))) | STOPWORDS


def content_stems(text):
    """Set of stemmed content words of text."""
    toks = re.findall(r"[a-z]+", text.lower())
    toks = [t for t in toks if len(t) > 1 and t not in STOPWORDS]
    stems = _stemmer.stemWords(toks)
    return {s for s in stems if s not in STOP_STEMS}


def load_set(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                rows.append((n, json.loads(line)))
    return rows


def check_file(path, titles, strict, quiet):
    by_title = dict(titles)
    rows = load_set(path)
    bad_titles = 0
    violations = 0
    abs_counts = []
    print("== %s (%d questions)%s" % (path, len(rows), " [strict]" if strict else ""))
    for n, q in rows:
        exp = q.get("expected") or []
        missing = [t for t in exp if t not in by_title]
        if not exp or missing:
            bad_titles += 1
            print("  line %d: UNKNOWN expected title(s): %r" % (n, missing or exp))
            continue
        if "fact" in q and q["fact"] not in by_title[exp[0]]:
            bad_titles += 1
            print("  line %d: FACT NOT IN ABSTRACT: %r" % (n, q["fact"]))
        qs = content_stems(q["question"])
        title_forbidden = set()
        for t in exp:
            title_forbidden |= content_stems(t)
        shared_title = sorted(qs & title_forbidden)
        shared_abs = sorted(qs & content_stems(by_title[exp[0]]))
        abs_counts.append(len(shared_abs))
        viol = bool(shared_title) or len(shared_abs) > MAX_ABSTRACT
        flag = ""
        if viol:
            flag = "  <-- VIOLATION" if strict else "  (would violate strict rule)"
            violations += 1
        if not quiet or (viol and strict):
            print(
                "  line %d: title=%s abstract=%s%s | %s"
                % (n, shared_title, shared_abs, flag, q["question"])
            )
    hist = {}
    for c in abs_counts:
        hist[c] = hist.get(c, 0) + 1
    print(
        "  summary: %d questions, %d with unknown titles or missing facts, %d strict-rule violations; "
        "abstract-overlap histogram %s"
        % (
            len(rows),
            bad_titles,
            violations,
            ", ".join("%d words: %d" % (k, hist[k]) for k in sorted(hist)),
        )
    )
    return bad_titles, violations


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+")
    ap.add_argument(
        "--strict", action="store_true", help="enforce the no-title-word / <=2-abstract-word rule"
    )
    ap.add_argument("--quiet", action="store_true", help="only print violations and summaries")
    args = ap.parse_args()
    titles = parse_listing()
    fail = False
    for p in args.sets:
        bad, viol = check_file(p, titles, args.strict, args.quiet)
        if bad or (args.strict and viol):
            fail = True
    sys.exit(1 if fail else 0)


if __name__ == "__main__":
    main()
