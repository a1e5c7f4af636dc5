"""Unknown topic terms: the technical words of a question that the collection never uses.

A question about a topic the collection lacks often names it ("RLHF", "diarization", "SparseGPT",
"DreamBooth"), and none of the collection's papers uses that word; a real question worded
unusually uses everyday words the papers lack ("tongues", "blurbs") or typos of their words
("effcient", "monolitic"). So a question word is an unknown topic term when

- no live paper of the collection holds it (the index's document frequency, compared stemmed as
  the index does, each piece of a hyphenated word on its own: one look-up per word at any size);
- it is not a typo of a collection word (the speller's correction, or a word one edit away whose
  term some paper holds), nor a shorthand the query expansion knows, nor half of a name typed in
  two words ("skyeye gpt"), nor a number with a unit ("400M", "1024px"), and it is written in
  English's letters (general-English rarity cannot judge "ما" or "מה");
- it is not everyday English: its Zipf frequency in general English (`wordfreq`) is below
  RARE_ZIPF ("rlhf", "sparsegpt" 0; "scratchpad" 1.4; "tongues" 3.5).

The no-answer decision (store/answers/decision.py) takes `rarest`, the Zipf frequency of the
question's rarest candidate word (NO_CANDIDATE when it has none), as the feature `unknown`
(rarest < RARE_ZIPF). RARE_ZIPF is chosen by leave-one-set-out cross-validation with the
decision's coefficients (`python bench/crossval.py --decision`).

Tried and dropped (measured in /tmp/notes/honest2.md): a "field-ness" test with the encoder (the
word's MiniLM vector against the collection's mean paper vector, its nearest collection words or
papers, versus its nearest everyday English words): single words embed by their letters more than
their meaning ("nerf" sits by "damage", "heterophily" by the field), so it added nothing under
cross-validation that rarity alone did not.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import Stemmer

from store.text import STOPWORDS, tokenize

RARE_ZIPF = 1.0  # chosen by cross-validation from ZIPF_GRID (bench/crossval.py --decision)
ZIPF_GRID = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5)
NO_CANDIDATE = 8.0  # `rarest` of a question without candidate words (above every Zipf frequency)
MIN_TYPO_LENGTH = 5  # shorter words have one-edit neighbours by chance ("nerf" -> "nerd")
_WORD = re.compile(r"[^\W_][\w'’]*(?:-[^\W_][\w'’]*)*")
_QUANTITY = re.compile(r"\d+(?:\.\d+)?[a-z]{0,3}")  # 400m, 1024px, 70b, 30fps, 4x
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_rarity: dict[str, float] = {}
_stemmer = Stemmer.Stemmer("english")


def rarity(word: str) -> float:
    """The word's Zipf frequency in general English (log10 per billion words; 0 if unseen)."""
    found = _rarity.get(word)
    if found is None:
        from wordfreq import zipf_frequency  # its word list loads on first use (~0.3 s)

        found = float(zipf_frequency(word, "en"))
        if len(_rarity) < 100_000:
            _rarity[word] = found
    return found


def pieces(question: str) -> list[tuple[str, list[str]]]:
    """The question's words as typed (lowercased), each piece of a hyphenated word on its own,
    with its index terms; stopwords, lone letters, quantities and words in another script than
    English's are dropped."""
    out = []
    for word in _WORD.findall(question.lower()):
        for piece in word.split("-"):
            piece = piece.strip("'’")
            terms = tokenize(piece)
            if not piece.isascii() or _QUANTITY.fullmatch(piece):
                continue  # English rarity cannot judge another script's words ("ما", "מה")
            if terms and any(c.isalpha() for c in piece):
                out.append((piece, terms))
    return out


def one_edit_away(word: str) -> set[str]:
    """Every string one deleted, swapped, changed or inserted letter away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


def is_typo(piece: str, known: Callable[[str], bool]) -> bool:
    """`piece` is one edit away from a word whose term some paper holds ("effcient" ->
    "efficient", "lxmret" -> "lxmert"): the speller corrects stems, which a typo can change."""
    if len(piece) < MIN_TYPO_LENGTH or not piece.isalpha():
        return False
    words = [v for v in one_edit_away(piece) if v not in STOPWORDS]
    return any(known(t) for t in _stemmer.stemWords(words))  # as `tokenize` stems a plain word


def candidates(
    question: str,
    known: Callable[[str], bool],
    corrected: Callable[[str], str | None],
    shorthand: Callable[[str], bool],
) -> dict[str, float]:
    """The question's words that no paper holds (`known(term)`), that are not a typo of one
    (`corrected(term)`: the speller's correction or None; `is_typo`) nor a shorthand
    (`shorthand(term)`), with their Zipf frequency in general English."""
    out: dict[str, float] = {}
    found = pieces(question)
    for i, (piece, terms) in enumerate(found):
        if piece in out or any(known(t) or shorthand(t) or corrected(t) for t in terms):
            continue
        if not is_typo(piece, known) and not _split_name(found, i, known):
            out[piece] = rarity(piece)
    return out


def _split_name(found: list[tuple[str, list[str]]], i: int, known: Callable[[str], bool]) -> bool:
    """The piece joined with the word before or after it is a term some paper holds: a name
    typed in two words ("skyeye gpt" -> SkyEyeGPT, "deep seek")."""
    piece = found[i][0]
    joined = [found[i - 1][0] + piece] if i > 0 else []
    joined += [piece + found[i + 1][0]] if i + 1 < len(found) else []
    return any(known(t) for word in joined for t in tokenize(word))


def rarest(found: dict[str, float]) -> float:
    """The Zipf frequency of the rarest candidate word (NO_CANDIDATE without one)."""
    return min(found.values(), default=NO_CANDIDATE)


def unknown(rarest_zipf: float, threshold: float | None = None) -> float:
    """1.0 when the question holds an unknown topic term (a candidate rarer than RARE_ZIPF)."""
    return float(rarest_zipf < (RARE_ZIPF if threshold is None else threshold))
