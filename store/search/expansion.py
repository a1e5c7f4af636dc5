"""Query expansion from the collection itself and a small field vocabulary.

BM25 stays the first stage and the definition of "relevant words"; expansion only adds weighted
terms to the query:

- acronyms and their long forms mined from the abstracts ("Remote Sensing (RS)"), both ways;
- a general vocabulary of the field's synonyms (picture/image/photo, satellite/aerial/remote
  sensing, chatbot/assistant/multimodal LLM, label-free/self-supervised, ...), in `FIELD_SYNONYMS`;
- pseudo-relevance feedback (RM3): the telling words of the first pass's best papers.

Synonyms and acronyms are *equivalents* of a query word: the no-answer rule lets a paper holding an
equivalent cover that word (with the specificity of the word it actually holds). Feedback words are
ranking evidence only, never coverage: they come from the results, not from the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from store.text import tokenize

SYNONYM_WEIGHT = 0.5  # an equivalent counts this much of the query word it stands for
ACRONYM_WEIGHT = 0.7
RM3_DOCS = 3
RM3_TERMS = 10
RM3_WEIGHT = 0.3  # total weight of the feedback terms, relative to one query term
MAX_LONG_FORM_WORDS = 8

# A general vocabulary of the vision-language field: each line is a group of interchangeable
# phrases ("|" separates them). Keep it about the field, never about one paper or one question.
FIELD_SYNONYMS = """
image | picture | photo | photograph | visual | imagery
video | footage | movie | frames
audio | sound | speech | acoustic
satellite | aerial | remote sensing | earth observation | overhead imagery
chatbot | assistant | multimodal llm | mllm | large multimodal model | lvlm | large vision-language model
llm | large language model | text-only model | text model
self-supervised | label-free | unsupervised | without labels | no labels | annotation-free | without annotations | unlabeled
supervised | labeled | annotated | with labels
survey | review | overview | literature review | tutorial
benchmark | evaluation | test suite | leaderboard
dataset | corpus | data collection
caption | description | describe | captioning
question answering | vqa | answer questions
segmentation | pixel labelling | pixel-level | per-pixel | masks
detection | bounding box | object boxes | localization | grounding
classification | recognition | categorize | sort into categories
retrieval | search | matching
translation | translate | machine translation
multilingual | many languages | non-english | cross-lingual | languages
medical | clinical | hospital | radiology | x-ray | biomedical
robot | robotic | embodied | manipulation
navigation | navigate | browse
smartphone | mobile | phone | app | application
web | website | web page | browser
source code | software | programming language | code generation
continual learning | lifelong learning | incremental learning | catastrophic forgetting | forgetting
pruning | prune | drop tokens | token reduction | token merging | discard
efficient | faster | speed up | acceleration | cheaper | low cost | lightweight
few-shot | few examples | in-context
zero-shot | without training | no training | training-free
hallucination | hallucinate | make things up | fabricate
reasoning | thinking | think | reason
prompt | template | hint | instruction
fine-tuning | finetune | adapt | adaptation | tuning
adapter | lora | low-rank adaptation | add-on module | parameter-efficient
encoder | backbone | feature extractor
connector | projector | projection | mapping layer | linear layer
token | patch | symbol
frozen | fixed | not trained
discrete | quantize | codebook
generation | generate | draw | synthesize | produce images
diffusion | text-to-image
bias | fairness | toxicity | safety | harmful
uncertainty | unsure | confidence | calibration | reliable
people | human | person | humans
3d | depth | point cloud | geometry | stereo
transformer | vit | vision transformer
convolutional | cnn | convnet
contrastive | clip
distillation | distill | teacher-student
""".strip()


@dataclass
class Expansion:
    """A query after expansion: weighted terms, and each original term's equivalents."""

    terms: list[str]  # the original query terms, as tokenized (BM25 counts repeats)
    weights: dict[str, float] = field(default_factory=dict)  # every term to score, with weight
    equivalents: dict[str, set[str]] = field(default_factory=dict)  # original term -> its stand-ins


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


class Vocabulary:
    """Equivalent phrases, as token tuples: phrase -> the other phrases of its groups."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        self.weight: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}
        self.words: dict[tuple[str, ...], int] = {}  # words a phrase spans ("self-supervised": 1)
        self._by_first: dict[str, list[tuple[str, ...]]] | None = None  # phrases by first token

    def add_group(self, phrases: Iterable[tuple[str, ...] | str], weight: float) -> None:
        """Phrases as text (tokenized here) or as token tuples; all of a group are equivalent."""
        tokens = []
        for phrase in phrases:
            if isinstance(phrase, str):
                key = _phrase(phrase)
                if key:
                    self.words[key] = min(self.words.get(key, 99), len(phrase.split()))
            else:
                key = tuple(phrase)
            tokens.append(key)
        phrases = [p for p in dict.fromkeys(tokens) if p]
        self._by_first = None
        for p in phrases:
            for q in phrases:
                if p != q:
                    self.groups.setdefault(p, set()).add(q)
                    key = (p, q)
                    self.weight[key] = max(self.weight.get(key, 0.0), weight)

    def __len__(self) -> int:
        return len(self.groups)

    def matches(self, terms: list[str]) -> list[tuple[int, tuple[str, ...]]]:
        """(start, phrase) of every vocabulary phrase found contiguously in `terms`."""
        out = []
        by_first = self._by_first
        if by_first is None:
            by_first = {}
            for phrase in self.groups:
                by_first.setdefault(phrase[0], []).append(phrase)
            self._by_first = by_first
        for i, term in enumerate(terms):
            for phrase in by_first.get(term, ()):
                if tuple(terms[i : i + len(phrase)]) == phrase:
                    out.append((i, phrase))
        return out


def field_vocabulary(text: str = FIELD_SYNONYMS, weight: float = SYNONYM_WEIGHT) -> Vocabulary:
    """The field synonym groups as a Vocabulary."""
    vocab = Vocabulary()
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            vocab.add_group(line.split("|"), weight)
    return vocab


# ---------------------------------------------------------------- acronyms from the abstracts

_PAREN = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9\-]{1,14})\s*\)")
_LONG_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'’][A-Za-z0-9]+)*")


def _long_form(words: list[str], acronym: str) -> list[str] | None:
    """Schwartz–Hearst: the shortest tail of `words` whose letters spell `acronym` (from the end),
    the first letter starting a word. None when no such tail is close enough."""
    letters = [c.lower() for c in acronym if c.isalnum()]
    if len(letters) > 1 and letters[-1] == "s" and acronym[-1] == "s" and acronym[:-1].isupper():
        letters = letters[:-1]  # plural: "LLMs"
    if len(letters) < 2 or not any(c.isalpha() for c in letters):
        return None
    limit = min(len(letters) + 5, 2 * len(letters), MAX_LONG_FORM_WORDS + 2)
    tail = words[-limit:]
    text = " ".join(tail).lower()
    li = len(letters) - 1
    ti = len(text) - 1
    while li >= 0:
        c = letters[li]
        while ti >= 0 and (text[ti] != c or (li == 0 and ti > 0 and text[ti - 1].isalnum())):
            ti -= 1
        if ti < 0:
            return None
        li -= 1
        ti -= 1
    start = ti + 1
    form = text[start:].split()
    if not form or len(form) > MAX_LONG_FORM_WORDS or len(form) < 1:
        return None
    if len(form) == 1 and "-" not in form[0]:
        return None  # "linguistic (ling)": one plain word is no expansion
    return form


def _definitions(texts: Iterable[str]):
    """(acronym tokens, long form tokens, words in the long form) for each definition found."""
    for text in texts:
        for match in _PAREN.finditer(text or ""):
            acronym = match.group(1)
            if not any(c.isupper() for c in acronym):
                continue  # "(textual)", "(ii)"
            before = _LONG_WORD.findall(text[max(0, match.start() - 200) : match.start()])
            form = _long_form(before, acronym)
            if not form:
                continue
            short = _phrase(acronym)
            long_ = _phrase(" ".join(form))
            if not short or not long_ or short == long_ or len(long_) < 2:
                continue
            yield short, long_, len(form)


def add_definitions(
    vocab: Vocabulary, definitions: Iterable, weight: float = ACRONYM_WEIGHT
) -> None:
    """Add (acronym tokens, long form tokens, words) definitions to an acronym vocabulary."""
    for short, form, words in definitions:
        vocab.add_group([short, form], weight)
        vocab.words[form] = min(vocab.words.get(form, 99), words)


def definitions_in(text: str) -> list[str]:
    """The acronym definitions of one text as lines "acronym tokens<TAB>long form tokens<TAB>words"
    (what the index keeps per paper, so the collection is never re-scanned; see `parse_definition`)."""
    if "(" not in text:
        return []
    return [f"{' '.join(s)}\t{' '.join(f)}\t{w}" for s, f, w in _definitions([text])]


def parse_definition(line: str) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """A `definitions_in` line back as (acronym tokens, long form tokens, words)."""
    short, form, words = line.split("\t")
    return tuple(short.split(" ")), tuple(form.split(" ")), int(words)


# ---------------------------------------------------------------- expansion


def expand(terms: list[str], vocabularies: Iterable[Vocabulary], known=None) -> Expansion:
    """Original terms at weight 1 per occurrence, plus every equivalent phrase's terms found in the
    vocabularies. `known(term) -> bool` drops expansion terms the collection lacks."""
    weights: dict[str, float] = {}
    for t in terms:
        weights[t] = weights.get(t, 0.0) + 1.0
    equivalents: dict[str, set[str]] = {}
    added: dict[str, float] = {}
    for vocab in vocabularies:
        for start, phrase in vocab.matches(terms):
            covered = terms[start : start + len(phrase)]
            for other in vocab.groups[phrase]:
                # a whole phrase weighs w, shared by its words (a compound's parts share one)
                w = vocab.weight[(phrase, other)] / vocab.words.get(other, len(other))
                for term in other:
                    if term in weights or (known is not None and not known(term)):
                        continue
                    added[term] = max(added.get(term, 0.0), w)
                    for orig in covered:
                        equivalents.setdefault(orig, set()).add(term)
    for term, w in added.items():
        weights[term] = weights.get(term, 0.0) + w
    return Expansion(list(terms), weights, equivalents)


def rm3_terms(
    docs: list[tuple[dict[str, int], float]],
    idf,
    exclude: set[str],
    n_terms: int = RM3_TERMS,
) -> dict[str, float]:
    """Relevance-model feedback: P(t|R) ~ sum_d P(t|d) * P(d|q) over the top documents, with terms
    weighted by idf so that the collection's common words do not win; normalized to sum 1."""
    if not docs:
        return {}
    total = sum(max(s, 0.0) for _, s in docs) or 1.0
    model: dict[str, float] = {}
    for tfs, score in docs:
        length = sum(tfs.values()) or 1
        prior = max(score, 0.0) / total
        for term, tf in tfs.items():
            if term in exclude:
                continue
            model[term] = model.get(term, 0.0) + prior * tf / length
    weighted = {t: p * max(idf(t), 0.0) for t, p in model.items()}
    best = sorted(weighted.items(), key=lambda kv: (-kv[1], kv[0]))[:n_terms]
    norm = sum(w for _, w in best) or 1.0
    return {t: w / norm for t, w in best if w > 0}
