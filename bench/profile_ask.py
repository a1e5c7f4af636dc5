"""Where `Answers.ask` spends its time on a kept bench collection: pyinstrument's call tree over
the questions (after a warm-up pass), semantic stage off unless PAPERBOT_SEMANTIC says otherwise.

    PAPERBOT_SEMANTIC=off /work/venv/bin/python -m bench.profile_ask bench/out/work-100000/papers.db \
        bench/out/data-100000/questions.json [--common DATA_DIR] [--html out.html]

pyinstrument is a profiling tool, not a dependency: `pip install pyinstrument` in the venv.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("questions", type=Path, help="a bench questions.json, or a data dir")
    parser.add_argument("--common", action="store_true", help="the common-words mix instead")
    parser.add_argument("--html", type=Path)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("PAPERBOT_SEMANTIC", "off")
    from pyinstrument import Profiler

    from bench.ab import common_questions
    from store.answers.engine import Answers
    from store.collection import db as store_db

    if args.common:
        questions = common_questions(args.questions.parent, 300, 0)
    else:
        questions = json.loads(args.questions.read_text())
    answers = Answers(store_db.open_db(args.db), args.db)
    for q in questions:
        answers.ask(q)
    times = []
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.passes):
        for q in questions:
            t = time.perf_counter()
            answers.ask(q)
            times.append((time.perf_counter() - t) * 1000)
    profiler.stop()
    print(f"p50 {statistics.median(times):.2f} ms over {len(times)} asks")
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
