"""Questions about the collection rather than about a subject, answered from the data: authors
("papers by herve jegou", "who wrote the clip paper"), years ("papers from 2023"), links
("which papers have a huggingface model link"), counts ("how many papers on remote sensing":
the count of the papers `/topic` holds, with the list), and names ("is LLaVA in the
collection?", "llava paper?": yes or no by name before any nearest paper).

`answer` returns None for every other question, which the engine then answers as usual. Each
answer is an `Answer` whose `note` says the fact (the count, the yes/no, the authors).
"""

from __future__ import annotations

import re
from typing import Any

from store.answers.followup import author_list, date_phrase
from store.answers.lexical import NAMES_BUILT_BY_ASK
from store.answers.names import _alias_key
from store.answers.results import Answer, Hit
from store.collection import db as store_db
from store.collection.clean import normalize_title
from store.text import shorten

LIST_LIMIT = 10  # papers listed under a count or a list answer
_PAPERS = r"(?:papers?|articles?|works?|publications?|ones)"
_ASKING = r"(?:(?:which|what|list|show(?: me)?|find|any|are there(?: any)?)\s+)?(?:the\s+)?"
# "how many papers on X", "how many remote sensing papers do we have" (a subject before "papers")
_COUNT_RE = re.compile(
    rf"^how many\s+(?P<pre>(?:[\w\-]+\s+){{0,4}}?){_PAPERS}\b\s*(?P<rest>.*)$", re.I
)
_YEAR_RE = re.compile(
    rf"^{_ASKING}{_PAPERS}\s+(?:do we have\s+|are there\s+|are\s+|were\s+)?"
    r"(?:published\s+|written\s+|released\s+)?(?:from|in|of|during)\s+(?P<year>(?:19|20)\d\d)$"
    rf"|^{_ASKING}(?P<year2>(?:19|20)\d\d)\s+{_PAPERS}$",
    re.I,
)
_BY_RE = re.compile(
    rf"^(?:{_ASKING}{_PAPERS}\s+(?:do we have\s+|are\s+|were\s+)?(?:(?:written|authored)\s+)?"
    r"|(?:anything|something|what do we have)\s+)(?P<how>by|from|of)\s+(?P<who>[^\d]+)$",
    re.I,
)
_WROTE_RE = re.compile(
    r"^(?:who\s+(?:wrote|authored|made|are the authors of|is the author of|were the authors of)"
    r"|(?:what|which) are the authors of|(?:list\s+)?(?:the\s+)?authors?\s+of)\s+(?P<name>.+)$",
    re.I,
)
_LINKS_RE = re.compile(
    rf"^(?:{_ASKING}(?:{_PAPERS}\s+)?(?:have|has|with|come with|provide|ship)|{_PAPERS} with)\s+"
    r"(?P<what>.+)$",
    re.I,
)
_WHEN_RE = re.compile(
    r"^(?:when was|when did|what year (?:was|is|did)|which year (?:was|is|did))\s+(?P<name>.+?)"
    r"(?:\s+(?:published|released|written|from|come out|appear|out))$",
    re.I,
)
_HELD_RE = re.compile(
    r"^(?:is|are|do we have|have we got|does the collection (?:have|hold|contain)|is there)\s+"
    r"(?P<name>.+?)(?:\s+(?:in|within) (?:the|our|this) collection|\s+here)?$",
    re.I,
)
_NAMED_PAPER_RE = re.compile(r"^(?:the\s+)?(?P<name>[\w.+\-]+(?:\s+[\w.+\-]+){0,2})\s+paper$", re.I)
_IN_COLLECTION_RE = re.compile(r"\s+(?:in|within) (?:the|our|this) collection$", re.I)
_NAME_NOISE = re.compile(r"^(?:the|a|an)\s+|\s+(?:paper|model|method|work|article)$|'s$", re.I)
_COUNT_NOISE = re.compile(
    r"^(?:(?:do|does|did) (?:we|you|the collection|it) (?:have|hold|contain|know)|are there|"
    r"(?:do )?we have|there are|are)\s*|\s*(?:(?:are |do we have )?in (?:the|our) collection|"
    r"do we have|are there|we have)$",
    re.I,
)
_IN_ALL = re.compile(  # "how many papers are there in total?": the whole collection
    r"^(?:(?:are|is) )?(?:there )?(?:in (?:total|all)|altogether|overall|all together|total)$", re.I
)
_TOPIC_LEAD = re.compile(r"^(?:on|about|regarding|related to|dealing with|for|in|of)\s+", re.I)


def answer(answers: Any, question: str, only: set[str] | None = None) -> Answer | None:
    """The answer to a question about the collection's metadata, or None for any other."""
    text = re.sub(r"[?!.]+$", "", question.strip()).strip()
    if not text:
        return None
    count = _COUNT_RE.match(text)
    if count:
        return _count(answers, count.group("pre"), count.group("rest"), only)
    return _listing(answers, text, only) or _held(answers, text, only)


def _listing(answers: Any, text: str, only: set[str] | None) -> Answer | None:
    """Authors, years and links: "who wrote X", "papers by X", "papers from 2023", "which have code"."""
    if m := _WROTE_RE.match(text):
        return _authors_of(answers, m.group("name"), only)
    if m := _YEAR_RE.match(text):
        year = m.group("year") or m.group("year2")
        with answers._lock:
            ids, undated = store_db.ids_by_year(answers.db, year)
        note = f"{_papers(len(_within(ids, only)))} from {year}"
        if undated:
            note += f" ({undated} papers in the collection have no date)"
        return _list_answer(answers, text, _within(ids, only), note)
    if m := _WHEN_RE.match(text):
        return _date_of(answers, m.group("name"), only)
    if m := _BY_RE.match(text):
        return _by_author(answers, text, m.group("who"), m.group("how").lower() == "by", only)
    if m := _LINKS_RE.match(text):
        return _with_links(answers, text, m.group("what"), only)
    return None


def _within(ids: list[str], only: set[str] | None) -> list[str]:
    return ids if only is None else [pid for pid in ids if pid in only]


def _papers(n: int) -> str:
    """ "1 paper", "4 papers", "No papers" (a note starts with it)."""
    return "No papers" if n == 0 else f"{n} paper" + ("" if n == 1 else "s")


def _list_answer(
    answers: Any, query: str, ids: list[str], note: str, author: str | None = None
) -> Answer:
    """Up to LIST_LIMIT papers with who wrote them and when, under the note (no More button:
    the note says how many there are)."""
    shown = ids[:LIST_LIMIT]
    if len(ids) > len(shown):
        note += f"; the first {len(shown)}"
    hits = _with_facts(answers, answers.cards(shown), author)
    return Answer(query, hits, total=len(hits), note=note + (":" if hits else "."))


def _with_facts(answers: Any, hits: list[Hit], author: str | None = None) -> list[Hit]:
    """Each hit's gist led by its authors (`author` among them, when the list is cut) and date."""
    papers = answers.papers([hit.id for hit in hits])
    for hit in hits:
        paper = papers.get(hit.id, {})
        dated = paper.get("published") or paper.get("listed")
        authors = paper.get("authors") or []
        if author in authors[4:]:
            authors = [*authors[:3], author, *[a for a in authors[3:] if a != author]]
        facts = [author_list(authors, 4), date_phrase(paper) if dated else ""]
        head = " · ".join(f for f in facts if f)
        hit.snippet = f"{head}. {hit.snippet}" if head and hit.snippet else (head or hit.snippet)
        hit.marks = []
    return hits


def _by_author(
    answers: Any, query: str, who: str, surely_author: bool, only: set[str] | None
) -> Answer | None:
    """Papers one of whose authors has every word of the name, accents and case aside."""
    tokens = store_db.fold(who).replace(",", " ").replace(".", " ").split()
    with answers._lock:
        ids = _within(store_db.ids_by_author(answers.db, tokens), only)
    if not ids and not surely_author:
        return None  # "papers of remote sensing": a subject, not a name
    stored = _author_as_stored(answers, ids[:1], tokens)
    note = f"{_papers(len(ids))} by {stored or who.strip()}"
    return _list_answer(answers, query, ids, note, stored)


def _author_as_stored(answers: Any, ids: list[str], tokens: list[str]) -> str | None:
    for paper in answers.papers(ids).values():
        for author in paper.get("authors") or []:
            words = set(store_db.fold(author).replace(",", " ").split())
            if all(t in words for t in tokens):
                return author
    return None


_LINK_KINDS = [
    (re.compile(r"\b(code|implementation|source|repo|repository)\b", re.I), "code", None),
    (re.compile(r"\bgithub\b", re.I), None, "github.com"),
    (re.compile(r"\b(hugging ?face|hf)\b", re.I), None, "huggingface.co"),
    (re.compile(r"\b(models?|weights|checkpoints?)\b", re.I), "model", None),
    (re.compile(r"\bdemos?\b", re.I), "demo", None),
    (re.compile(r"\bproject (page|site)\b", re.I), "project", None),
]


_LINK_WORDS = re.compile(
    r"\b(a|an|any|the|their|its|some|public|publicly|released|open|source|available|links?|"
    r"pages?|urls?|on|at|in|to|and|or|with|code|implementation|repo|repository|github|hugging|"
    r"face|huggingface|hf|models?|weights|checkpoints?|demos?|project|site|released)\b",
    re.I,
)


def _with_links(answers: Any, query: str, what: str, only: set[str] | None) -> Answer | None:
    """Papers with a link of the kind or on the host named ("a huggingface model link": any
    link to huggingface.co, "code on github": code links to github.com); None when the words
    say more than a link ("have a model hand its observations over as text")."""
    if _LINK_WORDS.sub(" ", re.sub(r"[^\w\s]", " ", what)).split():
        return None
    kind = host = None
    for pattern, k, h in _LINK_KINDS:
        if pattern.search(what):
            kind, host = kind or k, host or h
    if kind is None and host is None:
        return None
    if host == "huggingface.co" and kind == "model":
        kind = None  # a Hugging Face link is a model, a demo (Spaces) or a paper page
    with answers._lock:
        ids = _within(store_db.ids_with_link(answers.db, kind, host), only)
    label = {"code": "a code link", "model": "a model link", "demo": "a demo link"}.get(kind or "")
    label = label or "a link"
    where = {"github.com": " on GitHub", "huggingface.co": " to Hugging Face"}.get(host or "", "")
    return _list_answer(answers, query, ids, f"{_papers(len(ids))} with {label}{where}")


def _count(answers: Any, pre: str, rest: str, only: set[str] | None) -> Answer:
    """ "How many papers ...": the count of a list answer, or of the papers on a subject (named
    before "papers" or after it)."""
    rest = _COUNT_NOISE.sub("", rest.strip()).strip()
    rest = _IN_ALL.sub("", rest).strip()
    if pre.strip():
        rest = f"on {pre.strip()} {rest}".strip()
    if not rest:
        total = len(only) if only is not None else answers.stats()["papers"]
        return Answer("how many papers", [], note=f"The collection holds {_papers(total)}.")
    listed = _listing(answers, f"papers {rest}", only)
    if listed is not None:
        return listed
    words = _TOPIC_LEAD.sub("", rest)
    found = answers.topic(words, offset=0, limit=LIST_LIMIT, only=only)
    if not found.total:
        note = f"No paper in the collection is on “{words}”."
        return Answer(found.query, [], found.suggestions, note=note)
    note = f"{_papers(found.total)} on “{found.query}”"
    if found.total > len(found.results):
        note += f"; the first {len(found.results)} (More, or /topic {found.query}, for the rest)"
    found.note = note + ":"
    return found


# ---------------------------------------------------------------- papers by name


def named(answers: Any, name: str, titles: bool = True) -> list[str]:
    """Papers that go by `name`: a title's short name or a repository's ("clip"), else (with
    `titles`) a phrase of their titles ("visual instruction tuning")."""
    by_id = answers.held_refs(name)
    if by_id:
        return by_id
    name = _NAME_NOISE.sub("", _NAME_NOISE.sub("", name.strip())).strip()
    key = _alias_key(name)
    with answers._lock:  # a big collection's names table takes a minute: /repo builds it
        built = answers._aliases is not None or answers.index.size <= NAMES_BUILT_BY_ASK
        ids = list(answers.aliases().get(key, [])) if key and built else []
        if not ids and titles and len(name.split()) >= 2:
            ids = store_db.ids_titled(answers.db, normalize_title(name))
    return ids


def _authors_of(answers: Any, name: str, only: set[str] | None) -> Answer:
    """Who wrote the paper a name points at (or that it is not in the collection)."""
    ids = _within(named(answers, name), only)[:3]
    if not ids:
        return _not_held(answers, name, only)
    papers = answers.papers(ids)
    lines = []
    for pid in ids:
        authors = papers[pid].get("authors") or []
        title = f"“{shorten(papers[pid]['title'], 90)}”"
        who = f"is by {author_list(authors)}" if authors else "has no author list in the collection"
        lines.append(f"{title} {who}" + ("" if who.endswith(".") else "."))
    return Answer(
        name, _with_facts(answers, answers.cards(ids)), total=len(ids), note="\n".join(lines)
    )


def _date_of(answers: Any, name: str, only: set[str] | None) -> Answer:
    """When the paper a name points at is from (or that it is not in the collection)."""
    ids = _within(named(answers, name), only)[:3]
    if not ids:
        return _not_held(answers, name, only)
    papers = answers.papers(ids)
    lines = [f"“{shorten(papers[p]['title'], 90)}”: {date_phrase(papers[p])}." for p in ids]
    hits = _with_facts(answers, answers.cards(ids))
    return Answer(name, hits, total=len(ids), note="\n".join(lines))


def _held(answers: Any, text: str, only: set[str] | None) -> Answer | None:
    """ "Is X in the collection?", "do we have X?", "X paper?": yes or no by name, then the
    nearest papers when X itself is not there."""
    m = _NAMED_PAPER_RE.match(text)
    if m is None:
        m = _HELD_RE.match(text)
        if m is None or not (_IN_COLLECTION_RE.search(text) or _asks_to_hold(m, text)):
            return None
    name = _IN_COLLECTION_RE.sub("", m.group("name")).strip()
    subject = not _name_like(name)
    ids = _within(named(answers, name, titles=not subject), only)
    if ids:
        hits = _with_facts(answers, answers.cards(ids[:3]))
        what = "it is" if len(ids) == 1 else f"{len(ids)} papers go by that name"
        return Answer(name, hits, total=len(hits), note=f"Yes: {what} in the collection.")
    if subject:  # "is remote sensing in the collection?": the papers on it
        found = answers.topic(name, offset=0, limit=LIST_LIMIT, only=only)
        if found.total:
            found.note = f"Yes: {_papers(found.total)} on “{found.query}”:"
            return found
    return _not_held(answers, name, only)


def _asks_to_hold(m: re.Match, text: str) -> bool:
    """ "Do we have LLaVA?" asks whether the collection holds a name; "is CLIP good?" does not
    (an "is" question asks it only with "in the collection")."""
    return not re.match(r"(?:is|are)\b", text, re.I) and _name_like(m.group("name"))


def _name_like(name: str) -> bool:
    """A name rather than a subject: one word, or a few with capitals or digits ("LLaVA 1.5")."""
    words = _NAME_NOISE.sub("", name.strip()).split()
    if len(words) == 1:
        return True
    return len(words) <= 3 and any(re.search(r"[A-Z].*[A-Z]|\d", w) for w in words)


def _not_held(answers: Any, name: str, only: set[str] | None) -> Answer:
    """No paper goes by the name: say so, then the nearest papers (labelled as such)."""
    clean = _NAME_NOISE.sub("", name.strip()).strip()
    nearest = answers.ask(clean, limit=3, only=only)
    note = f"No: “{clean}” itself is not in the collection."
    if nearest.results:
        note += " The nearest papers:"
    nearest.note = note
    nearest.total = len(nearest.results)  # the nearest, not an answer to page through
    return nearest
