"""A small run of the scale benchmark (bench/run.py): it works end to end and its checks hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_at_a_small_size(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "bench.run",
        "--sizes",
        "1500",
        "--queries",
        "30",
        "--okapi-queries",
        "10",
        "--data-root",
        str(tmp_path),
        "--work-root",
        str(tmp_path),
        "--out",
        str(tmp_path / "r.jsonl"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert row == json.loads((tmp_path / "r.jsonl").read_text())
    assert not [k for k in row if k.endswith("_error")], row
    assert row["papers"] == 1500
    assert row["pruned_equals_dense"] == "30/30"
    assert row["okapi_top10_same"] == "10/10" and row["okapi_max_score_diff"] <= 1e-9
    assert row["add50_cli_new"] == 50 and row["add50_bot_added"] == 50
    for key in (
        "ask_p50_ms",
        "ask_p95_ms",
        "startup_s",
        "import_papers_per_s",
        "rss_serving_mb",
        "okapi_ms_per_query",
        "db_mb",
        "index_mb",
    ):
        assert row[key] > 0, key
