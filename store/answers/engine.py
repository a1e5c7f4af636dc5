"""Answers: ask, topic, repo and similar as plain functions over the store and the BM25 index.

Nothing here knows Telegram: results are dataclasses the bot formats and the CLI prints as JSON.
"Nothing relevant" is a value (empty `results`, maybe `suggestions`), never an exception.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from store.answers import decision, snippets, unknown_terms
from store.answers.candidates import PaperBatches
from store.answers.decision import DecisionStage
from store.answers.floor import on_topic
from store.answers.lexical import NAME_ONLY_BONUS, LexicalStage
from store.answers.names import _alias_key, _Aliases
from store.answers.results import NO_CODE_LINK, Answer, Hit, clean_query, paper_url  # noqa: F401 (re-exported)
from store.answers.snippets import GIST_CHARS, asks_quantity, best_sentences, mark_terms, paper_gist  # noqa: F401 (re-exported)
from store.answers.spelling import Speller
from store.collection import adding
from store.collection import db as store_db
from store.collection.chats import Chats
from store.collection.importers.arxiv_ids import find_refs
from store.search import expansion as qexp
from store.search.index import Index
from store.search.sync import sync_index
from store.semantic import stage as sem
from store.semantic import vectors as vec
from store.semantic.meaning import SemanticStage
from store.text import shorten

SNIPPET_SENTENCES = 2

# The semantic stage. BM25 and the embedding each rank the collection; the candidates (the best
# of each) are fused by standard scores: LEXICAL_WEIGHT * z(BM25) + (1 - LEXICAL_WEIGHT) * z(cosine).
# The weight was chosen by cross-validation over every question set (bench/crossval.py). Whether
# the collection answers a question at all is the no-answer decision's (store/answers/decision.py,
# on the question as a whole); when it does, a paper is shown when it passes the lexical rule or
# its similarity is within SEMANTIC_MARGIN of the best one and reaches SEMANTIC_SHOWN (so a
# paper BM25 finds is not pushed down by embedded ones that share nothing with the question, e.g.
# a paper not embedded yet). SEMANTIC_FOUND, the former floor of the whole question, is kept for
# callers that read it.
LEXICAL_WEIGHT = 0.3
SEMANTIC_FOUND = 0.26
SEMANTIC_SHOWN = 0.2
SEMANTIC_MARGIN = 0.12
LEXICAL_CANDIDATES = 20
LIKE_OURS_FLOOR = 2.0  # standard deviations above the collection on the team's direction
INLINE_EMBED_PAPERS = 16  # at open, papers embedded before the first answer (more: in background)


class Answers(LexicalStage, SemanticStage, DecisionStage):
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
        lexical_weight: float = LEXICAL_WEIGHT,
    ) -> None:
        """`expansion`: acronyms and field synonyms; `feedback`: RM3 on top of them; `semantic`:
        None turns the embedding stage on unless PAPERBOT_SEMANTIC=off, False keeps it off, True
        requires it, an Encoder (anything with name, dim, encode) is used; `lexical_weight`: BM25's
        share in the fusion (0: meaning alone orders the candidates)."""
        self.db = db
        self.db_path = db_path
        self.index = index if index is not None else sync_index(db, db_path)
        self._lock = threading.RLock()
        self.chats = Chats(db, self._lock)  # subscriptions and the ledger, on this connection
        self._aliases: _Aliases | None = None
        self._aliases_seq = 0
        self.expansion = expansion
        self.feedback = feedback
        self.lexical_weight = lexical_weight
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
        self._speller: Speller | None = None
        self._speller_size = 0
        self._names_build = self._start_names_build()
        self._init_semantic()
        self.vectors: vec.Vectors | None = None
        if self.encoder is not None:
            self.vectors = vec.open_vectors(db, db_path, self.encoder.name, self.encoder.dim)
            self._forget_removed()
            self.embed_if_few(INLINE_EMBED_PAPERS)

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
            embedded = len(self.vectors or [])
            return f"answers: {self.stage} ({self.encoder.name}, {embedded} papers embedded)"
        if not sem.wanted():
            hint = "semantic stage off (PAPERBOT_SEMANTIC=off)"
        elif not sem.installed():
            hint = "semantic stage unavailable: the model files are missing"
        else:
            hint = "semantic stage failed to load"
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
            added = len(self.index.ids) - before
        if self._embed_lock.acquire(blocking=False):  # else the running embed forgets them
            try:
                self._forget_removed()
            finally:
                self._embed_lock.release()
        return added

    def _ranked(
        self,
        terms: list[str],
        k: int,
        exclude: set[str] | None = None,
        question: str | None = None,
        only: set[str] | None = None,
    ):
        """Hits with their papers, split into (good, weak) by the no-answer rule; with `only`,
        among those papers alone (the team's: /mine, `/settings scope team`).

        BM25 over the (expanded) question finds candidates, the question's embedding finds more;
        with the semantic stage both rank them together (`semantic.fuse`), and a paper is good when
        the no-answer decision finds the question answered and it passes the lexical rule or is
        close enough in meaning (`SEMANTIC_MARGIN`).
        """
        exp = self._expand(terms)
        weights = self._weights(exp)
        size = max(k, 1) + LEXICAL_CANDIDATES
        if only is None:
            lexical = dict(self._lexical_top(weights, size, exclude))
        else:
            lexical = self._lexical_within(weights, size, only - (exclude or set()))
        similarity = self._similarity(question or " ".join(terms), lexical, exclude, only)
        if similarity:
            lexical = self.index.scores_of(weights, list({*lexical, *similarity}))
        named = {
            p: b
            for p, b in self._named(question or "").items()
            if p not in (exclude or ()) and self._alive(p) and (only is None or p in only)
        }
        papers = PaperBatches(self.db, [*lexical, *similarity, *named], first=k + 2)
        if similarity:
            order = sem.fuse(lexical, similarity, self.lexical_weight, named)
            bar = max(SEMANTIC_SHOWN, max(similarity.values()) - SEMANTIC_MARGIN)
        else:  # BM25 alone: a paper the question names is a candidate, in its place
            order = list(lexical.items()) + [(p, 0.0) for p in sorted(set(named) - set(lexical))]
            bar = float("inf")

        verdict = self._verdict(
            question or " ".join(terms), terms, exp, order, papers, lexical, similarity, named
        )

        def passes(pid: str, lexical_ok: bool) -> bool:
            """The question-level decision (with BM25's evidence alone for a paper not embedded),
            then the per-paper rule of both stages (and a paper the question names)."""
            if named.get(pid, 0.0) < NAME_ONLY_BONUS and not verdict[pid in similarity]:
                return False
            return (
                (lexical_ok and lexical.get(pid, 0.0) > 0)
                or similarity.get(pid, -1.0) >= bar
                or pid in named
            )

        return self._split(order, papers, terms, exp, k, passes)

    def _split(self, order, papers, terms, exp, k, passes):
        """Walk the ranking: (paper, score, coverage) into good (`passes`) or weak, until k good."""
        spec = self._specificity(terms)
        equivalents = self._equivalent_spec(exp)
        good, weak = [], []
        for pid, score in order:
            if pid not in papers:
                continue
            ok, coverage = self._relevant(spec, self._doc_terms(papers[pid]), equivalents)
            (good if passes(pid, ok) else weak).append((papers[pid], score, coverage))
            if len(good) >= k:
                break
        return good, weak

    # ------------------------------------------------------------ public calls

    def ask(self, question: str, limit: int = 3, only: set[str] | None = None) -> Answer:
        """The top papers for a question, each with the sentences that answer it; with `only`,
        from those papers alone (None: the whole collection)."""
        query = clean_query(question)
        terms = self._query_terms(query)
        if not terms:
            return Answer(query, [])
        with self._lock:
            good, weak = self._ranked(terms, max(limit, 1) + 7, question=query, only=only)
            shown = self._snippet_terms(terms)
            quantity = asks_quantity(query)
            primary = set(terms)
            name = snippets.asks_name(query)
            results = [
                self._hit(p, s, c, shown, quantity=quantity, primary=primary, name=name)
                for p, s, c in good[: max(limit, 0)]
            ]
            missing = self._unmatched(query, terms, [p for p, _, _ in good[: max(limit, 0)]])
        suggestions = [] if results else [p["title"] for p, _, _ in weak[:3]]
        answer = Answer(query, results, suggestions, total=len(good), terms=terms)
        answer.missing = missing
        return answer

    def topic(
        self, words: str, offset: int = 0, limit: int = 5, only: set[str] | None = None
    ) -> Answer:
        """A ranked, pageable list of papers on a subject, each with a one-line gist; with
        `only`, among those papers alone."""
        query = clean_query(words)
        terms = self._query_terms(query)
        if not terms:
            return Answer(query, [])
        offset = max(offset, 0)
        with self._lock:
            good, weak = self._ranked(terms, offset + limit + 50, question=query, only=only)
            fused = self.vectors is not None and len(self.vectors) > 0
            good = on_topic(good, fused)  # the papers on the subject alone: count and pages
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
        if answer.results and len(query.split()) <= 2:  # a name no paper goes by: say so first
            answer.note = f"No paper named “{query}” in the collection. The nearest:"
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

    def like_ours(self, paper_ids: list[str]) -> list[tuple[str, str]]:
        """The papers close to the team's own, closest first, each with the title of the team
        paper it is close to ("close to: ..." in the digest); the rest are dropped.

        By meaning where the papers have vectors (embedded first if they are waiting: the digest
        comes right after the daily fetch): a paper counts when it stands LIKE_OURS_FLOOR standard
        deviations above the collection in the direction of the team's papers, and above the
        team's own floor (`team_floor`: no chart benchmark for a remote-sensing team). Without
        the semantic stage, by words: a paper whose most telling words pass the no-answer rule
        against a team paper's words."""
        team = store_db.team_paper_ids(self.db)
        if not team or not paper_ids:
            return []
        if self.encoder is not None and self.unembedded():
            self.embed()
        with self._lock:
            close = self.closest_team_papers(paper_ids, team)
            floor = max(LIKE_OURS_FLOOR, self.team_floor(team))  # the team's own floor
            found = [(p, t, z) for p, (t, z) in close.items() if z >= floor]
            if self.encoder is None:
                found = self._like_ours_by_words(paper_ids, team)
            titles = store_db.get_papers(self.db, [t for _, t, _ in found])
        found.sort(key=lambda x: -x[2])
        return [(p, titles[t]["title"]) for p, t, _ in found if t in titles]

    def matching(self, keywords: str, paper_ids: list[str]) -> list[str]:
        """Which of these papers a subscription's keywords select, by BM25, the no-answer rule and
        the no-answer decision on BM25's evidence (the same as a question's without vectors)."""
        terms = self._query_terms(keywords)
        if not terms:
            return list(paper_ids)
        with self._lock:
            exp = self._expand(terms)
            scores = self.index.scores_of(exp.weights, paper_ids)
            spec = self._specificity(terms)
            equivalents = self._equivalent_spec(exp)
            papers = store_db.get_papers(self.db, [p for p in paper_ids if scores.get(p, 0) > 0])
            unseen = decision.unseen_share(spec, decision.known_terms(self.index, spec))
            unknown = unknown_terms.unknown(self._rarest_unknown(keywords, exp))
        out = []
        for pid in paper_ids:
            paper = papers.get(pid)
            if paper is None or scores.get(pid, 0.0) <= 0:
                continue
            ok, coverage = self._relevant(spec, self._doc_terms(paper), equivalents)
            words = decision.Evidence(  # the no-answer decision on BM25's evidence, per paper
                coverage=coverage,
                bm25=decision.log_bm25(scores[pid]),
                unseen=unseen,
                unknown=unknown,
            )
            if ok and decision.answered(words, semantic=False):
                out.append(pid)
        return out

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        """One paper in full (with `url`), by id or arXiv id."""
        with self._lock:
            paper = store_db.get_paper(self.db, paper_id)
            if paper:
                paper["team"] = store_db.team_provenance(self.db, paper["id"])
        if paper:
            paper["url"] = paper_url(paper)
        return paper

    # ------------------------------------------------------------ the team's own changes

    def add_found(self, lookup: adding.Lookup, added_by: str, added_in: str) -> adding.AddReport:
        """Store what an arXiv lookup found (`adding.look_up`, done beforehand without this lock:
        the network never holds it) in one short locked write, then index it."""
        with self._lock:
            report = adding.store_found(self.db, lookup, added_by, added_in)
        if report.changed:
            self.refresh()
        return report

    def remove(self, refs: Iterable[str]) -> list[str]:
        """Delete papers (ids or arXiv ids) from the collection, the index and the vectors at
        once; returns the stored ids removed."""
        with self._lock:
            gone = store_db.delete_papers(self.db, refs)
        if gone:
            self.refresh()
        return gone

    def team_ids(self) -> set[str]:
        """The team's papers (added from a chat, the command line or a library import)."""
        with self._lock:
            return set(store_db.team_paper_ids(self.db))

    def scope_of(self, chat_id: int | None) -> set[str] | None:
        """The papers a chat's questions are answered from: the team's under `/settings scope
        team`, else None (the whole collection)."""
        if chat_id is None:
            return None
        row = self.chats.get(chat_id) or {}
        return self.team_ids() if row.get("scope") == "team" else None

    def cards(self, paper_ids: Iterable[str]) -> list[Hit]:
        """Papers as hits with a gist, in the order given (unknown ids left out): an /add's cards."""
        ids = list(dict.fromkeys(paper_ids))
        with self._lock:
            papers = store_db.get_papers(self.db, ids)
        return [self._hit(papers[i], 0.0, 0.0, [], gist=True) for i in ids if i in papers]

    def missing_refs(self, text: str) -> list[str]:
        """The arXiv ids a message names (ids, arXiv or HF links, arXiv DOIs) that the collection
        does not hold: what the reply offers to add."""
        ids, held = self._refs(text)
        return [i for i in ids if i not in held]

    def held_refs(self, text: str) -> list[str]:
        """The stored papers those ids name, in order ("is 2401.00001 in the collection?")."""
        ids, held = self._refs(text)
        return [held[i] for i in ids if i in held]

    def _refs(self, text: str) -> tuple[list[str], dict[str, str]]:
        ids = [ref.id for ref in find_refs(text)]
        with self._lock:
            return ids, (store_db.paper_ids_named(self.db, ids) if ids else {})

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
        self._adopt_names(wait=True)
        seq = self.index.covered_seq
        if self._aliases is None or seq < self._aliases_seq:
            self._aliases, self._aliases_seq = _Aliases(), 0
        if self._aliases_seq != seq:
            self._aliases.add_papers(self.db, self._aliases_seq)
            self._aliases_seq = seq
        return self._aliases

    def _hit(
        self,
        paper,
        score: float,
        coverage: float,
        terms: list[str],
        gist: bool = False,
        quantity: bool = False,
        primary: set[str] | None = None,
        name: bool = False,
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
            hit.snippet = best_sentences(
                paper["abstract"],
                terms,
                self.index,
                SNIPPET_SENTENCES,
                title=paper["title"],
                quantity=quantity,
                primary=primary,
                name=name,
            )
        hit.marks = mark_terms(hit.snippet, set(terms))
        return hit
