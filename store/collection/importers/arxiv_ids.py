"""arXiv identifiers in free text: bare ids, arxiv.org and huggingface.co/papers URLs, arXiv DOIs.

Pure: `/add` arguments, links in chat questions and a reference library's url/doi/eprint fields all
go through `find_refs`, so "the same paper" means one normalized id everywhere (no `vN`, old-style
ids without their subject class: `math.GT/0309136` is arXiv's `math/0309136`, the id its API
returns). Only ids that can exist are taken (a real month, the right number of digits for the
period), so a number like `1999.12345` in a question is not mistaken for a paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The archives of old-style ids (before April 2007); a subject class may follow (`math.GT`).
OLD_ARCHIVES = (
    "acc-phys adap-org alg-geom ao-sci astro-ph atom-ph bayes-an chao-dyn chem-ph cmp-lg comp-gas "
    "cond-mat cs dg-ga funct-an gr-qc hep-ex hep-lat hep-ph hep-th math math-ph mtrl-th nlin "
    "nucl-ex nucl-th patt-sol physics plasm-ph q-alg q-bio quant-ph solv-int stat supr-con"
).split()

_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = (
    r"(?P<archive>" + "|".join(re.escape(a) for a in OLD_ARCHIVES) + r")"
    r"(?:\.[A-Za-z][A-Za-z-]*)?/(?P<old>\d{7})"
)
_ID = rf"(?:{_NEW}|{_OLD})(?:v(?P<version>\d+))?"
_END = r"(?![\w/])(?!\.\w)"  # not followed by more of a word; a sentence's full stop is fine

_PATTERNS = [
    # arxiv.org/abs|pdf|html/ID[vN][.pdf] (also export. and www.), with or without the scheme
    re.compile(
        rf"(?<![\w.-])(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/{_ID}"
        rf"(?:\.pdf)?{_END}",
        re.IGNORECASE,
    ),
    # huggingface.co/papers/ID (new-style ids only: HF lists recent papers)
    re.compile(
        rf"(?<![\w.-])(?:https?://)?(?:www\.)?huggingface\.co/papers/{_NEW}(?:v(?P<version>\d+))?{_END}",
        re.IGNORECASE,
    ),
    # the DOI arXiv registers for every paper: 10.48550/arXiv.ID (bare, doi:, or a doi.org URL)
    re.compile(rf"(?<![\w.])10\.48550/arxiv\.{_ID}{_END}", re.IGNORECASE),
    # a bare id, optionally written `arXiv:ID`
    re.compile(rf"(?<![\w./-])(?:arxiv:\s?)?{_ID}{_END}", re.IGNORECASE),
]


@dataclass(frozen=True)
class ArxivRef:
    """A paper named in text: its normalized id and the version asked for (None: the latest)."""

    id: str
    version: int | None = None

    def __str__(self) -> str:
        return self.id + (f"v{self.version}" if self.version else "")


def find_refs(text: str) -> list[ArxivRef]:
    """Every arXiv paper named in `text`, in order of appearance, each id once (first mention)."""
    found: list[tuple[int, ArxivRef]] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:  # URLs and DOIs first: their ids must not be read twice
        for match in pattern.finditer(text or ""):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            ref = _ref(match)
            if ref is not None:
                taken.append(match.span())
                found.append((match.start(), ref))
    refs: list[ArxivRef] = []
    seen: set[str] = set()
    for _, ref in sorted(found, key=lambda item: item[0]):
        if ref.id not in seen:
            seen.add(ref.id)
            refs.append(ref)
    return refs


def parse_ref(text: str) -> ArxivRef | None:
    """The paper one argument names (an id, URL or DOI), or None when it names none."""
    refs = find_refs(text.strip())
    return refs[0] if refs else None


def _ref(match: re.Match) -> ArxivRef | None:
    """The match as a normalized ref, or None when the id cannot exist."""
    groups = match.groupdict()
    version = int(groups["version"]) if groups.get("version") else None
    if version == 0:
        return None
    if groups.get("new"):
        return ArxivRef(groups["new"], version) if valid_new_id(groups["new"]) else None
    number = groups["old"]
    yymm = number[:4]
    if not _valid_month(yymm[2:]) or not (yymm >= "9108" or yymm <= "0703"):
        return None  # old-style ids ran from August 1991 to March 2007
    return ArxivRef(f"{groups['archive'].lower()}/{number}", version)


def valid_new_id(arxiv_id: str) -> bool:
    """YYMM.NNNN from April 2007 to 2014, YYMM.NNNNN from 2015 on, with a real month."""
    yymm, _, number = arxiv_id.partition(".")
    if not _valid_month(yymm[2:]) or yymm < "0704" or not number.strip("0"):
        return False
    return len(number) == (4 if yymm < "1501" else 5)


def _valid_month(mm: str) -> bool:
    return "01" <= mm <= "12"
