"""bench/run.py's throughput phase: questions per second in one core, one process, all cores."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from bench.ab import pct


def _throughput_worker(db_path, questions, seconds, cpus, barrier, results) -> None:
    """One process: open the engine, warm up, wait for the others, ask for `seconds`."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
        from store.search.index import scan

        scan.SCAN_THREADS = len(cpus)  # slices as a machine with this many cores would cut
    from store.answers.engine import Answers
    from store.collection import db as store_db

    answers = Answers(store_db.open_db(db_path), db_path)
    first = time.perf_counter()
    for q in questions:  # warm: pages touched, numba loaded, caches filled
        answers.ask(q)
    first = time.perf_counter() - first
    barrier.wait()
    times = []
    cpu = time.process_time()  # every thread of this process: the scan's slices too
    start = time.perf_counter()
    deadline = start + seconds
    i = 0
    while True:
        t = time.perf_counter()
        if t >= deadline:
            break
        answers.ask(questions[i % len(questions)])
        times.append((time.perf_counter() - t) * 1000)
        i += 1
    results.put(
        (len(times), time.perf_counter() - start, time.process_time() - cpu, times, answers.stage)
    )
    print(f"throughput worker: warm-up pass {first:.1f} s", file=sys.stderr)


def _throughput(db_path, questions, seconds, processes: int, cpus) -> dict:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # nothing of store/ is loaded in this process yet
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    workers = [
        ctx.Process(
            target=_throughput_worker,
            args=(db_path, questions, seconds, cpus[i] if cpus else None, barrier, results),
        )
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    got = [results.get() for _ in workers]
    for w in workers:
        w.join()
    times = [t for _, _, _, ts, _ in got for t in ts]
    cpu_s = sum(c for _, _, c, _, _ in got)
    return {
        "qps": round(sum(n / s for n, s, _, _, _ in got), 1),
        # What the processes would answer with their cores to themselves: questions per second
        # of CPU time each used (a shared machine's other work lowers qps, not this).
        "qps_cpu": round(sum(n / c for n, _, c, _, _ in got if c > 0), 1),
        "cpu_ms_per_ask": round(cpu_s * 1000 / max(1, sum(n for n, _, _, _, _ in got)), 2),
        "asks": sum(n for n, _, _, _, _ in got),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(pct(times, 0.95), 2),
        "stage": got[0][4],
    }


def phase_throughput(args) -> dict:
    db_path = args.work / "papers.db"
    questions = json.loads((args.data / "questions.json").read_text())
    seconds = args.throughput_s
    cores = sorted(os.sched_getaffinity(0))
    load = [round(x, 2) for x in os.getloadavg()]  # other work on the machine lowers qps
    one_core = _throughput(db_path, questions, seconds, 1, [{cores[0]}])
    one_process = _throughput(db_path, questions, seconds, 1, None)
    per_core = _throughput(db_path, questions, seconds, len(cores), None)
    return {
        "qps_one_core": one_core["qps"],
        "qps_one_core_p50_p95_ms": [one_core["p50_ms"], one_core["p95_ms"]],
        "qps_one_process": one_process["qps"],
        "qps_one_process_p50_p95_ms": [one_process["p50_ms"], one_process["p95_ms"]],
        "qps_all_cores": per_core["qps"],
        "qps_all_cores_p50_p95_ms": [per_core["p50_ms"], per_core["p95_ms"]],
        "qps_one_core_cpu": one_core["qps_cpu"],
        "qps_one_process_cpu": one_process["qps_cpu"],
        "qps_all_cores_cpu": per_core["qps_cpu"],
        "cpu_ms_per_ask": [
            one_core["cpu_ms_per_ask"],
            one_process["cpu_ms_per_ask"],
            per_core["cpu_ms_per_ask"],
        ],
        "qps_cores": len(cores),
        "qps_seconds": seconds,
        "qps_stage": one_core["stage"],  # "bm25+expansion": the semantic stage off
        "qps_loadavg_before": load,
        "qps_loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
