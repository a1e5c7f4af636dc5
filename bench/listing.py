"""Parse the paper listing (store/data/seed_listing.txt) into (title, abstract) pairs.

Format: a page header, then each paper as a title line, blank line, abstract
paragraph, blank line; optional date lines such as "Mar 12" between papers.
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
LISTING = os.path.join(HERE, "..", "store", "data", "seed_listing.txt")

HEADER = {
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
}
DATE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}$")


def parse_listing(path=LISTING):
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f.read().splitlines()]
    blocks = [ln for ln in lines if ln and ln not in HEADER and not DATE.match(ln)]
    if len(blocks) % 2:
        raise ValueError("odd number of title/abstract blocks: %d" % len(blocks))
    papers = [(blocks[i], blocks[i + 1]) for i in range(0, len(blocks), 2)]
    for t, a in papers:
        if len(t) > len(a):
            raise ValueError(f"suspicious pair (title longer than abstract): {t!r}")
    return papers


if __name__ == "__main__":
    ps = parse_listing()
    print(len(ps), "papers")
    for i, (t, a) in enumerate(ps):
        print(i, t, "|", len(a.split()), "words")
