"""Which of the papers a subject found really are on it: `/topic`'s count and pages, and the
count of "how many papers on X". One small function so a better rule can replace it.

The papers that pass the no-answer rule run from the few on the subject down to many that only
share a word with it ("remote sensing": four papers near 2-3, then fifteen below 0.3). Scores of
either stage (fused standard scores, or BM25 alone) fall by a large factor past the subject's
papers, so a paper stays when it scores at least TOPIC_FLOOR of the best one. A fused score is a standard
score: one that stands FUSED_FLOOR above the collection is on the subject even when the best
paper stands far above the rest ("image captioning": one paper at 3.8, a dozen near 1-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T", bound=tuple)

TOPIC_FLOOR = 0.4  # share of the best score a paper needs to count as on the subject
FUSED_FLOOR = 1.0  # a fused standard score that is enough on its own


def on_topic(ranked: Sequence[T], fused: bool, floor: float = TOPIC_FLOOR) -> list[T]:
    """The (paper, score, ...) tuples, best first, that score `floor` of the best one (with
    `fused` scores: or FUSED_FLOOR); when the best score is not positive (a subject barely in
    the collection) only the papers tied with it."""
    if not ranked:
        return []
    best = max(float(item[1]) for item in ranked)
    bar = best * floor if best > 0 else best
    if fused and best > 0:
        bar = min(bar, FUSED_FLOOR)
    return [item for item in ranked if float(item[1]) >= bar]
