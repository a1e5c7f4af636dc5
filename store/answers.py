"""Answers: ask, topic, repo and similar as plain functions over the store and the BM25 index.

Nothing here knows Telegram: results are dataclasses the bot formats and the CLI prints as JSON.
"Nothing relevant" is a value (empty `results`, maybe `suggestions`), never an exception.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from store import db as store_db
from store.clean import short_name
from store.index import Index, sync_index
from store.text import _WORD, split_sentences, tokenize

# The no-answer rule. A result must hold half of the question's specificity (idf mass, unseen words
# counting as the rarest), or else share several telling words with it: a long colloquial question
# leaves many of its words unseen, while an off-topic one matches one or two words by chance.
MIN_COVERAGE = 0.5
MIN_SHARED_TERMS = 3
MIN_SHARED_IDF = 5.0
SNIPPET_SENTENCES = 2
GIST_CHARS = 220
MAX_QUERY_TOKENS = 64
NO_CODE_LINK = "no code link in the abstract"


@dataclass
class Hit:
    """One paper in a reply: what it is, why it matched, where to find it."""

    id: str
    title: str
    score: float
    snippet: str
    url: str | None
    links: list[dict[str, str]]
    marks: list[tuple[int, int]] = field(default_factory=list)  # spans of `snippet` to bold
    coverage: float = 0.0

    def links_by_kind(self) -> dict[str, list[str]]:
        """Links grouped by kind, code first."""
        out: dict[str, list[str]] = {}
        for kind in ("code", "model", "demo", "project", "other"):
            urls = [link["url"] for link in self.links if link["kind"] == kind]
            if urls:
                out[kind] = urls
        return out


@dataclass
class Answer:
    """A reply's content: results (maybe none), labelled suggestions, and paging."""

    query: str
    results: list[Hit]
    suggestions: list[str] = field(default_factory=list)
    total: int = 0
    offset: int = 0
    terms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The contract of `--json`: query, results [id, title, score, snippet, url, links], suggestions."""
        results = []
        for hit in self.results:
            item = asdict(hit)
            item["marks"] = [list(m) for m in hit.marks]
            results.append(item)
        return {
            "query": self.query,
            "results": results,
            "suggestions": self.suggestions,
            "total": self.total,
            "offset": self.offset,
        }


def paper_url(paper: dict[str, Any]) -> str | None:
    """The paper's own page: arXiv (or Hugging Face for HF imports) when its id is known."""
    arxiv_id = paper.get("arxiv_id")
    if arxiv_id:
        if paper.get("source") == "hf":
            return f"https://huggingface.co/papers/{arxiv_id}"
        return f"https://arxiv.org/abs/{arxiv_id}"
    for kind in ("project", "code"):
        for link in paper.get("links", []):
            if link["kind"] == kind:
                return link["url"]
    return None


def clean_query(text: str) -> str:
    """A question as a user typed it, with control characters dropped and its length bounded."""
    text = "".join(ch if ch.isprintable() else " " for ch in text or "")
    return re.sub(r"\s+", " ", text).strip()[:1000]


class Answers:
    """The answer engine over one database and its index; safe to call from worker threads."""

    def __init__(self, db, db_path: Path | str | None = None, index: Index | None = None) -> None:
        self.db = db
        self.db_path = db_path
        self.index = index if index is not None else sync_index(db, db_path)
        self._lock = threading.RLock()
        self._aliases: dict[str, list[str]] | None = None
        self._aliases_seq = -1

    @classmethod
    def open(cls, db_path: Path | str | None = None) -> Answers:
        """Open the database (importing the bundled collection into an empty one) and its index."""
        db = store_db.open_db(db_path)
        store_db.ensure_seeded(db)
        return cls(db, db_path or store_db.default_db_path())

    def refresh(self) -> int:
        """Index papers added since the last call (after an import or a fetch); returns the count."""
        with self._lock:
            before = len(self.index.doc_ids)
            self.index = sync_index(self.db, self.db_path, self.index)
            return len(self.index.doc_ids) - before

    # ------------------------------------------------------------ relevance

    def _query_terms(self, question: str) -> list[str]:
        return tokenize(clean_query(question))[:MAX_QUERY_TOKENS]

    def _specificity(self, terms: list[str]) -> dict[str, float]:
        """How telling each distinct query term is: its idf, or an unseen word's idf if absent."""
        unseen = self.index.unseen_idf()
        out = {}
        for term in dict.fromkeys(terms):
            tid = self.index.vocab.get(term)
            known = tid is not None and self.index.df[tid] > 0
            out[term] = max(self.index.idf_of(term), 0.0) if known else unseen
        return out

    @staticmethod
    def _relevant(spec: dict[str, float], doc_terms: set[str]) -> tuple[bool, float]:
        """The no-answer rule for one paper: (good enough, share of the question's specificity)."""
        shared = [w for t, w in spec.items() if t in doc_terms]
        coverage = sum(shared) / (sum(spec.values()) or 1.0)
        several = len(shared) >= MIN_SHARED_TERMS and sum(shared) >= MIN_SHARED_IDF
        return coverage >= MIN_COVERAGE or several, coverage

    def _ranked(self, terms: list[str], k: int, exclude: set[str] | None = None):
        """BM25 hits with their papers, split into (good, weak) by the no-answer rule."""
        found = self.index.search(terms, k, exclude=exclude)
        papers = store_db.get_papers(self.db, [pid for pid, _ in found])
        spec = self._specificity(terms)
        good, weak = [], []
        for pid, score in found:
            paper = papers.get(pid)
            if paper is None:
                continue
            doc_terms = set(tokenize(paper["title"] + " " + paper["abstract"]))
            doc_terms |= set(tokenize(" ".join(link["url"] for link in paper["links"])))
            ok, coverage = self._relevant(spec, doc_terms)
            (good if ok else weak).append((paper, score, coverage))
        return good, weak

    # ------------------------------------------------------------ public calls

    def ask(self, question: str, limit: int = 3) -> Answer:
        """The top papers for a question, each with the sentences that answer it."""
        query = clean_query(question)
        terms = self._query_terms(query)
        if not terms:
            return Answer(query, [])
        with self._lock:
            good, weak = self._ranked(terms, max(limit, 1) + 7)
        results = [self._hit(p, s, c, terms) for p, s, c in good[: max(limit, 0)]]
        suggestions = [] if results else [p["title"] for p, _, _ in weak[:3]]
        return Answer(query, results, suggestions, total=len(good), terms=terms)

    def topic(self, words: str, offset: int = 0, limit: int = 5) -> Answer:
        """A ranked, pageable list of papers on a subject, each with a one-line gist."""
        query = clean_query(words)
        terms = self._query_terms(query)
        if not terms:
            return Answer(query, [])
        offset = max(offset, 0)
        with self._lock:
            good, weak = self._ranked(terms, offset + limit + 50)
        page = good[offset : offset + limit]
        results = [self._hit(p, s, c, terms, gist=True) for p, s, c in page]
        suggestions = [] if good else [p["title"] for p, _, _ in weak[:3]]
        return Answer(query, results, suggestions, total=len(good), offset=offset, terms=terms)

    def repo(self, name: str, limit: int = 3) -> Answer:
        """Find a paper by its name, acronym, repository name or words, with its links."""
        query = clean_query(name)
        key = _alias_key(query)
        with self._lock:
            ids = self.aliases().get(key, []) if key else []
            if ids:
                papers = store_db.get_papers(self.db, ids[:limit])
                hits = [
                    self._hit(papers[i], 0.0, 1.0, [], gist=True)
                    for i in ids[:limit]
                    if i in papers
                ]
                return Answer(query, hits, total=len(ids), terms=[])
        answer = self.ask(query, limit=1)
        for hit in answer.results:
            hit.snippet, hit.marks = self._gist(hit), []
        return answer

    def similar(self, paper_id: str, limit: int = 3) -> Answer:
        """Papers most like a given one: BM25 with its most telling terms as the query."""
        with self._lock:
            paper = store_db.get_paper(self.db, paper_id)
            if paper is None:
                return Answer(paper_id, [])
            tfs = self.index.term_frequencies(paper["id"])
            weights = {t: tf * self.index.idf_of(t) for t, tf in tfs.items()}
            terms = sorted(weights, key=weights.get, reverse=True)[:25]
            found = self.index.search(terms, limit, exclude={paper["id"]})
            papers = store_db.get_papers(self.db, [pid for pid, _ in found])
        results = [
            self._hit(papers[pid], s, 0.0, terms, gist=True) for pid, s in found if pid in papers
        ]
        return Answer(paper["title"], results, total=len(results), terms=terms)

    def matching(self, keywords: str, paper_ids: list[str]) -> list[str]:
        """Which of these papers a subscription's keywords select, by BM25 and the no-answer rule."""
        terms = self._query_terms(keywords)
        if not terms:
            return list(paper_ids)
        with self._lock:
            scores = self.index.scores(terms)
            spec = self._specificity(terms)
            papers = store_db.get_papers(self.db, list(paper_ids))
        out = []
        for pid in paper_ids:
            doc = self.index.doc_of.get(pid)
            paper = papers.get(pid)
            if doc is None or paper is None or scores[doc] <= 0:
                continue
            doc_terms = set(tokenize(paper["title"] + " " + paper["abstract"]))
            if self._relevant(spec, doc_terms)[0]:
                out.append(pid)
        return out

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        """One paper in full (with `url`), by id or arXiv id."""
        with self._lock:
            paper = store_db.get_paper(self.db, paper_id)
        if paper:
            paper["url"] = paper_url(paper)
        return paper

    def latest(self, limit: int = 5) -> list[Hit]:
        """Recently added papers as hits with a gist."""
        with self._lock:
            papers = store_db.latest(self.db, limit)
        return [self._hit(p, 0.0, 0.0, [], gist=True) for p in papers]

    def stats(self) -> dict[str, Any]:
        """Collection figures (papers, links, last import, subscriptions)."""
        with self._lock:
            return store_db.stats(self.db)

    # ------------------------------------------------------------ building hits

    def aliases(self) -> dict[str, list[str]]:
        """Names a paper goes by (title short name, repository names), normalized -> paper ids."""
        if self._aliases is None or self._aliases_seq != self.index.covered_seq:
            self._aliases = build_aliases(self.db)
            self._aliases_seq = self.index.covered_seq
        return self._aliases

    def _hit(
        self, paper, score: float, coverage: float, terms: list[str], gist: bool = False
    ) -> Hit:
        hit = Hit(
            id=paper["id"],
            title=paper["title"],
            score=round(float(score), 6),
            snippet="",
            url=paper_url(paper),
            links=paper["links"],
            coverage=round(coverage, 4),
        )
        hit.snippet = best_sentences(
            paper["abstract"], terms, self.index, 1 if gist else SNIPPET_SENTENCES
        )
        if gist:
            hit.snippet = shorten(
                paper.get("ai_summary") or hit.snippet or paper["abstract"], GIST_CHARS
            )
        hit.marks = mark_terms(hit.snippet, set(terms))
        return hit

    def _gist(self, hit: Hit) -> str:
        return shorten(hit.snippet, GIST_CHARS)


def best_sentences(abstract: str, terms: list[str], index: Index, count: int) -> str:
    """The `count` sentences that hold most of the query's idf mass, in their original order."""
    sentences = split_sentences(abstract)
    if not sentences:
        return ""
    wanted = {t: max(index.idf_of(t), 0.01) for t in terms}
    if not wanted:
        return sentences[0]
    scored = []
    for i, sentence in enumerate(sentences):
        present = set(tokenize(sentence)) & wanted.keys()
        scored.append((sum(wanted[t] for t in present), -i, present))
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


def mark_terms(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words in `text` that match a query term (for bold)."""
    if not terms:
        return []
    spans = []
    for match in _WORD.finditer(text):
        if set(tokenize(match.group(0))) & terms:
            spans.append((match.start(), match.end()))
    return spans


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _alias_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _repo_names(url: str) -> list[str]:
    """Names a link gives its paper: the repository, a sub-project, a model or a project host."""
    rest = re.sub(r"^https?://(www\.)?", "", url.lower())
    host, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    names = []
    if host in ("github.com", "gitlab.com", "huggingface.co") and len(parts) >= 2:
        names.append(parts[-1] if host == "huggingface.co" else parts[1])
        if "projects" in parts[:-1]:
            names.append(parts[-1])
    elif host.endswith(".github.io"):
        names.append(host.split(".")[0])
    return names


def build_aliases(db) -> dict[str, list[str]]:
    """Map normalized names (title short names, repo and model names) to paper ids."""
    aliases: dict[str, list[str]] = {}

    def add(name: str, pid: str) -> None:
        key = _alias_key(name)
        if len(key) >= 2 and pid not in aliases.setdefault(key, []):
            aliases[key].append(pid)

    for pid, title in db.execute("select id, title from papers"):
        name = short_name(title)
        if name:
            add(name, pid)
        add(title, pid)
    for pid, url, kind in db.execute("select paper_id, url, kind from links"):
        if kind in ("code", "model", "project", "demo"):
            for name in _repo_names(url):
                add(name, pid)
    return aliases
