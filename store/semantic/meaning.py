"""The semantic half of the answer engine: the papers' vectors, embedding them in short turns,
and a question's similarity to the candidates. `Answers` inherits it; it reads the engine's
`db`, `db_path`, `encoder`, `vectors` and `_lock`.

Embedding holds the engine's lock only to read the next papers and to add their vectors, never
while encoding, so questions go on while the background turns run.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time

import numpy as np

from store.collection import db as store_db
from store.files import folder_lock
from store.semantic import saved
from store.semantic import stage as sem
from store.semantic import vectors as vec

log = logging.getLogger(__name__)

SEMANTIC_CANDIDATES = 30  # papers the embedding proposes beside BM25's
EMBED_BATCH = 16
VECTORS_SAVE_SECONDS = 300.0
SHIPPED_CHECK = 1000  # papers waiting at most, to look for shipped vectors among them
BACKGROUND = 2000  # papers sampled to learn how close the collection is to a team paper
TEAM_FLOOR_SHARE = 0.6  # a digest paper stands this far out as the team's least typical paper
TEAM_FLOOR_PAPERS = 50  # team papers left out in turn to learn the team's own floor


class SemanticStage:
    """Vectors and their upkeep for the engine that inherits this."""

    def _init_semantic(self) -> None:
        self._query_vectors: dict[str, np.ndarray] = {}
        self._embed_lock = threading.Lock()
        self._unsaved, self._saved_at = 0, time.monotonic()

    def embed_if_few(self, few: int) -> None:
        """At open: embed the papers waiting for vectors now when they are `few` or all shipped
        with the package (the demo), so the first question already has them; a failed save (a
        full disk) only warns: answers go on, the next start saves."""
        if self.unembedded() <= few or self._all_shipped():
            try:
                self.embed()
            except OSError as exc:
                log.warning("%s", exc)

    def _forget_removed(self) -> None:
        """Catch the vectors up with the folder and the database (the caller holds `_embed_lock`,
        the vectors' writer): a newer generation on disk that this process did not write (a
        `paperbot embed` beside the bot, a folder copied in) is taken, merged with what was
        embedded here since the last save; then the papers removed since are dropped."""
        if self.vectors is None:
            return
        self._take_newer_vectors()
        with self._lock:
            removed = store_db.deleted_since(self.db, self.vectors.covered_seq)
        gone = [pid for _, pid in removed if pid in self.vectors]
        if gone:
            self.vectors.forget(gone)
            self._unsaved += 1  # saved with the next save (at the latest at a stop)

    def _take_newer_vectors(self) -> None:
        """Load the folder's generation when meta.json changed since this process read or wrote
        it (a stat when it did not)."""
        if self.db_path is None:
            return
        folder = vec.vectors_dir(self.db_path)
        stamp = saved.stamp(folder)
        if stamp is None or stamp == self.vectors.seen:
            return
        with folder_lock(folder, exclusive=False):
            state = self.vectors.reconciled(folder, self._gone)
            state.seen = saved.stamp(folder)
        if state is not self.vectors:
            log.info("vectors: took the newer generation on disk (%d papers)", len(state))
            if state.disk is None or state.covered_seq > state.disk.covered_seq:
                self._unsaved += 1  # what this process embedded on top is saved next
            self.vectors = state

    def _gone(self, after_seq: int) -> list[str]:
        """The papers removed after change `after_seq` that are not in the collection now."""
        with self._lock:
            removed = [pid for _, pid in store_db.deleted_since(self.db, after_seq)]
            present = store_db.get_papers(self.db, removed) if removed else {}
        return [pid for pid in removed if pid not in present]

    def vectors_unwritable(self) -> str | None:
        """Why the vectors could not be saved (a file in the way, a read-only folder), checked
        before embedding starts; None when they can."""
        if self.db_path is None:
            return None
        return saved.why_not_writable(vec.vectors_dir(self.db_path))

    def unembedded(self) -> int:
        """Papers changed since the vectors last caught up (answered by BM25 alone meanwhile)."""
        if self.vectors is None:
            return 0
        with self._lock:
            return store_db.count_changed(self.db, self.vectors.covered_seq)

    def _all_shipped(self) -> bool:
        """Every paper waiting for vectors is one of the bundled collection's (shipped vectors)."""
        if self.unembedded() > SHIPPED_CHECK:
            return False
        shipped = vec.seed_vectors(self.encoder.name)
        with self._lock:
            pending = store_db.iter_for_index(self.db, self.vectors.covered_seq)
            return all(
                vec.text_key(title, abstract) in shipped for _, _, title, abstract, _ in pending
            )

    def embed(
        self,
        max_papers: int | None = None,
        progress=None,
        max_seconds: float | None = None,
    ) -> int:
        """Embed papers changed since the vectors last caught up, a batch at a time, without
        holding the engine's lock while encoding (questions go on meanwhile). Stops after
        `max_papers` or `max_seconds` (the bot's background job takes short turns, so a stop
        never waits long). Saves when caught up, every VECTORS_SAVE_SECONDS meanwhile, and when
        interrupted, so a run resumes. Returns how many papers were looked at."""
        if self.encoder is None or self.vectors is None:
            return 0
        started = time.monotonic()
        with self._embed_lock:
            shipped = vec.seed_vectors(self.encoder.name)
            self._forget_removed()
            done, caught_up = 0, False
            try:
                while max_papers is None or done < max_papers:
                    if max_seconds is not None and time.monotonic() - started >= max_seconds:
                        break
                    left = EMBED_BATCH if max_papers is None else max_papers - done
                    batch = self._pending_batch(min(EMBED_BATCH, left))
                    self._forget_removed()  # those removed while the last batch was encoded
                    if not batch:
                        caught_up = True
                        break
                    vec.embed_batch(
                        self.vectors, batch, self.encoder.encode, sem.paper_passages, shipped
                    )
                    done += len(batch)
                    self._unsaved += len(batch)
                    if progress is not None:
                        progress(len(batch))
                    self._save_vectors(force=False)
            finally:  # caught up or interrupted: keep what was embedded
                self._save_vectors(force=caught_up or max_seconds is None)
            return done

    def _pending_batch(self, size: int) -> list[vec.Pending]:
        """The next papers waiting for vectors, read under the engine's lock."""
        with self._lock:
            rows = store_db.iter_for_index(self.db, self.vectors.covered_seq)
            return [(pid, seq, t, a) for pid, seq, t, a, _ in itertools.islice(rows, size)]

    def flush_vectors(self) -> None:
        """Save what the background embedding has not saved yet (at a stop)."""
        with self._embed_lock:
            self._save_vectors(force=True)

    def _save_vectors(self, force: bool) -> None:
        """Save the vectors if papers were embedded since the last save, and `force` or the last
        save is VECTORS_SAVE_SECONDS old (a save appends the new rows and commits a generation;
        a generation another process wrote meanwhile is merged, not overwritten)."""
        if self.db_path is None or self.vectors is None or not self._unsaved:
            return
        if force or time.monotonic() - self._saved_at >= VECTORS_SAVE_SECONDS:
            self.vectors = self.vectors.save(vec.vectors_dir(self.db_path), self._gone)
            self._unsaved, self._saved_at = 0, time.monotonic()

    def _question_vector(self, question: str) -> np.ndarray:
        """The question's embedding, remembered for the questions asked again (More, Back)."""
        text = sem.question_text(question)
        found = self._query_vectors.get(text)
        if found is None:
            found = self.encoder.encode([text])[0]
            if len(self._query_vectors) >= 256:
                self._query_vectors.clear()
            self._query_vectors[text] = found
        return found

    def _similarity(
        self,
        question: str,
        lexical: dict[str, float],
        exclude: set[str] | None,
        only: set[str] | None = None,
    ) -> dict[str, float]:
        """The embedded candidates' similarity to the question: BM25's best and the embedding's
        (with `only`: every allowed paper). Damaged vectors (they are derived) give way to BM25
        and are embedded again."""
        if self.encoder is None or self.vectors is None or not len(self.vectors):
            return {}
        try:
            query = self._question_vector(question)
            if only is not None:
                wanted = sorted(only)
            else:
                wanted = [*lexical, *self.vectors.candidates(query, SEMANTIC_CANDIDATES)]
            skip = exclude or ()
            wanted = [p for p in dict.fromkeys(wanted) if p not in skip and self._alive(p)]
            found = self.vectors.similarity(query, wanted)
        except Exception:
            log.warning("semantic stage failed; its vectors are made again", exc_info=True)
            self.vectors = vec.Vectors(self.encoder.dim, self.encoder.name)
            self.vectors.db_uuid = store_db.db_uuid(self.db)
            return {}
        if not all(np.isfinite(v) for v in found.values()):
            return {}
        return found

    def _standing(self, question: str, candidates: dict[str, float]) -> tuple[float, float]:
        """Two features of the no-answer decision, over a fixed sample of BACKGROUND papers:
        how far the best candidate's whole-text cosine stands above the collection's for this
        question, in standard deviations (a question close to everything in the field gains
        nothing), and how much the question is of the collection's field at all (its cosine
        with the mean paper vector)."""
        vectors = self.vectors
        if vectors is None or not candidates or len(vectors) < 2:
            return 0.0, 0.0
        query = self._question_vector(question)
        key = (id(vectors), len(vectors.row_of), vectors.covered_seq)
        if getattr(self, "_background_key", None) != key:  # drawn once per state of the vectors
            rows = np.fromiter(vectors.row_of.values(), dtype=np.int64)
            if len(rows) > BACKGROUND:
                rows = np.random.default_rng(0).choice(rows, BACKGROUND, replace=False)
            self._background_rows, self._background_key = np.sort(rows), key
        sample = vectors.paper[self._background_rows]
        background = sample @ query
        best_rows = [vectors.row_of[p] for p in candidates if p in vectors.row_of]
        if not best_rows:
            return 0.0, 0.0
        best = float((vectors.paper[best_rows] @ query).max())
        centre = sample.mean(0)
        field = float(centre @ query) / (float(np.linalg.norm(centre)) + 1e-9)
        return (best - float(background.mean())) / (float(background.std()) + 1e-6), field

    def closest_team_papers(
        self, paper_ids: list[str], team_ids: list[str]
    ) -> dict[str, tuple[str, float]]:
        """For each embedded paper: how much it is the team's kind of paper, and the team paper
        it is closest to. The kind is a direction: the mean of the team papers' vectors minus
        the collection's (a sample of BACKGROUND others), so what all the field's papers share
        (a small model finds them all alike) cancels and what the team's share stands out (a
        Rocchio classifier). A paper's projection on it is a standard score against the
        collection's projections."""
        vectors = self.vectors
        if vectors is None or not len(vectors):
            return {}
        team = [t for t in dict.fromkeys(team_ids) if t in vectors]
        members = set(team)
        others = np.array([r for p, r in vectors.row_of.items() if p not in members])
        if not team or len(others) < 2:
            return {}
        sample = vectors.paper[np.random.default_rng(0).permutation(others)[:BACKGROUND]]
        team_matrix = vectors.paper[[vectors.row_of[t] for t in team]]
        kind = team_matrix.mean(0) - sample.mean(0)
        background = sample @ kind
        mean, spread = float(background.mean()), float(background.std()) + 1e-6
        out = {}
        for pid in paper_ids:
            row = vectors.row_of.get(pid)
            if row is None or pid in members:
                continue
            closest = team[int(np.argmax(team_matrix @ vectors.paper[row]))]
            out[pid] = (closest, (float(vectors.paper[row] @ kind) - mean) / spread)
        return out

    def team_floor(self, team_ids: list[str]) -> float:
        """The team's own floor on its direction: each team paper (up to TEAM_FLOOR_PAPERS) is
        scored against the direction of the others, and a new paper must stand TEAM_FLOOR_SHARE
        as far out as the least typical of them. A tight team (three remote-sensing papers)
        then keeps a chart benchmark out that a loose direction lets through; 0 when it cannot
        be learned (fewer than two team papers embedded)."""
        team = [
            t for t in dict.fromkeys(team_ids) if self.vectors is not None and t in self.vectors
        ]
        if len(team) < 2:
            return 0.0
        own = []
        for left in team[:TEAM_FLOOR_PAPERS]:
            scored = self.closest_team_papers([left], [t for t in team if t != left])
            own += [z for _, z in scored.values()]
        return TEAM_FLOOR_SHARE * min(own) if own else 0.0


def embedded_papers(db, db_path) -> int:
    """How many of the collection's papers have vectors, for `paperbot stats` without loading
    them: the saved ones less those removed since, plus the bundled papers waiting for their
    shipped vectors (a fresh install's demo, taken at the first question without embedding)."""
    summary = vec.saved_summary(db_path) if db_path else None
    covered, count = (summary["covered_seq"], summary["papers"]) if summary else (0, 0)
    removed = [pid for _, pid in store_db.deleted_since(db, covered)]
    waiting = store_db.count_changed(db, covered)
    if not removed and not (0 < waiting <= SHIPPED_CHECK):
        return count
    held = vec.saved_ids(db_path) if summary else set()
    gone = [p for p in removed if p in held]
    if gone:
        present = store_db.get_papers(db, gone)
        count -= sum(1 for p in gone if p not in present)
    if 0 < waiting <= SHIPPED_CHECK:
        shipped = vec.seed_vectors(summary["model"] if summary else sem.MODEL_NAME)
        for pid, _seq, title, abstract, _ in store_db.iter_for_index(db, covered):
            if pid not in held and vec.text_key(title, abstract) in shipped:
                count += 1
    return count
