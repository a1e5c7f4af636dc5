"""How fast the numpy encoder is: one short question (p50/p95 ms, one BLAS thread and the default),
abstract windows per second in batches, and the process's peak RSS after loading.

    python bench/encoder_speed.py [--repeat 200]
    python bench/encoder_speed.py --against REV [--rounds 3]

`--against REV` is an A/B in one process on one BLAS thread: REV's store/semantic/encoder.py
(from git) and this tree's, on the same passages (every `paper_passages` of the bundled
listing: whole papers and windows), interleaved round by round so both see the same load; it
prints passages/s per round, the median, the load average, the BLAS kernel, and how far the two
sets of vectors are apart.

The thread count is fixed per process (OpenBLAS reads OPENBLAS_NUM_THREADS at import), so each
setting runs in a child process of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "which paper connects a frozen language model to images with a linear layer",
    "vision transformers that learn without any labels on large image collections",
    "a dataset of satellite images paired with captions for remote sensing",
    "how can a multimodal model decide to look again at a region of the picture",
    "mixture of experts trained on several vision tasks at once",
]


def measure(repeat: int) -> dict:
    """Runs in a child: load, time single questions, then batches of abstract windows."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from store.collection import db as store_db
    from store.collection.importers import listing
    from store.semantic.encoder import Encoder
    from store.semantic.stage import paper_passages

    start = time.perf_counter()
    encoder = Encoder()
    load_s = time.perf_counter() - start
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for q in QUESTIONS:  # warm-up
        encoder.encode([q])
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        encoder.encode([QUESTIONS[i % len(QUESTIONS)]])
        times.append((time.perf_counter() - t) * 1000)
    records = listing.parse(store_db.bundled_listing())
    windows = [c for r in records for c in paper_passages(r["title"], r["abstract"])[1:]]
    t = time.perf_counter()
    encoder.encode(windows)
    batch_s = time.perf_counter() - t
    tokens = [len(e.ids) for e in encoder.tokenizer.encode_batch(windows)]
    return {
        "load_s": round(load_s, 2),
        "question_ms_p50": round(float(np.percentile(times, 50)), 2),
        "question_ms_p95": round(float(np.percentile(times, 95)), 2),
        "windows": len(windows),
        "window_tokens_mean": round(sum(tokens) / len(tokens), 1),
        "windows_per_s": round(len(windows) / batch_s, 1),
        "peak_rss_mb_after_load": round(rss_loaded, 1),
        "peak_rss_mb_end": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def load_revision(rev: str):
    """REV's encoder module, imported from a temporary copy of its file (it needs only numpy,
    tokenizers and safetensors, so no venv of its own)."""
    import importlib.util
    import tempfile

    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:store/semantic/encoder.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "encoder_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("encoder_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def against(rev: str, rounds: int) -> None:
    """Interleaved A/B of REV's encoder and this tree's on the bundled papers' passages."""
    import numpy as np
    from threadpoolctl import threadpool_info

    sys.path.insert(0, str(ROOT))
    from store.collection import db as store_db
    from store.collection.importers import listing
    from store.semantic import encoder as current
    from store.semantic.stage import paper_passages

    records = listing.parse(store_db.bundled_listing())
    passages = [c for r in records for c in paper_passages(r["title"], r["abstract"])]
    encoders = {
        rev: load_revision(rev).Encoder(current.SHIPPED_DIR),
        "this tree": current.Encoder(current.SHIPPED_DIR),
    }
    tokens = [len(e.ids) for e in encoders["this tree"].tokenizer.encode_batch(passages)]
    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
    per_paper = len(passages) / len(records)
    print(f"{len(records)} papers, {len(passages)} passages ({per_paper:.2f} a paper)")
    print(f"tokens a passage: {sum(tokens) / len(tokens):.1f} mean; BLAS {blas}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    rates: dict[str, list[float]] = {k: [] for k in encoders}
    cpu_rates: dict[str, list[float]] = {k: [] for k in encoders}
    vectors = {}
    for i in range(rounds):
        for label, encoder in encoders.items() if i % 2 == 0 else reversed(encoders.items()):
            load, t, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
            vectors[label] = encoder.encode(passages)
            rate = len(passages) / (time.perf_counter() - t)
            cpu_rate = len(passages) / (time.process_time() - cpu)
            rates[label].append(rate)
            cpu_rates[label].append(cpu_rate)
            print(
                f"round {i + 1} {label:>10}: {rate:6.1f} passages/s wall, {cpu_rate:6.1f} a "
                f"CPU second (load {load:.2f})",
                flush=True,
            )
    for label, got in rates.items():
        print(
            f"median {label:>10}: {float(np.median(got)):6.1f} passages/s wall, "
            f"{float(np.median(cpu_rates[label])):6.1f} a CPU second"
        )
    a, b = vectors.values()
    print(f"max |difference| of a component between the two: {float(np.abs(a - b).max()):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--against", metavar="REV", help="A/B against REV's encoder (git)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.against:
        against(args.against, args.rounds)
        return
    if args.child:
        print(json.dumps(measure(args.repeat)))
        return
    for label, threads in (("1 thread", "1"), ("default threads", None)):
        env = dict(os.environ)
        if threads:
            env["OPENBLAS_NUM_THREADS"] = threads
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(f"{label}: {out.strip()}")


if __name__ == "__main__":
    main()
