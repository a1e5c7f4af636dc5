"""A/B in one run: this tree against another revision, on the same generated collection.

    /work/venv/bin/python -m bench.run --sizes 100000 --against HEAD~1

The other revision is checked out as a git worktree (bench/out/ab-<rev>, detached) and run with
the same interpreter and installed dependencies, so the comparison is of the two code trees and
nothing else. Each tree imports the collection into its own database (its own `phase_import`, run
one after the other, the order alternating between sizes); cold start is a fresh process per
try (process start to the first answer), alternating A, B, B, A, ...; questions go to two
long-lived processes, one per tree, question by question (which tree hears a question first
alternates), after a warm-up pass each, so both see the same load at the same moment. Each answer
reports its wall and CPU time (the process's, scan threads included). Two question mixes: the
bench's (bench/synth.py `questions`) and common words only (2-9 of the collection's 3,000 most
frequent words). The load average is read before and after each part: the machine is shared.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve()
COLD_TRIES = 5
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-']*[A-Za-z0-9]")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def common_questions(data: Path, count: int, seed: int) -> list[str]:
    """Questions of 2-9 words drawn from the collection's 3,000 most frequent (stop words left
    out: they are dropped before the index sees them), counted over its first file."""
    import numpy as np

    from store.text import STOPWORDS

    counts: Counter[str] = Counter()
    first = sorted(data.glob("papers-*.jsonl"))[0]
    with open(first, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= 5000:
                break
            paper = json.loads(line)
            counts.update(
                w.lower() for w in _WORD_RE.findall(paper["title"] + " " + paper["abstract"])
            )
    words = [w for w, _ in counts.most_common() if w not in STOPWORDS and len(w) > 2][:3000]
    rng = np.random.default_rng([seed, 3000])
    return [
        " ".join(rng.choice(words, size=int(rng.integers(2, 10)), replace=False))
        for _ in range(count)
    ]


def checkout(rev: str, out: Path) -> Path:
    """The revision as a detached worktree under `out` (made once, reused while it matches)."""
    sha = subprocess.run(
        ["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = out / f"ab-{sha[:10]}"
    if not tree.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), sha],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return tree


def _env(tree: Path, semantic: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if not semantic:
        env["PAPERBOT_SEMANTIC"] = "off"
    return env


def _phase(tree: Path, phase: str, args, data: Path, work: Path, size: int) -> dict:
    """One of bench/run.py's phases, as that tree's own bench/run.py does it."""
    cmd = [sys.executable, "-m", "bench.run", "--phase", phase, "--size", str(size)]
    cmd += ["--data", str(data), "--work", str(work), "--queries", str(args.queries)]
    cmd += ["--seed", str(args.seed)]
    proc = subprocess.run(
        cmd, cwd=tree, capture_output=True, text=True, env=_env(tree, args.semantic)
    )
    if proc.returncode:
        raise RuntimeError(f"{tree.name} {phase}: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _worker(tree: Path, db: Path, mode: str, semantic: bool) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(db)],
        cwd=tree,
        env=_env(tree, semantic),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def cold_start(tree: Path, db: Path, question: str, semantic: bool) -> dict:
    """Process start to the first answer, from outside, with the worker's own breakdown."""
    t = time.perf_counter()
    proc = _worker(tree, db, "cold", semantic)
    out, _ = proc.communicate(question + "\n", timeout=600)
    got = json.loads(out.strip().splitlines()[-1])
    got["total_s"] = time.perf_counter() - t
    return got


def interleaved(trees: dict, dbs: dict, mixes: dict, semantic: bool) -> dict:
    """Both trees' long-lived workers asked the same questions, alternately first."""
    procs = {name: _worker(trees[name], dbs[name], "serve", semantic) for name in trees}
    ready = {name: json.loads(p.stdout.readline()) for name, p in procs.items()}
    names = list(trees)
    out: dict = {name: {"serve": ready[name]} for name in names}
    for mix, questions in mixes.items():
        for name in names:  # warm-up pass: pages touched, compiled code loaded, caches filled
            for q in questions:
                _ask(procs[name], q)
        before = load()
        times: dict = {name: ([], []) for name in names}
        differ = 0
        for i, q in enumerate(questions):
            order = names if i % 2 == 0 else names[::-1]
            got = {name: _ask(procs[name], q) for name in order}
            for name in names:
                times[name][0].append(got[name]["wall_ms"])
                times[name][1].append(got[name]["cpu_ms"])
            differ += len({tuple(g["ids"]) for g in got.values()}) > 1
        for name in names:
            wall, cpu = times[name]
            out[name][mix] = {
                "p50_ms": round(statistics.median(wall), 2),
                "p95_ms": round(pct(wall, 0.95), 2),
                "cpu_p50_ms": round(statistics.median(cpu), 2),
                "cpu_p95_ms": round(pct(cpu, 0.95), 2),
                "questions": len(questions),
            }
        out[f"{mix}_answers_differ"] = differ
        out[f"{mix}_load"] = [before, load()]
    for name, p in procs.items():
        p.stdin.close()
        out[name]["serve"].update(json.loads(p.stdout.readline()))
        p.wait()
    return out


def _ask(proc: subprocess.Popen, question: str) -> dict:
    proc.stdin.write(json.dumps(question) + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def run_ab(args, size: int, data: Path, generate) -> dict:
    """Both trees at one size; `generate` makes the collection (this tree's bench) if missing."""
    trees = {"this": ROOT, args.against: checkout(args.against, args.work_root)}
    if not (data / "questions.json").exists():
        generate()
    mixes = {
        "bench": json.loads((data / "questions.json").read_text()),
        "common": common_questions(data, args.queries, args.seed),
    }
    row: dict = {
        "size": size,
        "against": args.against,
        "trees": {n: str(t) for n, t in trees.items()},
    }
    names = list(trees) if (size // 1000) % 2 == 0 else list(trees)[::-1]
    dbs = {}
    for name in names:
        work = args.work_root / f"ab-work-{size}-{name.replace('/', '_')}"
        dbs[name] = work / "papers.db"
        if args.reuse and dbs[name].exists():  # a kept import (--keep): questions only
            row[f"{name}_import"] = {"import_papers_per_s": 0, "reused": str(work)}
            continue
        before = load()
        row[f"{name}_import"] = _phase(trees[name], "import", args, data, work, size)
        row[f"{name}_import"]["load"] = [before, load()]
    first = mixes["bench"][0]
    colds: dict = {name: [] for name in trees}
    before = load()
    for i in range(COLD_TRIES):
        for name in names if i % 2 == 0 else names[::-1]:
            colds[name].append(cold_start(trees[name], dbs[name], first, args.semantic))
    row["cold_load"] = [before, load()]
    for name, tries in colds.items():
        row[f"{name}_cold"] = {
            key: round(statistics.median(t[key] for t in tries), 3) for key in tries[0]
        }
    row.update(interleaved(trees, dbs, mixes, args.semantic))
    if not args.keep and not args.reuse:
        for name in names:
            import shutil

            shutil.rmtree(dbs[name].parent, ignore_errors=True)
    return row


def summary(row: dict) -> str:
    """The two rows as a table: one line per tree."""
    lines = [f"size {row['size']}: this tree vs {row['against']}"]
    head = "tree        import/s  cold+1st s  bench p50/p95 ms (cpu p50)  common p50/p95 ms (cpu p50)  rss MB"
    lines.append(head)
    for name in row["trees"]:
        imp, cold = row[f"{name}_import"], row[f"{name}_cold"]
        b, c, s = row[name]["bench"], row[name]["common"], row[name]["serve"]
        lines.append(
            f"{name[:10]:<10} {imp['import_papers_per_s']:>9} {cold['total_s']:>11.3f}"
            f"  {b['p50_ms']:>7.2f} / {b['p95_ms']:<7.2f} ({b['cpu_p50_ms']:.2f})"
            f"        {c['p50_ms']:>7.2f} / {c['p95_ms']:<7.2f} ({c['cpu_p50_ms']:.2f})"
            f"        {s.get('rss_mb', 0):.0f}"
        )
    lines.append(
        f"load: bench {row['bench_load']}, common {row['common_load']}, cold {row['cold_load']}"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- worker (runs in either tree)


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _open(db_path: str):
    from store.answers.engine import Answers
    from store.collection import db as store_db

    return Answers(store_db.open_db(Path(db_path)), Path(db_path))


def worker_main(mode: str, db_path: str) -> None:
    """`cold`: start, answer one question, report the parts; `serve`: answer questions (one JSON
    string a line) until stdin closes, each with its wall and CPU milliseconds."""
    t0 = time.perf_counter()
    answers = _open(db_path)
    opened = time.perf_counter()
    if mode == "cold":
        answers.ask(json.loads(json.dumps(sys.stdin.readline().strip())))
        done = time.perf_counter()
        print(json.dumps({"open_s": opened - t0, "first_ask_s": done - opened}), flush=True)
        return
    build = getattr(answers, "_names_build", None)
    if build is not None:  # steady state: the background names table and speller are done
        build.thread.join()
    print(json.dumps({"open_s": round(opened - t0, 3)}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)
        cpu, t = time.process_time(), time.perf_counter()
        answer = answers.ask(q)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        ids = [h.id for h in answer.results]
        print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "ids": ids}), flush=True)
    print(json.dumps({"rss_mb": _rss_mb("VmRSS"), "rss_anon_mb": _rss_mb("RssAnon")}), flush=True)


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p).resolve() != WORKER.parent]
    worker_main(sys.argv[1], sys.argv[2])
