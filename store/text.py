"""Text analysis shared by the index and the answers: one tokenizer for documents and queries,
and a sentence splitter that survives the abbreviations, decimals and URLs of abstracts.
"""

from __future__ import annotations

import re
import unicodedata

import Stemmer

TOKENIZER_VERSION = 2

# Words that carry no topic: English function words plus the scaffolding of questions and URLs.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves us via per etc eg ie et al whose whats
    thats theres isnt arent dont doesnt didnt cant wont
    anyone anything something someone somebody please tell know show give find look let paper papers
    https http www com org io html htm pdf abs
    """.split()
)

_WORD = re.compile(r"[^\W_]+(?:[.\-/+'’][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PARTS = re.compile(r"[.\-/+'’]")
_stemmer = Stemmer.Stemmer("english")
_stem_cache: dict[str, str | None] = {}


def _term(part: str) -> str | None:
    """The index term for one word part, or None for a stopword or a lone letter."""
    cached = _stem_cache.get(part)
    if cached is not None or part in _stem_cache:
        return cached
    if part in STOPWORDS or (len(part) == 1 and not part.isdigit()) or len(part) > 60:
        term = None
    elif part.isalpha():
        term = _stemmer.stemWord(part)
    else:
        term = part  # model names with digits (gpt4, 2d, 10x, llama2) stay as written
    if len(_stem_cache) < 500_000:
        _stem_cache[part] = term
    return term


def _word_terms(word: str) -> tuple[str, ...]:
    """The terms of one lowercased word (a `_WORD` match)."""
    if _NUMBER.fullmatch(word):
        return (word,)
    parts = [p for p in _PARTS.split(word) if p]
    if len(parts) > 1 and parts[-1] in ("s", "t", "re", "ve", "ll", "d", "m"):
        parts = parts[:-1]  # possessives and contractions: "model's" -> model
    out = []
    for part in parts:
        term = _term(part)
        if term:
            out.append(term)
    if "-" in word and 1 < len(parts) <= 3:
        compound = _term("".join(parts))
        if compound:
            out.append(compound)
    return tuple(out)


_chunk_cache: dict[str, tuple[str, ...]] = {}
_CHUNK_CACHE_MAX = 1 << 20


def _chunk_terms(chunk: str) -> tuple[str, ...]:
    """The terms of one whitespace-free piece of lowercased text (cached by `tokenize`)."""
    out: list[str] = []
    for word in _WORD.findall(chunk):
        out += _word_terms(word)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    """Terms of `text`: lowercased, stemmed, stopwords out; hyphenated words give parts and compound.

    "vision-language" -> vision, languag, visionlanguag; "GPT-4" -> gpt, 4, gpt4; "2D/3D" -> 2d, 3d;
    "85.3" stays whole.

    A word never spans whitespace, so the text is cut at whitespace and each piece's terms are
    cached: abstracts repeat their pieces ("model," "(LLMs)") so most cost one dict look-up.
    """
    if not text:
        return []
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    cache = _chunk_cache
    out: list[str] = []
    for chunk in text.lower().split():
        terms = cache.get(chunk)
        if terms is None:
            terms = _chunk_terms(chunk)
            if len(cache) >= _CHUNK_CACHE_MAX:
                cache.clear()
            cache[chunk] = terms
        out += terms
    return out


# ---------------------------------------------------------------- sentences

_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|fig|figs|eq|eqs|sec|tab|no|approx|resp|incl|dr|mr|ms|st)\.|\b[A-Z]\.)$",
    re.IGNORECASE,
)
# From the sentence's final mark: no look-behind, so the engine jumps from mark to mark (a third
# faster on abstracts than testing every position).
_BOUNDARY = re.compile(r"[.!?][\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract; never breaks after "e.g.", "et al.", "Fig.", inside 85.3 or a URL."""
    text = (text or "").strip()
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        # An abbreviation is at most 8 characters: test the tail only (searching the whole head
        # again at every boundary made long abstracts quadratic). The tail ends with the mark.
        head = text[max(start, match.start() - 15) : match.start() + 1]
        if _ABBREV.search(head):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, the one cut for snippets, gists, titles and quoted user text."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    return word_cut(text, limit).rstrip(",;: ") + "…"


def word_cut(text: str, limit: int) -> str:
    """The longest prefix of at most `limit` characters that ends between words (offsets kept)."""
    head = text[:limit]
    if len(text) <= limit:
        return head
    last_space = re.search(r"\s+\S*$", head)
    return head[: last_space.start()] if last_space and last_space.start() > 0 else head
