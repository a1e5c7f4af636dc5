"""A synthetic paper collection of any size, in `paperbot export` JSON Lines, and questions for it.

Word statistics come from the seed abstracts (store/data/seed_listing.txt): most words are drawn
from their frequencies (function words, the field's vocabulary), each paper also draws from a topic
(a few dozen mid-frequency terms shared by the papers of that topic, so queries hit correlated
documents) and from a Zipf-like tail of invented words that keeps the vocabulary growing with the
collection, as real model names and jargon do. A share of titles carry a rare invented name
("Varotex: ..."), a share of abstracts a code link. Everything is deterministic in `seed`.

    python -m bench.synth --size 10000 --out bench/out/data-10000
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from store.collection.db import bundled_listing
from store.collection.importers import listing
from store.text import STOPWORDS

PER_FILE = (
    25_000  # papers per JSONL file (~45 MB; JSON Lines stream at any size, kept so data is reused)
)
TAIL_WORDS = 1_500_000  # invented words available to the Zipf tail
TOPICS = 2_000
TOPIC_WORDS = 40
_SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + [
    "qua",
    "xi",
    "tor",
    "len",
    "mer",
]
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-']*[A-Za-z0-9]|[A-Za-z]")


def _invented(rank: int) -> str:
    """A pronounceable word unique to `rank` (2-4 syllables), sometimes with a version number."""
    n = len(_SYLLABLES)
    parts = [_SYLLABLES[rank % n]]
    rank //= n
    parts.append(_SYLLABLES[rank % n])
    rank //= n
    while rank:
        parts.append(_SYLLABLES[rank % n])
        rank //= n
    return "".join(parts)


class Model:
    """The word distributions of the generator, built from the seed abstracts."""

    def __init__(self, seed: int = 0, size: int = 1_000_000) -> None:
        records = listing.parse(bundled_listing())
        counts: Counter[str] = Counter()
        self.lengths = []
        for rec in records:
            words = _WORD_RE.findall(rec["abstract"])
            self.lengths.append(len(words))
            counts.update(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
        self.title_lengths = [len(_WORD_RE.findall(r["title"])) for r in records]
        words, freq = zip(*counts.most_common(), strict=True)
        self.seed_words = np.array(words, dtype=object)
        p = np.asarray(freq, dtype=np.float64)
        self.seed_cdf = np.cumsum(p / p.sum())
        rng = np.random.default_rng(seed)
        # The tail grows with the collection (Heaps' law), so small runs start quickly.
        self.tail_words = min(TAIL_WORDS, max(100_000, 2 * size))
        self.tail = np.array([_invented(r + 400) for r in range(self.tail_words)], dtype=object)
        # Topics: mid-frequency tail words plus a few seed content words each.
        content = [i for i, w in enumerate(words) if w.lower() not in STOPWORDS and len(w) > 3]
        self.topic_tail = rng.integers(0, 60_000, size=(TOPICS, TOPIC_WORDS // 2))
        self.topic_seed = rng.choice(content, size=(TOPICS, TOPIC_WORDS // 2))


def _tail_ranks(rng: np.random.Generator, n: int, words: int) -> np.ndarray:
    return (rng.zipf(1.15, size=n) - 1) % words


def papers(
    model: Model, start: int, count: int, seed: int = 0, seen: set[str] | None = None
) -> list[dict]:
    """Papers number start..start+count-1 (the same numbers always give the same papers).

    Titles are kept distinct from those in `seen` (the store merges papers with equal titles).
    """
    seen = set() if seen is None else seen
    rng = np.random.default_rng([seed, start, count])
    out = []
    lengths = rng.choice(model.lengths, size=count) * rng.uniform(0.8, 1.2, size=count)
    for j in range(count):
        i = start + j
        n = max(int(lengths[j]), 20)
        topic = int(rng.integers(TOPICS))
        kind = rng.random(n)
        seed_part = model.seed_words[np.searchsorted(model.seed_cdf, rng.random(n))]
        tail_part = model.tail[_tail_ranks(rng, n, model.tail_words)]
        t_tail = model.tail[model.topic_tail[topic][rng.integers(TOPIC_WORDS // 2, size=n)]]
        t_seed = model.seed_words[model.topic_seed[topic][rng.integers(TOPIC_WORDS // 2, size=n)]]
        words = np.where(
            kind < 0.68,
            seed_part,
            np.where(kind < 0.78, tail_part, np.where(kind < 0.9, t_tail, t_seed)),
        )
        sentences, pos = [], 0
        while pos < n:
            m = int(rng.integers(10, 26))
            s = list(words[pos : pos + m])
            s[0] = s[0][:1].upper() + s[0][1:]
            if len(s) > 6 and rng.random() < 0.3:
                s[len(s) // 2] += ","
            sentences.append(" ".join(s) + ".")
            pos += m
        abstract = " ".join(sentences)
        name = None
        if rng.random() < 0.25:
            name = model.tail[(i * 7919 + 104_729) % model.tail_words].capitalize()
            abstract += f" Code: https://github.com/lab{i % 997}/{name.lower()}."
        tl = int(rng.choice(model.title_lengths))
        tw = list(np.where(rng.random(tl) < 0.5, t_tail[:tl], t_seed[:tl]))
        title = " ".join(w[:1].upper() + w[1:] for w in tw)
        if rng.random() < 0.4:
            name = name or model.tail[(i * 7919 + 104_729) % model.tail_words].capitalize()
            title = f"{name}: {title}"
        key = re.sub(r"[^a-z0-9]+", "", title.lower())
        if key in seen:
            title = f"{title} {_invented(i + 7_000_000).capitalize()}"
            key = re.sub(r"[^a-z0-9]+", "", title.lower())
        seen.add(key)
        out.append(
            {
                "id": f"syn{i:07d}",
                "title": title,
                "abstract": abstract,
                "authors": [
                    f"{_invented(int(rng.integers(50_000))).capitalize()} {_invented(i % 5000).capitalize()}"
                ],
                "published": f"20{20 + i % 6}-0{1 + i % 9}-1{i % 10}",
                "links": [],
                "source": "synthetic",
            }
        )
    return out


def write_collection(model: Model, size: int, out: Path, seed: int = 0) -> list[Path]:
    """JSON Lines files holding `size` papers (reused when already written for this size/seed)."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "done.json"
    files = [out / f"papers-{n:03d}.jsonl" for n in range((size + PER_FILE - 1) // PER_FILE)]
    if stamp.exists() and json.loads(stamp.read_text()) == {"size": size, "seed": seed}:
        return files
    seen: set[str] = set()
    for n, path in enumerate(files):
        start = n * PER_FILE
        batch = papers(model, start, min(PER_FILE, size - start), seed, seen)
        path.write_text(
            "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in batch), encoding="utf-8"
        )
    stamp.write_text(json.dumps({"size": size, "seed": seed}))
    return files


def questions(model: Model, files: list[Path], count: int = 300, seed: int = 0) -> list[str]:
    """Varied questions about papers of the collection: short, six-term, long, common, names."""
    rng = np.random.default_rng([seed, 99])
    chosen: list[dict] = []
    for path in files:  # a few papers from every file
        lines = path.read_text(encoding="utf-8").splitlines()
        want = max(count // len(files), 1) + 1
        chosen += [json.loads(lines[i]) for i in rng.integers(len(lines), size=want)]
    chosen = chosen[:count]
    common = [w for w in model.seed_words[:400] if w.lower() not in STOPWORDS and len(w) > 3]
    out = []
    for q, paper in enumerate(chosen):
        words = [w.strip(".,") for w in paper["abstract"].split()]
        content = [w for w in words if w.lower() not in STOPWORDS and len(w) > 2 and "/" not in w]
        title = [w for w in paper["title"].split() if w.lower() not in STOPWORDS]
        kind = q % 6
        if kind == 0:  # short
            text = " ".join(rng.choice(title, size=min(2, len(title)), replace=False))
        elif kind == 1:  # six terms
            text = " ".join(rng.choice(content, size=6))
        elif kind == 2:  # long question
            text = (
                "which papers use "
                + " ".join(rng.choice(content, size=int(rng.integers(8, 14))))
                + "?"
            )
        elif kind == 3:  # common words only
            text = " ".join(rng.choice(common, size=int(rng.integers(2, 5)), replace=False))
        elif kind == 4:  # a rare name (or a title's first word), maybe with a word
            name = title[0].rstrip(":")
            text = name + (" " + str(rng.choice(content)) if rng.random() < 0.5 else "")
        else:  # a phrase from the abstract
            s = int(rng.integers(max(len(words) - 5, 1)))
            text = " ".join(words[s : s + 5])
        out.append(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = write_collection(Model(args.seed, args.size), args.size, args.out, args.seed)
    print(json.dumps({"files": [str(f) for f in files]}))


if __name__ == "__main__":
    main()
