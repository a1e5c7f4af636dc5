"""`ask` with the semantic stage on, at 10k and 100k papers: latency, memory, disk, start-up.

    .venv/bin/python -m bench.semantic_scale --sizes 10000 100000 [--out bench/out/semantic.jsonl]

A synthetic collection (bench/synth.py) is imported through `upsert_papers` and indexed; its
vectors are random unit vectors in the shape the real ones have (a whole-paper vector and five
windows per paper, float16), saved where `paperbot embed` saves them, because embedding 100k
papers on this CPU takes hours and the latency of a question does not depend on the vectors'
values. The question is encoded by the real model. Also measured: the real model's embedding
throughput on abstract windows, from which the cost of embedding a collection is extrapolated.
Prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import current_rss_mb, dir_mb  # noqa: E402

WINDOWS_PER_PAPER = 5  # the bundled papers have 4.5 windows on average


def build(size: int, work: Path) -> list[str]:
    """A synthetic collection of `size` papers with its index; returns the questions."""
    from bench import synth
    from store.collection import db as store_db
    from store.collection.importers import iter_file
    from store.search.sync import sync_index

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    model = synth.Model(0, size)
    files = synth.write_collection(model, size, work / "data", 0)
    db = store_db.open_db(work / "papers.db")
    for f in files:
        store_db.upsert_papers(db, iter_file(f), f.name)
    sync_index(db, work / "papers.db")
    return synth.questions(model, files, 300, 0)


def fake_vectors(work: Path, model: str, dim: int) -> float:
    """Random unit vectors for every paper, saved as `paperbot embed` would; returns seconds."""
    from store.collection import db as store_db
    from store.semantic import vectors as vec

    started = time.perf_counter()
    db = store_db.open_db(work / "papers.db")
    rng = np.random.default_rng(0)
    store = vec.Vectors(dim, model)
    store.db_uuid = store_db.db_uuid(db)
    batch = []
    for pid, seq, title, abstract, _ in store_db.iter_for_index(db, 0):
        rows = rng.standard_normal((1 + WINDOWS_PER_PAPER, dim)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        batch.append((pid, vec.text_key(title, abstract), rows))
        store.covered_seq = seq
        if len(batch) >= 10_000:
            store.put(batch)
            batch = []
    store.put(batch)
    store.save(vec.vectors_dir(work / "papers.db"))
    return time.perf_counter() - started


def serve(work: Path, questions: list[str]) -> dict:
    """Start-up, then `ask` over the questions (a warm-up pass, then the timed pass)."""
    from store.answers.engine import Answers
    from store.answers.evaluation import latency
    from store.collection import db as store_db
    from store.semantic import vectors as vec

    t0 = time.perf_counter()
    db = store_db.open_db(work / "papers.db")
    answers = Answers(db, work / "papers.db")
    startup = time.perf_counter() - t0
    assert answers.encoder is not None and answers.unembedded() == 0, answers.describe_stage()
    asked = latency(answers, questions, warmup=20)
    encode = []
    for q in questions[:100]:
        t = time.perf_counter()
        answers.encoder.encode([q + " ?"])
        encode.append((time.perf_counter() - t) * 1000)
    return {
        "startup_s": round(startup, 2),
        "ask_p50_ms": asked["p50"],
        "ask_p95_ms": asked["p95"],
        "encode_question_p50_ms": round(statistics.median(encode), 2),
        "rss_serving_mb": round(current_rss_mb()),
        "vectors_mb": round(dir_mb(vec.vectors_dir(work / "papers.db")), 1),
        "index_mb": round(dir_mb(Path(str(work / "papers.db") + ".index")), 1),
        "db_mb": round(dir_mb(work / "papers.db"), 1),
    }


def throughput() -> float:
    """Passages (title plus three sentences) the real model embeds per second, batched."""
    from store.collection.importers import listing
    from store.semantic import stage as sem

    encoder = sem.load_encoder()
    records = listing.parse((ROOT / "store" / "data" / "seed_listing.txt").read_text())
    texts = [t for r in records[:40] for t in sem.paper_passages(r["title"], r["abstract"])[1:]]
    encoder.encode(texts[:8])
    started = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "semantic-work")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # the serve phase, in a process of its own (its memory is the bot's)
        print(json.dumps(serve(args.serve, json.loads((args.serve / "q.json").read_text()))))
        return
    from store.semantic import stage as sem

    encoder = sem.load_encoder()
    rate = throughput()
    for size in args.sizes:
        work = args.work / str(size)
        questions = build(size, work)
        vectors_s = fake_vectors(work, encoder.name, encoder.dim)
        (work / "q.json").write_text(json.dumps(questions))
        served = subprocess.run(
            [sys.executable, "-m", "bench.semantic_scale", "--serve", str(work)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        line = {"size": size, "vectors_write_s": round(vectors_s, 1)}
        line.update(json.loads(served.stdout.strip().splitlines()[-1]))
        line["loadavg"] = [round(x, 2) for x in os.getloadavg()]
        passages = size * (1 + WINDOWS_PER_PAPER)
        line["embed_passages_per_s"] = round(rate, 1)
        line["embed_whole_collection_h"] = round(passages / rate / 3600, 2)
        print(json.dumps(line), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(line) + "\n")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
