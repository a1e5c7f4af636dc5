"""Typo correction of question words against the collection's own vocabulary.

People type "promt lerning" and "segmnt anything" in a chat. A question term the index has never
seen is replaced by a known term one edit away (a symmetric-delete dictionary: both words reduce
to a common string by deleting at most one character each, which covers a dropped, added, changed
or swapped letter), the most frequent one when several are. Only words the collection does not
know are touched, so a correct rare word is never "corrected" into a common one.
"""

from __future__ import annotations

from collections.abc import Iterable

MIN_LENGTH = 4  # shorter words have too many neighbours to guess from
MAX_WORDS = 50_000  # the most frequent known terms are the correction targets: ~0.5M variants,
# tens of MB even for a collection of millions (1.4M terms at 1M papers, most of them rare)


def one_edit(a: str, b: str) -> bool:
    """`a` becomes `b` by one inserted, deleted, changed or swapped (adjacent) letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    return a[i + 1 :] == b[i + 1 :] or (
        a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1]
    )


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


class Speller:
    """Known terms (with their document frequency) reachable by their one-deletion variants."""

    def __init__(self, terms: Iterable[tuple[str, int]]) -> None:
        best = sorted(
            (
                (t, df)
                for t, df in terms
                if df >= 2 and MIN_LENGTH - 1 <= len(t) <= 24 and t.isalpha()
            ),
            key=lambda x: -x[1],
        )[:MAX_WORDS]
        self.df = dict(best)
        self._by_variant: dict[str, list[str]] = {}
        for term in self.df:
            for variant in _deletions(term):
                self._by_variant.setdefault(variant, []).append(term)

    def correct(self, word: str) -> str | None:
        """The known term closest to an unknown `word`, or None when none is one edit away."""
        if len(word) < MIN_LENGTH or not word.isalpha():
            return None
        found = {t for v in _deletions(word) for t in self._by_variant.get(v, ())}
        found = {t for t in found if one_edit(word, t)}
        if not found:
            return None
        return max(sorted(found), key=lambda t: self.df[t])
