"""Answers: ask, topic, repo and similar as plain functions over the store and the BM25 index.

Nothing here knows Telegram: results are dataclasses the bot formats and the CLI prints as JSON.
"Nothing relevant" is a value (empty `results`, maybe `suggestions`), never an exception.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from store import db as store_db
from store import expansion as qexp
from store import semantic as sem
from store.chats import Chats
from store.clean import short_name
from store.index import Index, document_tokens, sync_index
from store.text import _WORD, shorten, split_sentences, tokenize

# The no-answer rule. A result must hold half of the question's specificity (idf mass, unseen words
# counting as the rarest), or else share several telling words with it: a long colloquial question
# leaves many of its words unseen, while an off-topic one matches one or two words by chance.
MIN_COVERAGE = 0.5
MIN_SHARED_TERMS = 3
MIN_SHARED_IDF = 5.0
MIN_EQUIVALENT_IDF = 1.0  # a stand-in word this common ("image" for "photo") adds coverage only
SNIPPET_SENTENCES = 2
GIST_CHARS = 220
MAX_QUERY_TOKENS = 64
NO_CODE_LINK = "no code link in the abstract"

# The semantic stage. Fusion trusts BM25 alone when the best lexical paper covers at least
# TRUST_HIGH of the question's specificity, meaning alone below TRUST_LOW (see semantic.fuse).
# A paper whose cosine similarity to the question reaches SEMANTIC_ACCEPT is relevant even when it
# shares few words with it. With this model nonsense stays below ~0.25 and unrelated papers of the
# field reach 0.35-0.6, so with SEMANTIC_FLOOR 0 the candidates' fused similarities span ~0.7-1:
# meaning re-orders close lexical candidates rather than overriding BM25 (weighing it more lost
# paraphrase recall in every variant tried: RRF, min-max, z-scores, other floors and trusts).
TRUST_LOW = 0.1
TRUST_HIGH = 0.85
SEMANTIC_FLOOR = 0.0
SEMANTIC_ACCEPT = 0.45
SEMANTIC_SUPPORT = 0.30  # with this similarity, a paper needs only MIN_COVERAGE_SUPPORTED
MIN_COVERAGE_SUPPORTED = 0.2
SEMANTIC_CANDIDATES = 20
TRUST_PAPERS = 5  # the lexical confidence is the best coverage among this many top BM25 papers


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
        """The contract of `--json` (README, "Asking"): query, results [id, title, score, snippet,
        url, links, marks], suggestions, total, offset. A hit's `coverage` stays internal."""
        results = [
            {
                "id": hit.id,
                "title": hit.title,
                "score": hit.score,
                "snippet": hit.snippet,
                "url": hit.url,
                "links": [dict(link) for link in hit.links],
                "marks": [list(m) for m in hit.marks],
            }
            for hit in self.results
        ]
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

    def __init__(
        self,
        db,
        db_path: Path | str | None = None,
        index: Index | None = None,
        *,
        expansion: bool = True,
        feedback: bool = False,
        semantic: bool | sem.Encoder | None = None,
    ) -> None:
        """`expansion`: acronyms and field synonyms; `feedback`: RM3 on top of them; `semantic`:
        None turns the embedding stage on when PAPERBOT_SEMANTIC=on and it is installed, False
        keeps it off, True requires it, an Encoder (anything with name, dim, encode) is used."""
        self.db = db
        self.db_path = db_path
        self.index = index if index is not None else sync_index(db, db_path)
        self._lock = threading.RLock()
        self.chats = Chats(db, self._lock)  # subscriptions and the ledger, on this connection
        self._aliases: _Aliases | None = None
        self._aliases_seq = 0
        self.expansion = expansion
        self.feedback = feedback
        self._vocabularies: list[qexp.Vocabulary] | None = None
        self._vocab_index: Index | None = None
        self._vocab_count = 0
        if semantic is None:
            self.encoder = sem.load_encoder()
        elif semantic is True:
            self.encoder = sem.Encoder()
        else:
            self.encoder = semantic or None
        self._terms_cache: dict[str, set[str]] = {}
        self._terms_seq = -1
        self.vectors: sem.Vectors | None = None
        if self.encoder is not None:
            self.vectors = sem.sync_vectors(db, db_path, self.encoder)

    @property
    def stage(self) -> str:
        """Which stages answer questions, e.g. "bm25+expansion+semantic" (the bot logs it)."""
        parts = ["bm25"]
        if self.expansion:
            parts.append("expansion")
        if self.feedback:
            parts.append("rm3")
        if self.encoder is not None:
            parts.append("semantic")
        return "+".join(parts)

    def describe_stage(self) -> str:
        """One line for start-up logs: the active stages and how to change them."""
        if self.encoder is not None:
            return f"answers: {self.stage} ({self.encoder.name}, {len(self.vectors or [])} vectors)"
        if not sem.installed():
            hint = 'semantic stage not installed (pip install ".[semantic]", PAPERBOT_SEMANTIC=on)'
        elif sem.wanted():
            hint = "semantic stage installed but failed to load"
        else:
            hint = "semantic stage installed, off (PAPERBOT_SEMANTIC=on turns it on)"
        return f"answers: {self.stage}; {hint}"

    @classmethod
    def open(cls, db_path: Path | str | None = None) -> Answers:
        """Open the database (importing the bundled collection into an empty one) and its index."""
        db = store_db.open_db(db_path)
        store_db.ensure_seeded(db)
        return cls(db, db_path or store_db.default_db_path())

    def import_records(self, records: list[dict[str, Any]], name: str) -> store_db.ImportResult:
        """Store parsed records in one transaction (a feed's body, already downloaded and parsed:
        the lock is held for the write only). `refresh` then indexes them."""
        with self._lock:
            return store_db.upsert_papers(self.db, records, name=name)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Each term's idf in the collection (0 for unknown terms), read under the engine's lock:
        a refresh may be adding papers in another thread."""
        with self._lock:
            return {term: self.index.idf_of(term) for term in terms}

    def refresh(self) -> int:
        """Index papers added since the last call (after an import or a fetch); returns the count."""
        with self._lock:
            before = len(self.index.ids)
            self.index = sync_index(self.db, self.db_path, self.index)
            if self.encoder is not None:
                self.vectors = sem.sync_vectors(self.db, self.db_path, self.encoder, self.vectors)
            return len(self.index.ids) - before

    def _alive(self, paper_id: str) -> bool:
        """The paper is in the index and not replaced or removed."""
        doc = self.index.ids.get(paper_id)
        return doc is not None and bool(self.index.alive[doc])

    # ------------------------------------------------------------ relevance

    def _query_terms(self, question: str) -> list[str]:
        return tokenize(clean_query(question))[:MAX_QUERY_TOKENS]

    def _specificity(self, terms: list[str]) -> dict[str, float]:
        """How telling each distinct query term is: its idf, or an unseen word's idf if absent."""
        unseen = self.index.unseen_idf()
        out = {}
        for term in dict.fromkeys(terms):
            tid = self.index.terms.get(term)
            known = tid is not None and self.index.df[tid] > 0
            out[term] = max(self.index.idf_of(term), 0.0) if known else unseen
        return out

    @staticmethod
    def _relevant(
        spec: dict[str, float],
        doc_terms: set[str],
        equivalents: dict[str, dict[str, float]] | None = None,
    ) -> tuple[bool, float]:
        """The no-answer rule for one paper: (good enough, share of the question's specificity).

        A query word the paper lacks is still covered by an equivalent it holds (an acronym's long
        form, a field synonym), but only with the specificity of the equivalent it holds, and it
        counts among the "several telling words" only when that equivalent is itself telling.
        """
        shared, telling = [], 0
        for term, weight in spec.items():
            if term in doc_terms:
                shared.append(weight)
                telling += 1
            elif equivalents and term in equivalents:
                held = [w for t, w in equivalents[term].items() if t in doc_terms]
                if held:
                    shared.append(min(weight, max(held)))
                    telling += shared[-1] >= MIN_EQUIVALENT_IDF
        coverage = sum(shared) / (sum(spec.values()) or 1.0)
        several = telling >= MIN_SHARED_TERMS and sum(shared) >= MIN_SHARED_IDF
        return coverage >= MIN_COVERAGE or several, coverage

    def vocabularies(self) -> list[qexp.Vocabulary]:
        """The field synonyms and the acronyms mined from the collection. The index mines each
        paper's definitions as it indexes it, so this only adds the ones not seen yet."""
        index = self.index
        if self._vocabularies is None or self._vocab_index is not index:
            self._vocabularies = [_field_vocabulary(), qexp.Vocabulary()]
            self._vocab_index, self._vocab_count = index, 0
        if self._vocab_count < len(index.acronyms):
            new = index.acronyms[self._vocab_count :]
            qexp.add_definitions(self._vocabularies[1], map(qexp.parse_definition, new))
            self._vocab_count += len(new)
        return self._vocabularies

    def _expand(self, terms: list[str]) -> qexp.Expansion:
        if not self.expansion:
            return qexp.expand(terms, [])
        known = self.index.terms.__contains__
        return qexp.expand(terms, self.vocabularies(), known=known)

    def _lexical_top(
        self, weights: dict[str, float], k: int, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """The k best (paper id, score) of the weighted BM25 sum, best first (ties: earlier paper first),
        found by the index's pruned top-k search: the cost does not grow with the collection."""
        return self.index.search_weighted(weights, k, exclude)

    def _feedback(self, first: list[tuple[str, float]], exp: qexp.Expansion) -> dict[str, float]:
        """RM3 terms from the first pass's best papers, weighted to sum RM3_WEIGHT per query term."""
        top = [(pid, s) for pid, s in first[: qexp.RM3_DOCS] if s > 0]
        texts = store_db.index_texts(self.db, [pid for pid, _ in top])
        docs = [(self.term_frequencies(pid, texts.get(pid)), s) for pid, s in top]
        found = qexp.rm3_terms(docs, self.index.idf_of, set(exp.weights))
        mass = qexp.RM3_WEIGHT * len(set(exp.terms))
        return {t: w * mass for t, w in found.items()}

    def term_frequencies(
        self, paper_id: str, text: tuple[str, str, str] | None = None
    ) -> dict[str, int]:
        """A paper's indexed terms and their counts (`Index.term_frequencies`), re-tokenized from
        its stored text: one paper's cost instead of a scan of the postings."""
        if text is None:
            text = store_db.index_texts(self.db, [paper_id]).get(paper_id)
        if text is None:
            return {}
        return dict(Counter(document_tokens(*text)))

    def _ranked(
        self,
        terms: list[str],
        k: int,
        exclude: set[str] | None = None,
        question: str | None = None,
    ):
        """Hits with their papers, split into (good, weak) by the no-answer rule.

        BM25 over the (expanded) question ranks first; with the semantic stage, the question's
        embedding is fused in, weighed by how well the best lexical paper covers the question.
        """
        exp = self._expand(terms)
        weights = exp.weights
        if self.feedback:
            first = self._lexical_top(weights, qexp.RM3_DOCS)
            if first:
                weights = dict(weights)
                for term, w in self._feedback(first, exp).items():
                    weights[term] = weights.get(term, 0.0) + w
        pool = max(k, 1) + (SEMANTIC_CANDIDATES if self.encoder is not None else 0)
        lexical = dict(self._lexical_top(weights, pool, exclude))
        similarity: dict[str, float] = {}
        if self.encoder is not None and self.vectors is not None and len(self.vectors):
            query_vec = self.encoder.encode([sem.question_text(question or " ".join(terms))])[0]
            sims = self.vectors.similarities(query_vec)
            best = np.argsort(-sims)[:SEMANTIC_CANDIDATES]
            wanted = set(lexical) | {self.vectors.ids[i] for i in best}
            wanted -= exclude or set()
            similarity = {
                pid: float(sims[self.vectors.row_of[pid]])
                for pid in wanted
                if pid in self.vectors.row_of and self._alive(pid)
            }
        papers = store_db.get_papers(self.db, list(dict.fromkeys([*lexical, *similarity])))
        spec = self._specificity(terms)
        equivalents = self._equivalent_spec(exp)
        judged: dict[str, tuple[bool, float]] = {}

        def judge(pid: str) -> tuple[bool, float]:
            if pid not in judged:
                judged[pid] = self._relevant(spec, self._doc_terms(papers[pid]), equivalents)
            return judged[pid]

        if similarity:
            best_cov = max(
                (judge(p)[1] for p in list(lexical)[:TRUST_PAPERS] if p in papers), default=0.0
            )
            trust = sem.lexical_confidence(best_cov, TRUST_LOW, TRUST_HIGH)
            order = sem.fuse(lexical, similarity, trust, floor=SEMANTIC_FLOOR)
        else:
            order = list(lexical.items())
        good, weak = [], []
        for pid, score in order:
            if pid not in papers:
                continue
            ok, coverage = judge(pid)
            sim = similarity.get(pid)
            if sim is not None and not ok:
                ok = sim >= SEMANTIC_ACCEPT or (
                    sim >= SEMANTIC_SUPPORT and coverage >= MIN_COVERAGE_SUPPORTED
                )
            (good if ok else weak).append((papers[pid], score, coverage))
            if len(good) >= k:
                break
        return good, weak

    def _doc_terms(self, paper: dict[str, Any]) -> set[str]:
        """A paper's terms (title, abstract, link URLs), cached until the collection changes."""
        if self._terms_seq != self.index.covered_seq:
            self._terms_cache, self._terms_seq = {}, self.index.covered_seq
        cached = self._terms_cache.get(paper["id"])
        if cached is None:
            cached = set(tokenize(paper["title"] + " " + paper["abstract"]))
            cached |= set(tokenize(" ".join(link["url"] for link in paper["links"])))
            if len(self._terms_cache) < 100_000:
                self._terms_cache[paper["id"]] = cached
        return cached

    def _equivalent_spec(self, exp: qexp.Expansion) -> dict[str, dict[str, float]]:
        """For each query term, its equivalents with their own specificity."""
        if not exp.equivalents:
            return {}
        return {
            term: {e: max(self.index.idf_of(e), 0.0) for e in equivalents}
            for term, equivalents in exp.equivalents.items()
        }

    def _snippet_terms(self, terms: list[str]) -> list[str]:
        """The question's terms plus the equivalents that made a paper match (for snippets, bold)."""
        exp = self._expand(terms)
        extra = [e for eqs in exp.equivalents.values() for e in sorted(eqs)]
        return list(dict.fromkeys([*terms, *extra]))

    # ------------------------------------------------------------ public calls

    def ask(self, question: str, limit: int = 3) -> Answer:
        """The top papers for a question, each with the sentences that answer it."""
        query = clean_query(question)
        terms = self._query_terms(query)
        if not terms:
            return Answer(query, [])
        with self._lock:
            good, weak = self._ranked(terms, max(limit, 1) + 7, question=query)
            shown = self._snippet_terms(terms)
            results = [self._hit(p, s, c, shown) for p, s, c in good[: max(limit, 0)]]
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
            good, weak = self._ranked(terms, offset + limit + 50, question=query)
            shown = self._snippet_terms(terms)
            page = good[offset : offset + limit]
            results = [self._hit(p, s, c, shown, gist=True) for p, s, c in page]
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
            hit.snippet, hit.marks = shorten(hit.snippet, GIST_CHARS), []
        return answer

    def similar(self, paper_id: str, limit: int = 3) -> Answer:
        """Papers most like a given one: BM25 with its most telling terms as the query."""
        with self._lock:
            paper = store_db.get_paper(self.db, paper_id)
            if paper is None:
                return Answer(paper_id, [])
            tfs = self.term_frequencies(paper["id"])
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
            exp = self._expand(terms)
            scores = self.index.scores_of(exp.weights, paper_ids)
            spec = self._specificity(terms)
            equivalents = self._equivalent_spec(exp)
            papers = store_db.get_papers(self.db, [p for p in paper_ids if scores.get(p, 0) > 0])
        out = []
        for pid in paper_ids:
            paper = papers.get(pid)
            if paper is None or scores.get(pid, 0.0) <= 0:
                continue
            if self._relevant(spec, self._doc_terms(paper), equivalents)[0]:
                out.append(pid)
        return out

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        """One paper in full (with `url`), by id or arXiv id."""
        with self._lock:
            paper = store_db.get_paper(self.db, paper_id)
        if paper:
            paper["url"] = paper_url(paper)
        return paper

    def papers(self, paper_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Full papers (with links) by id; unknown ids are left out."""
        with self._lock:
            return store_db.get_papers(self.db, paper_ids)

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
        """Names a paper goes by (title short name, repository names), normalized -> paper ids.
        Built once, then extended with the papers changed since (never a rescan per import)."""
        seq = self.index.covered_seq
        if self._aliases is None or seq < self._aliases_seq:
            self._aliases, self._aliases_seq = _Aliases(), 0
        if self._aliases_seq != seq:
            self._aliases.add_papers(self.db, self._aliases_seq)
            self._aliases_seq = seq
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
        if gist:
            hit.snippet = paper_gist(paper, terms, self.index)
        else:
            hit.snippet = best_sentences(paper["abstract"], terms, self.index, SNIPPET_SENTENCES)
        hit.marks = mark_terms(hit.snippet, set(terms))
        return hit


def paper_gist(paper: dict[str, Any], terms: list[str] = (), index: Index | None = None) -> str:
    """A paper in one short line, for lists and the daily digest alike: the feed's ai_summary,
    else the abstract's sentence richest in `terms` (the first one when there are none, so no
    index is needed), cut to GIST_CHARS."""
    if paper.get("ai_summary"):
        return shorten(paper["ai_summary"], GIST_CHARS)
    sentence = best_sentences(paper["abstract"], list(terms), index, 1)
    return shorten(sentence or paper["abstract"], GIST_CHARS)


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


_FIELD_VOCABULARY: qexp.Vocabulary | None = None


def _field_vocabulary() -> qexp.Vocabulary:
    global _FIELD_VOCABULARY
    if _FIELD_VOCABULARY is None:
        _FIELD_VOCABULARY = qexp.field_vocabulary()
    return _FIELD_VOCABULARY


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


class _Aliases(dict):
    """Normalized name -> paper ids: names from titles first, then from links (each in the order
    the papers were stored); grows with `add_papers`."""

    def __init__(self) -> None:
        super().__init__()
        self._titles: dict[str, list[str]] = {}
        self._links: dict[str, list[str]] = {}

    @staticmethod
    def _add(table: dict[str, list[str]], name: str, pid: str) -> str | None:
        key = _alias_key(name)
        if len(key) >= 2 and pid not in table.setdefault(key, []):
            table[key].append(pid)
            return key
        return None

    def add_papers(self, db, after_seq: int = 0) -> None:
        """Add the names of the papers stored or changed after `after_seq`."""
        changed: set[str] = set()
        ids = []
        for pid, title in store_db.titles_since(db, after_seq):
            ids.append(pid)
            name = short_name(title)
            for text in ([name] if name else []) + [title]:
                key = self._add(self._titles, text, pid)
                if key:
                    changed.add(key)
        for pid, links in store_db.links_for(db, ids).items():
            for link in links:
                if link["kind"] in ("code", "model", "project", "demo"):
                    for name in _repo_names(link["url"]):
                        key = self._add(self._links, name, pid)
                        if key:
                            changed.add(key)
        for key in changed:
            ids_ = list(self._titles.get(key, []))
            ids_ += [p for p in self._links.get(key, []) if p not in ids_]
            self[key] = ids_
