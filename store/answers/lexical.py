"""The lexical half of the answer engine: a question's terms (typos corrected, names found), the
expansion, and the no-answer rule. `Answers` inherits it; it reads the engine's `db`, `index`,
`expansion`, `feedback` and `_lock`.

The no-answer rule. A result must hold half of the question's specificity (idf mass, unseen words
counting as the rarest), or else share several telling words with it: a long colloquial question
leaves many of its words unseen, while an off-topic one matches one or two words by chance.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from store.answers.names import BackgroundNames, _alias_key
from store.answers.results import clean_query
from store.answers.spelling import Speller
from store.collection import db as store_db
from store.search import expansion as qexp
from store.search.index import Index, document_tokens
from store.text import tokenize

MIN_COVERAGE = 0.5
MIN_SHARED_TERMS = 3
MIN_SHARED_IDF = 5.0
MIN_EQUIVALENT_IDF = 1.0  # a stand-in word this common ("image" for "photo") adds coverage only
MAX_QUERY_TOKENS = 64
# Up to this many papers the first question builds the table of paper names (~1 s at 100k); a
# bigger collection's table (12 s at 1M, 59 s at 3M, all under the engine's lock) is built by the
# first /repo, and questions use names once it exists.
NAMES_BUILT_BY_ASK = 200_000
# Above this many papers (and with the database in a file) the table is built in a background
# thread at start, then the typo corrector: questions use names once the table is there.
NAMES_IN_BACKGROUND = 20_000
NAME_BONUS = 2.0  # a paper the question names ("clip for prompts") gains two standard deviations
NAME_ONLY_BONUS = 10.0  # ... and comes first when its name is all it asks about ("clip paper?")
_ABOUT_A_PAPER = set(
    tokenize("paper papers work model method about explain what is the one code repo github")
)


class LexicalStage:
    """Question terms and the no-answer rule for the engine that inherits this."""

    def _alive(self, paper_id: str) -> bool:
        """The paper is in the index and not replaced or removed."""
        doc = self.index.ids.get(paper_id)
        return doc is not None and bool(self.index.alive[doc])

    # ------------------------------------------------------------ relevance

    def _query_terms(self, question: str) -> list[str]:
        """The question's terms, each word the collection never saw corrected to a known one
        a typo away ("promt" -> "prompt")."""
        terms = tokenize(clean_query(question))[:MAX_QUERY_TOKENS]
        index = self.index
        unknown = [t for t in terms if (tid := index.terms.get(t)) is None or index.df[tid] == 0]
        if not unknown:
            return terms
        speller = self._speller_for(index)
        fixed = {t: speller.correct(t) or t for t in unknown}
        return [fixed.get(t, t) for t in terms]

    def _speller_for(self, index: Index) -> Speller:
        """The typo corrector over the collection's vocabulary, rebuilt when it grew a tenth."""
        size = len(index.terms)
        if self._speller is None or size > self._speller_size * 1.1:
            df = index.df
            self._speller = Speller(
                (t, int(df[tid])) for t, tid in index.terms.items() if tid < len(df)
            )
            self._speller_size = size
        return self._speller

    def _start_names_build(self) -> BackgroundNames | None:
        """For a big collection in a file: the names table (and then the typo corrector) built
        in the background from now on; else None (built on first use)."""
        if self.db_path is None or self.index.size <= NAMES_IN_BACKGROUND:
            return None
        index = self.index
        return BackgroundNames(self.db_path, index.covered_seq, lambda: self._speller_for(index))

    def _adopt_names(self, wait: bool) -> None:
        """Take the background build's table once it is done (with `wait`: wait for it)."""
        build = self._names_build
        if build is None or (not wait and not build.done()):
            return
        self._names_build = None
        got = build.take()
        if got is not None and self._aliases is None:
            self._aliases, self._aliases_seq = got

    def _named(self, question: str) -> dict[str, float]:
        """Papers the question calls by a name they go by (an acronym in the title, a repository
        or model name: "clip paper?"), one to three words long, naming at most three papers, with
        their bonus: NAME_BONUS, or first place when the name is all the question asks about. A
        name under four letters counts only when typed with capitals inside ("SiT", "GiT"): in
        lower case it is more likely an English word ("sit", "git")."""
        self._adopt_names(wait=False)
        if self._aliases is None and (
            self._names_build is not None or self.index.size > NAMES_BUILT_BY_ASK
        ):
            return {}  # a big collection's names table takes a minute: never built by ask
        words = [w for w in re.split(r"[\s?!,;:()\[\]\"']+", question) if w]
        aliases = self.aliases()
        found: set[str] = set()
        used: set[int] = set()
        for size in (1, 2, 3):
            for i in range(len(words) - size + 1):
                typed = "".join(words[i : i + size])
                key = _alias_key(typed)
                if len(key) < 4 and (len(key) < 2 or not any(c.isupper() for c in typed[1:])):
                    continue
                ids = aliases.get(key, [])
                if 0 < len(ids) <= 3:
                    found.update(ids)
                    used.update(range(i, i + size))
        rest = set(tokenize(" ".join(w for i, w in enumerate(words) if i not in used)))
        bonus = NAME_BONUS if rest - _ABOUT_A_PAPER else NAME_ONLY_BONUS
        return dict.fromkeys(found, bonus)

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

    def _weights(self, exp: qexp.Expansion) -> dict[str, float]:
        """The expanded question's term weights, with RM3 feedback terms when that is on."""
        weights = exp.weights
        if self.feedback:
            first = self._lexical_top(weights, qexp.RM3_DOCS)
            if first:
                weights = dict(weights)
                for term, w in self._feedback(first, exp).items():
                    weights[term] = weights.get(term, 0.0) + w
        return weights

    def _lexical_within(
        self, weights: dict[str, float], k: int, only: set[str]
    ) -> dict[str, float]:
        """The k best of a small allowed set, each paper scored directly from its postings
        (`Index.scores_of`): no search of the whole collection, the same scores."""
        scores = self.index.scores_of(weights, sorted(only))
        best = sorted(((s, p) for p, s in scores.items() if s > 0), key=lambda x: (-x[0], x[1]))
        return {p: s for s, p in best[:k]}

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

    def _like_ours_by_words(
        self, paper_ids: list[str], team: list[str]
    ) -> list[tuple[str, str, float]]:
        """(paper, team paper, coverage) for papers whose 25 most telling words pass the
        no-answer rule against a team paper's words."""
        team_papers = store_db.get_papers(self.db, team)
        out = []
        for pid in paper_ids:
            if pid in team_papers:
                continue
            tfs = self.term_frequencies(pid)
            weights = {t: tf * self.index.idf_of(t) for t, tf in tfs.items()}
            spec = self._specificity(sorted(weights, key=weights.get, reverse=True)[:25])
            judged = [
                (self._relevant(spec, self._doc_terms(paper)), tid)
                for tid, paper in team_papers.items()
            ]
            (ok, coverage), tid = max(judged, key=lambda j: j[0][1])
            if ok:
                out.append((pid, tid, coverage))
        return out


_FIELD_VOCABULARY: qexp.Vocabulary | None = None


def _field_vocabulary() -> qexp.Vocabulary:
    global _FIELD_VOCABULARY
    if _FIELD_VOCABULARY is None:
        _FIELD_VOCABULARY = qexp.field_vocabulary()
    return _FIELD_VOCABULARY
