"""Scale benchmark: import, start-up, `ask` latency, memory and sizes at each collection size, with
`rank_bm25.BM25Okapi` built and timed in the same run, each phase in its own process.

    .venv/bin/python -m bench.run --sizes 10000 100000 1000000 --out bench/out/results.jsonl

Prints one JSON line per size (and appends it to --out). The phases run with PAPERBOT_SEMANTIC=off
(BM25 with expansion, the product's default minus the embedding stage, which bench/semantic_scale.py
measures) unless --semantic is given. `--phases serve --keep` re-measures a kept
bench/out/work-N, never deleted (its index rebuilt first if its format is stale: that shows in startup_s).
Phases, all through the real code paths:
  import  upsert_papers(iter_file(jsonl)) per file, each committed file's papers counted by
          IndexSync's pool meanwhile, as `paperbot import` does (parse = time waiting for the next
          record, upsert = the rest, index = what is left after the last file)
  serve   open_db + Answers(db, path) (bot start-up), then `Answers.ask` over varied questions,
          snippets included (a warm-up pass, then the timed pass); every query's pruned top-10 is
          checked against the dense path; then 50 new papers and `Answers.refresh()`
  add     50 more papers as `paperbot import` adds them: a fresh process, parse + upsert + sync_index
  throughput  questions per second: `Answers.ask` over the same questions in a loop for
          --throughput-s seconds after a warm-up pass, in one process pinned to one core (its scan
          in one slice, as on a one-core machine), in one unpinned process (the bot: one question at
          a time under the engine's lock, the compiled scan split over the cores) and in one process
          per core at once (their sum: what the machine gives); each also as questions per
          second of the CPU time used (`_cpu`: what the cores give when no other work shares them)
  okapi   BM25Okapi over the same tokens: build time, get_scores per query, top-10 ids and scores
          compared with the index (skipped above --okapi-max papers)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import ab, throughput
from bench.ab import pct

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb(field: str = "VmRSS") -> float:
    """Resident memory now, MB: all of it (VmRSS), or RssAnon (the process's own: not the
    memory-mapped index files, whose pages are the page cache's, shared and reclaimable)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def dir_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# ---------------------------------------------------------------- phases (child processes)


def phase_generate(args) -> dict:
    from bench import synth

    t = time.perf_counter()
    model = synth.Model(args.seed, args.size)
    files = synth.write_collection(model, args.size, args.data, args.seed)
    qs = synth.questions(model, files, args.queries, args.seed)
    (args.data / "questions.json").write_text(json.dumps(qs))
    extra = synth.papers(model, args.size + 10_000_000, 100, args.seed)
    for n in range(2):
        part = extra[n * 50 : (n + 1) * 50]
        (args.data / f"extra-{n}.jsonl").write_text("".join(json.dumps(p) + "\n" for p in part))
    return {
        "generate_s": round(time.perf_counter() - t, 1),
        "jsonl_mb": round(sum(dir_mb(f) for f in files), 1),
    }


def phase_import(args) -> dict:
    from store.collection import db as store_db
    from store.collection.importers import iter_file
    from store.search.index import index_dir
    from store.search.sync import IndexSync

    db_path = args.work / "papers.db"
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    files = sorted(args.data.glob("papers-*.jsonl"))
    parse_s = upsert_s = 0.0

    def timed(records):
        """The records, timing how long each takes to come (parse; with the parse pool, the wait)."""
        nonlocal parse_s
        records = iter(records)
        while True:
            t = time.perf_counter()
            try:
                record = next(records)
            except StopIteration:
                parse_s += time.perf_counter() - t
                return
            parse_s += time.perf_counter() - t
            yield record

    t0 = time.perf_counter()
    db = store_db.open_db(db_path)
    with IndexSync(db, db_path) as sync:
        for f in files:  # streamed into one transaction per file, as `paperbot import` does
            t = time.perf_counter()
            before = parse_s
            store_db.upsert_papers(db, timed(iter_file(f)), name=f.name)
            upsert_s += time.perf_counter() - t - (parse_s - before)
            sync.committed()  # the pool counts this file's papers while the next one is written
        t = time.perf_counter()
        index = sync.finish()
        index_s = time.perf_counter() - t
    total = time.perf_counter() - t0
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    n = store_db.paper_count(db)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "papers": n,
        "import_s": round(total, 2),
        "import_papers_per_s": round(n / total),
        "import_parse_s": round(parse_s, 2),
        "import_upsert_s": round(upsert_s, 2),
        "import_index_s": round(index_s, 2),
        # CPU seconds: this process (parse waits, upserts, segments) and its pools (parse, count)
        "import_cpu_main_s": round(me.ru_utime + me.ru_stime, 1),
        "import_cpu_pools_s": round(kids.ru_utime + kids.ru_stime, 1),
        "import_peak_rss_mb": round(rss_mb()),
        "vocabulary": len(index.terms),
        "postings": int(sum(len(s.docs) for s in index.segments)),
        "db_mb": round(dir_mb(db_path), 1),
        "index_mb": round(dir_mb(index_dir(db_path)), 1),
    }


def phase_serve(args) -> dict:
    from store.answers.engine import Answers
    from store.collection import db as store_db
    from store.collection.importers import parse_text, read_file

    db_path = args.work / "papers.db"
    questions = json.loads((args.data / "questions.json").read_text())
    t0 = time.perf_counter()
    db = store_db.open_db(db_path)
    answers = Answers(db, db_path)
    startup = time.perf_counter() - t0
    rss_start = current_rss_mb()
    index = answers.index

    def timed_pass() -> list[float]:
        out = []
        for q in questions:
            t = time.perf_counter()
            answers.ask(q)
            out.append((time.perf_counter() - t) * 1000)
        return out

    cold = timed_pass()
    warm = timed_pass()
    # What the running bot holds: measured before the dense reference below touches every posting.
    rss_serving = current_rss_mb()
    rss_anon = current_rss_mb("RssAnon")
    peak = rss_mb()
    search_ms, same, answered = [], 0, 0
    for q in questions:
        terms = answers._query_terms(q)
        t = time.perf_counter()
        found = index.search(terms, 10)
        search_ms.append((time.perf_counter() - t) * 1000)
        same += found == index.search_dense(terms, 10)
        answered += bool(found)
    records = parse_text(read_file(args.data / "extra-0.jsonl"))
    t = time.perf_counter()
    store_db.upsert_papers(db, records, name="extra-0")
    upsert = time.perf_counter() - t
    t = time.perf_counter()
    added = answers.refresh()
    refresh = time.perf_counter() - t
    return {
        "startup_s": round(startup, 3),
        "ask_p50_ms": round(statistics.median(warm), 2),
        "ask_p95_ms": round(pct(warm, 0.95), 2),
        "ask_max_ms": round(max(warm), 2),
        # The first question after start also builds the names table (titles, repository names)
        # from the whole collection: what the bot's first question waits for.
        "ask_first_ms": round(cold[0], 1),
        "ask_cold_p50_ms": round(statistics.median(cold), 2),
        "ask_cold_p95_ms": round(pct(cold, 0.95), 2),
        "search_p50_ms": round(statistics.median(search_ms), 3),
        "search_p95_ms": round(pct(search_ms, 0.95), 3),
        "queries": len(questions),
        "queries_with_hits": answered,
        "pruned_equals_dense": f"{same}/{len(questions)}",
        "rss_after_startup_mb": round(rss_start),
        "rss_serving_mb": round(rss_serving),
        "rss_serving_anon_mb": round(rss_anon),
        "peak_rss_serving_mb": round(peak),
        "add50_bot_upsert_s": round(upsert, 3),
        "add50_bot_refresh_s": round(refresh, 3),
        "add50_bot_added": added,
    }


def phase_add(args) -> dict:
    from store.collection import db as store_db
    from store.collection.importers import parse_text, read_file
    from store.search.sync import sync_index

    db_path = args.work / "papers.db"
    t0 = time.perf_counter()
    db = store_db.open_db(db_path)
    records = parse_text(read_file(args.data / "extra-1.jsonl"))
    result = store_db.upsert_papers(db, records, name="extra-1")
    t1 = time.perf_counter()
    index = sync_index(db, db_path)
    t2 = time.perf_counter()
    return {
        "add50_cli_s": round(t2 - t0, 3),
        "add50_cli_upsert_s": round(t1 - t0, 3),
        "add50_cli_index_s": round(t2 - t1, 3),
        "add50_cli_new": result.new,
        "segments_after_add": len(index.segments),
    }


def phase_okapi(args) -> dict:
    import numpy as np
    from rank_bm25 import BM25Okapi

    from store.answers.engine import Answers
    from store.collection import db as store_db
    from store.search.index import document_tokens
    from store.search.sync import sync_index

    db_path = args.work / "papers.db"
    db = store_db.open_db(db_path)
    index = sync_index(db, db_path)
    answers = Answers(db, db_path, index=index)
    questions = json.loads((args.data / "questions.json").read_text())[: args.okapi_queries]
    ids, corpus = [], []
    for pid, _seq, title, abstract, links in store_db.iter_for_index(db, 0):
        ids.append(pid)
        corpus.append(document_tokens(title, abstract, links))
    t = time.perf_counter()
    bm25 = BM25Okapi(corpus)
    build = time.perf_counter() - t
    times, same_ids, max_diff = [], 0, 0.0
    for q in questions:
        terms = answers._query_terms(q)
        t = time.perf_counter()
        scores = bm25.get_scores(terms)
        times.append((time.perf_counter() - t) * 1000)
        order = np.lexsort((np.arange(len(scores)), -scores))[:10]
        okapi = [(ids[i], float(scores[i])) for i in order if scores[i] > 0]
        mine = index.search(terms, 10)
        by_id = dict(zip(ids, range(len(ids)), strict=True))
        for pid, s in mine:
            max_diff = max(max_diff, abs(float(scores[by_id[pid]]) - s))
        same = [p for p, _ in okapi] == [p for p, _ in mine]
        if not same and len(okapi) == len(mine):
            # Scores equal to 1e-9 may swap places (the sums differ in the last bit): compare scores.
            same = all(abs(a[1] - b[1]) <= 1e-9 for a, b in zip(okapi, mine, strict=True))
        same_ids += same
    return {
        "okapi_build_s": round(build, 1),
        "okapi_ms_per_query": round(statistics.mean(times), 1),
        "okapi_queries": len(questions),
        "okapi_top10_same": f"{same_ids}/{len(questions)}",
        "okapi_max_score_diff": max_diff,
        "okapi_peak_rss_mb": round(rss_mb()),
    }


PHASES = {
    "generate": phase_generate,
    "import": phase_import,
    "serve": phase_serve,
    "add": phase_add,
    "throughput": throughput.phase_throughput,
    "okapi": phase_okapi,
}


# ---------------------------------------------------------------- driver


def run_size(args, size: int) -> dict:
    data = args.data_root / f"data-{size}"
    work = args.work_root / f"work-{size}"
    row: dict = {"size": size}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not args.semantic:
        env["PAPERBOT_SEMANTIC"] = (
            "off"  # the embedding stage is its own benchmark; this one is BM25
        )
    phases = ["generate", "import", "serve", "add", "throughput"] + (
        ["okapi"] if size <= args.okapi_max else []
    )
    if args.phases:
        phases = [p for p in phases if p in args.phases]
        row["phases"] = phases
    for phase in phases:
        cmd = [
            sys.executable,
            "-m",
            "bench.run",
            "--phase",
            phase,
            "--size",
            str(size),
            "--data",
            str(data),
            "--work",
            str(work),
            "--queries",
            str(args.queries),
            "--okapi-queries",
            str(args.okapi_queries),
            "--seed",
            str(args.seed),
            "--throughput-s",
            str(args.throughput_s or (30.0 if size >= 100_000 else 3.0)),
        ]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        if proc.returncode:
            row[f"{phase}_error"] = proc.stderr.strip().splitlines()[-1:] or ["failed"]
            print(proc.stderr, file=sys.stderr)
            break
        row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        row[f"{phase}_wall_s"] = round(time.perf_counter() - t, 1)
    if "okapi_ms_per_query" in row and "search_p50_ms" in row:
        row["okapi_over_ask_p50"] = round(row["okapi_ms_per_query"] / row["ask_p50_ms"], 1)
        row["okapi_over_search_p50"] = round(row["okapi_ms_per_query"] / row["search_p50_ms"], 1)
    return row


def _generator(args, size: int):
    """Makes data-N with this tree's bench (the A/B's shared collection)."""

    def generate() -> None:
        data = args.data_root / f"data-{size}"
        cmd = [sys.executable, "-m", "bench.run", "--phase", "generate", "--size", str(size)]
        cmd += ["--data", str(data), "--work", str(data), "--queries", str(args.queries)]
        subprocess.run(cmd + ["--seed", str(args.seed)], cwd=ROOT, check=True, capture_output=True)

    return generate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, help="append each size's JSON line here too")
    parser.add_argument("--data-root", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--work-root", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--okapi-queries", type=int, default=30)
    parser.add_argument(
        "--okapi-max", type=int, default=1_000_000, help="largest size to run BM25Okapi at"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--throughput-s",
        type=float,
        help="seconds of asking per throughput measurement, three of them per size (default 30;"
        " 3 below 100,000 papers, where they already hold thousands of questions)",
    )
    parser.add_argument(
        "--semantic", action="store_true", help="leave the optional embedding stage on"
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="A/B: this tree and git revision REV on the same collection, interleaved (bench/ab.py)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --against: reuse both trees' kept databases (bench/out/ab-work-N-*), no import",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (bench/out/work-N)")
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=list(PHASES),
        help="run only these phases (e.g. serve against a kept work-N, which is then kept)",
    )
    # one phase in this process (used by the driver)
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--size", type=int)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return
    for size in args.sizes:
        if args.against:
            row = ab.run_ab(args, size, args.data_root / f"data-{size}", _generator(args, size))
            print(ab.summary(row), file=sys.stderr)
        else:
            row = run_size(args, size)
        line = json.dumps(row)
        print(line, flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as fh:
                fh.write(line + "\n")
        if not args.keep and not args.phases:  # a partial run measures a kept work dir: keep it
            shutil.rmtree(args.work_root / f"work-{size}", ignore_errors=True)


if __name__ == "__main__":
    main()
