"""The words of a reply: which sentences of an abstract answer a question, a paper's one-line
gist, and which words to set in bold. Pure functions over text and the index's idf."""

from __future__ import annotations

import re
from typing import Any

from store.search.index import Index
from store.text import _WORD, shorten, split_sentences, tokenize

GIST_CHARS = 220


def paper_gist(paper: dict[str, Any], terms: list[str] = (), index: Index | None = None) -> str:
    """A paper in one short line, for lists and the daily digest alike: the feed's ai_summary,
    else the abstract's sentence richest in `terms` (the first one when there are none, so no
    index is needed), cut to GIST_CHARS."""
    if paper.get("ai_summary"):
        return shorten(paper["ai_summary"], GIST_CHARS)
    sentence = best_sentences(paper["abstract"], list(terms), index, 1)
    return shorten(sentence or paper["abstract"], GIST_CHARS)


QUANTITY = re.compile(
    r"\bhow (?:many|much|big|large|long|fast|far|high|low|small|well|good)\b|\bby how\b|"
    r"\bnumber of\b|\bwhat (?:\w+ ){0,2}(?:size|percentage|accuracy|score|mAP|speed-?up|"
    r"rate|gain|improvement|top-1|budget|scale)\b|\bwhich (?:\w+ ){0,2}sizes?\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")
NAME_QUESTION = re.compile(
    r"\b(?:what|which)(?: [\w-]+){0,2}? (?:benchmark|dataset|model|method|framework|metric|"
    r"corpus|architecture|name)s?\b|\bname of\b|\b(?:called|named)\b",
    re.IGNORECASE,
)
_NAME_WORD = r"[A-Za-z0-9]*[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9-]*"  # two capitals: MMVP, UniMM-Chat
_KIND = r"(?:benchmark|dataset|model|method|framework|metric|corpus|architecture)"
# a name being introduced: "(MMVP)", "UniMM-Chat dataset", "a benchmark, MMVP"
_NAME = re.compile(rf"\(({_NAME_WORD})\)|\b({_NAME_WORD})\s+{_KIND}|{_KIND}s?,?\s+({_NAME_WORD})\b")
TITLE_TERM_SHARE = 0.3  # a question word the title holds says which paper, not where the answer is
EQUIVALENT_SHARE = 0.5  # a stand-in word from expansion, as in the ranking


def asks_quantity(question: str) -> bool:
    """ "How many", "how much", "what accuracy"...: the answer is a number."""
    return bool(QUANTITY.search(question))


def asks_name(question: str) -> bool:
    """ "What benchmark", "which dataset", "what is it called"...: the answer is a name."""
    return bool(NAME_QUESTION.search(question))


def _names_new(sentence: str, terms: set[str]) -> bool:
    """The sentence introduces a name (two capitals, in parentheses or beside "benchmark",
    "dataset"...: "(MMVP)", "UniMM-Chat dataset") sharing no word with the question."""
    names = (next(g for g in m.groups() if g) for m in _NAME.finditer(sentence))
    return any(not set(tokenize(name)) & terms for name in names)


def best_sentences(
    abstract: str,
    terms: list[str],
    index: Index,
    count: int,
    title: str = "",
    quantity: bool = False,
    primary: set[str] | None = None,
    name: bool = False,
) -> str:
    """The `count` sentences that answer the question best, in their original order.

    A sentence scores the idf of the question's words it holds; words of the paper's `title`
    count less (they name the paper, the answer sits among the question's other words), so do
    the stand-ins expansion added (the terms not in `primary`, when given), and for a question
    asking a quantity a sentence holding a number gains as much as its best word, and for one
    asking a name ("what benchmark") a sentence holding a name the question lacks does.
    """
    sentences = split_sentences(abstract)
    if not sentences:
        return ""
    in_title = set(tokenize(title))
    wanted = {
        t: max(index.idf_of(t), 0.01)
        * (TITLE_TERM_SHARE if t in in_title else 1.0)
        * (1.0 if primary is None or t in primary else EQUIVALENT_SHARE)
        for t in terms
    }
    if not wanted:
        return sentences[0]
    bonus = max(wanted.values()) if quantity else 0.0
    scored = []
    for i, sentence in enumerate(sentences):
        present = set(tokenize(sentence)) & wanted.keys()
        score = sum(wanted[t] for t in present - _compounds(present))
        if bonus and present and _NUMBER.search(sentence):
            score += bonus
        if name and present and _names_new(sentence, set(wanted)):
            score += max(wanted.values())
        scored.append((score, -i, present))
    scored.sort(reverse=True)
    best_score, best_i, best_terms = scored[0]
    chosen = [-best_i]
    if count > 1:
        for score, i, present in scored[1:]:
            if score > 0 and present - best_terms:
                chosen.append(-i)
                break
    if best_score == 0:
        chosen = [0]
    return " ".join(sentences[i] for i in sorted(chosen))


def _compounds(terms: set[str]) -> set[str]:
    """Terms that are two others joined ("zeroshot" beside "zero" and "shot"): the tokenizer keeps
    a hyphenated word whole and in parts, which would count "zero-shot" three times."""
    return {t for t in terms for a in terms if a != t and t.startswith(a) and t[len(a) :] in terms}


def mark_terms(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words in `text` that match a query term (for bold)."""
    if not terms:
        return []
    spans = []
    for match in _WORD.finditer(text):
        if set(tokenize(match.group(0))) & terms:
            spans.append((match.start(), match.end()))
    return spans
