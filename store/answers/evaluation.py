"""Retrieval quality on question sets kept in the repo: Recall@1, Recall@3, MRR, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from store.answers.engine import Answers


def load_questions(path: Path | str) -> list[dict[str, Any]]:
    """`{"question", "expected": [titles]}` per line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def evaluate(answers: Answers, questions: list[dict[str, Any]], depth: int = 10) -> dict[str, Any]:
    """Recall@1/@3 and MRR of `ask` (ranks past the no-answer rule count as misses)."""
    r1 = r3 = rr = 0.0
    misses = []
    for item in questions:
        expected = set(item["expected"])
        titles = [hit.title for hit in answers.ask(item["question"], limit=depth).results]
        rank = next((i for i, t in enumerate(titles, 1) if t in expected), None)
        r1 += rank == 1
        r3 += rank is not None and rank <= 3
        rr += 1 / rank if rank else 0
        if rank != 1:
            misses.append({"question": item["question"], "rank": rank, "got": titles[:3]})
    n = max(len(questions), 1)
    return {
        "questions": len(questions),
        "recall@1": round(r1 / n, 4),
        "recall@3": round(r3 / n, 4),
        "mrr": round(rr / n, 4),
        "misses": misses,
    }


def facts(answers: Answers, items: list[dict[str, Any]]) -> dict[str, Any]:
    """How many fact questions' replies quote the fact (`{"question", "expected", "fact"}`): the
    expected paper is among the results and its snippet holds the fact verbatim."""
    missed = []
    for item in items:
        hits = answers.ask(item["question"]).results
        hit = next((h for h in hits if h.title in item["expected"]), None)
        if hit is None or item["fact"] not in hit.snippet:
            missed.append(
                {"question": item["question"], "fact": item["fact"], "got": hit and hit.snippet}
            )
    return {"questions": len(items), "quoted": len(items) - len(missed), "missed": missed}


def refusals(answers: Answers, questions: list[str]) -> dict[str, Any]:
    """How many off-topic questions get no results (they should all)."""
    answered = [q for q in questions if answers.ask(q).results]
    return {
        "questions": len(questions),
        "refused": len(questions) - len(answered),
        "answered": answered,
    }


def latency(answers: Answers, questions: list[str], warmup: int = 3) -> dict[str, float]:
    """p50/p95 wall time of `ask` in milliseconds, after a few warm-up calls."""
    import time

    for q in questions[:warmup]:
        answers.ask(q)
    times = []
    for q in questions:
        started = time.perf_counter()
        answers.ask(q)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    if not times:
        return {"p50": 0.0, "p95": 0.0, "n": 0}
    return {
        "p50": round(times[len(times) // 2], 2),
        "p95": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
        "n": len(times),
    }
