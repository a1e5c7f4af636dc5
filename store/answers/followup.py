"""Follow-ups: a question read with the papers of an earlier answer ("does the second one need
training?", "does it have code?", "who wrote them?").

A question is a follow-up when it replies to one of the bot's answers (or follows one in a
`paperbot ask --follow` session) and points at its papers: an ordinal ("the second one", "#2"),
a pronoun ("it", "they", "that paper"), or nothing but a fact to look up ("code?"). A message
that is not a reply points back only with such a word, to the asker's last answer. Anything
else is a new question. The answer's papers come from the table `Chats.remember_answer` fills;
an answer sent before it existed still names its papers (`/paper ID` lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from store.answers.results import Answer, Hit
from store.text import shorten

_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "last": -1,
}
_ORDINAL_WORDS = r"(first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)"
_NOUNS = r"(?:one|paper|result|answer|article|work)"
# "the second one", "the 3rd", "second paper"; not "a second view", "last year", "llava first"
_ORDINAL_RE = re.compile(
    rf"\bthe\s+{_ORDINAL_WORDS}(?:\s+{_NOUNS})?\b|\b{_ORDINAL_WORDS}\s+{_NOUNS}\b", re.I
)
_NUMBER_RE = re.compile(r"(?:#\s*|\bno\.\s*|\bnumber\s+|\bpaper\s+|\bresult\s+)([1-9])\b", re.I)
_ALL_RE = re.compile(
    r"\b(they|them|their|these|those|both|all of them|all three|each|which one|which ones|any of them)\b",
    re.I,
)
_ONE_RE = re.compile(
    r"\b(it|its|it's|this one|that one|(?:this|that|the) (?:paper|work|article|method|model))\b",
    re.IGNORECASE,
)
_PAPER_REF_RE = re.compile(r"/paper\s+(\S+)")
_CODE_RE = re.compile(r"\b(code|github|gitlab|repo|repository|implementation)\b", re.I)
_AUTHORS_RE = re.compile(r"\b(who wrote|who made|authors?|written by|wrote)\b", re.I)
_DATE_RE = re.compile(
    r"\b(when (?:was|were|did|is|are)|what year|which year|published|publication|date|how old|"
    r"how recent|come out|came out)\b",
    re.I,
)
_LINKS_RE = re.compile(r"\b(links?|hugging ?face|weights|checkpoints?|demo|project page)\b", re.I)
_FILLER = re.compile(
    r"\b(does|do|did|is|are|was|were|has|have|had|any|there|a|an|the|one|ones|paper|papers|"
    r"what|about|and|so|ok|okay|please|thanks|link|links|for|of|on)\b",
    re.IGNORECASE,
)
POSITION_NAMES = ["1st", "2nd", "3rd", "4th", "5th"]
SHORT_FOLLOWUP = 7  # words: a longer message that is no reply and says "it" is a new question
LONG_FOLLOWUP = 15  # words: a longer reply that says "it" or "their" is a new question


@dataclass(frozen=True)
class Follow:
    """Where a question was asked: the answer it replies to and the asker's conversation."""

    reply_key: str | None = None  # the answer message replied to ("chat:message", "cli:SESSION")
    replied_text: str = ""  # that message's text: its `/paper ID` lines if the key is unknown
    thread: str | None = None  # the asker's conversation ("chat:user"): its last answer


def pointed_at(text: str, count: int) -> list[int] | None:
    """Positions (0-based) of the earlier answer's papers the text points at, or None when it
    points at none: an ordinal or number picks one, "they"/"both" all, "it"/"that paper" the first."""
    picked = [_ORDINALS[(m.group(1) or m.group(2)).lower()] for m in _ORDINAL_RE.finditer(text)]
    picked += [int(m.group(1)) - 1 for m in _NUMBER_RE.finditer(text)]
    if picked:
        positions = [p if p >= 0 else count - 1 for p in picked]
        return list(dict.fromkeys(p for p in positions if 0 <= p < count)) or None
    if _ALL_RE.search(text):
        return list(range(count))
    if _ONE_RE.search(text):
        return [0]
    return None


def fact_asked(text: str) -> str | None:
    """The fact a follow-up looks up ("code", "authors", "date", "links"), or None for a question
    answered from the papers' abstracts."""
    for name, pattern in (
        ("authors", _AUTHORS_RE),
        ("code", _CODE_RE),
        ("date", _DATE_RE),
        ("links", _LINKS_RE),
    ):
        if pattern.search(text):
            return name
    return None


def bare_fact(text: str) -> bool:
    """True for a reply that only asks for a fact ("code?", "any github link?", "authors?")."""
    if fact_asked(text) is None:
        return False
    rest = _FILLER.sub(" ", re.sub(r"[^\w\s]", " ", text))
    for pattern in (_CODE_RE, _AUTHORS_RE, _DATE_RE, _LINKS_RE):
        rest = pattern.sub(" ", rest)
    return not rest.split()


def earlier_papers(chats: Any, follow: Follow, text: str) -> list[str] | None:
    """The papers of the answer the question follows, or None when it is a new question."""
    if follow.reply_key:
        ids = chats.answer_for(follow.reply_key)
        if ids is None:
            ids = list(dict.fromkeys(_PAPER_REF_RE.findall(follow.replied_text)))
        if ids and (_points_at(text, len(ids)) or bare_fact(text)):
            return ids
        return None
    if follow.thread and _points_back(text):
        return chats.last_answer(follow.thread) or None
    return None


def _points_at(text: str, count: int) -> bool:
    """A reply points at the answer's papers with an ordinal ("the second one"), or with a
    pronoun when it is not a long question of its own (whose "their" is its own)."""
    if _ORDINAL_RE.search(text) or _NUMBER_RE.search(text):
        return pointed_at(text, count) is not None
    return len(text.split()) <= LONG_FOLLOWUP and pointed_at(text, count) is not None


def _points_back(text: str) -> bool:
    """A message that is no reply follows the last answer only when it is short and says so
    ("does it have code?", "the second one?"; a long question's "their" or "first" is its own)."""
    return len(text.split()) <= SHORT_FOLLOWUP and pointed_at(text, 5) is not None


def answer(
    answers: Any, question: str, follow: Follow, only: set[str] | None = None
) -> Answer | None:
    """The follow-up's answer about the papers it points at, or None when it is not one."""
    ids = earlier_papers(answers.chats, follow, question)
    if not ids:
        return None
    with answers._lock:
        others = set(answers._named(question)) - set(ids)
    if others:
        return None  # "how does it differ from CoOp?": about another paper, a new question
    positions = pointed_at(question, len(ids))
    if positions is None:
        positions = list(range(len(ids)))
    chosen = [ids[p] for p in positions]
    papers = answers.papers(chosen)
    chosen = [pid for pid in chosen if pid in papers and (only is None or pid in only)]
    if not chosen:
        return Answer(
            question, [], note="The papers of that answer are no longer in the collection."
        )
    fact = fact_asked(question)
    hits = _hits_about(answers, question, [papers[p] for p in chosen]) if fact is None else []
    silent = fact is None and not hits
    if silent and not (_ORDINAL_RE.search(question) or _NUMBER_RE.search(question)):
        return None  # "it", and none of its words in those papers: a new question ("steaks?")
    if not hits:
        hits = answers.cards(chosen)
    elif fact is None:  # the lines follow the papers that answer, in their order
        chosen = [hit.id for hit in hits]
    lines = [_fact_line(papers[pid], fact, _where(ids.index(pid), len(ids))) for pid in chosen]
    if silent:  # "the second one": that paper, though its abstract has none of the words
        lines = [line.removesuffix(":") + ": its abstract does not say." for line in lines]
    return Answer(question, hits, total=len(hits), note="\n".join(lines))


def _where(position: int, count: int) -> str:
    """ "the 2nd paper" of an earlier answer (or "the paper" when it showed one)."""
    if count == 1:
        return "the paper"
    name = POSITION_NAMES[position] if position < len(POSITION_NAMES) else f"#{position + 1}"
    return f"the {name} paper"


def _fact_line(paper: dict[str, Any], fact: str | None, where: str) -> str:
    """One line about a paper: the fact asked, or what the reply below quotes from it."""
    title = f"“{shorten(paper['title'], 90)}”"
    if fact == "code":
        code = [link["url"] for link in paper["links"] if link["kind"] == "code"]
        return f"{where.capitalize()}, {title}: " + (
            f"code at {', '.join(code[:2])}" if code else "no code link."
        )
    if fact == "links":
        urls = [f"{link['kind']}: {link['url']}" for link in paper["links"]]
        return f"{where.capitalize()}, {title}: " + ("; ".join(urls[:4]) or "no links.")
    if fact == "authors":
        authors = paper.get("authors") or []
        return f"{where.capitalize()}, {title}: " + (
            f"by {author_list(authors).removesuffix('.')}."
            if authors
            else "the collection has no author list for it."
        )
    if fact == "date":
        return f"{where.capitalize()}, {title}: {date_phrase(paper)}."
    return f"About {where}, {title}:"


def author_list(authors: list[str], most: int = 8) -> str:
    """ "A, B and C", or the first `most` and "et al."."""
    if len(authors) > most:
        return ", ".join(authors[:most]) + " et al."
    if len(authors) > 1:
        return ", ".join(authors[:-1]) + " and " + authors[-1]
    return authors[0] if authors else ""


def date_phrase(paper: dict[str, Any]) -> str:
    """When a paper is from: its publication date, else its listing date, else when it was added."""
    if paper.get("published"):
        return f"published {str(paper['published'])[:10]}"
    if paper.get("listed"):
        return f"listed {str(paper['listed'])[:10]}"
    added = str(paper.get("added_at") or "")[:10]
    return "no date in the collection" + (f" (added {added})" if added else "")


def _hits_about(answers: Any, question: str, papers: list[dict[str, Any]]) -> list[Hit]:
    """The papers with the sentences of their abstracts that answer the question (the engine's
    snippet rule, over these papers alone)."""
    words = _ORDINAL_RE.sub(" ", _NUMBER_RE.sub(" ", question))
    terms = answers._query_terms(words)
    with answers._lock:
        if terms and not any(set(terms) & answers._doc_terms(paper) for paper in papers):
            return []
        shown = answers._snippet_terms(terms) if terms else []
        held = {paper["id"]: len(set(terms) & answers._doc_terms(paper)) for paper in papers}
        if terms:  # "which one is training-free?": the papers that say it, most telling first
            papers = sorted((p for p in papers if held[p["id"]]), key=lambda p: -held[p["id"]])
        return [answers._hit(paper, 0.0, 0.0, shown) for paper in papers]
