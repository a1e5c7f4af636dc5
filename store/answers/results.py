"""What an answer is: the dataclasses the engine returns (`Hit`, `Answer`) and the small pure
helpers around them. The bot formats them, the CLI prints them as JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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
    note: str = ""  # a metadata or follow-up answer's own line ("2 papers by ..."), shown first
    missing: list[str] = field(default_factory=list)  # a partial answer: words no result holds

    def to_json(self) -> dict[str, Any]:
        """The contract of `--json` (docs/formats.md): query, results [id, title, score, snippet,
        url, links, marks], suggestions, total, offset, `note` when there is one, and `missing`
        when there are any (a partial answer: the question's telling words that no result
        holds). A hit's `coverage` stays internal."""
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
        out = {
            "query": self.query,
            "results": results,
            "suggestions": self.suggestions,
            "total": self.total,
            "offset": self.offset,
        }
        if self.note:  # extends the contract: plain answers print exactly what they did
            out["note"] = self.note
        if self.missing:
            out["missing"] = self.missing
        return out


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


# Invisible inside a word (zero-width space / non-joiner / joiner, word joiner, BOM, soft hyphen):
# removed, not made spaces, so "C\u200bL\u200bI\u200bP" asks about CLIP.
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def clean_query(text: str) -> str:
    """A question as a user typed it, with invisible characters removed, control characters made
    spaces and its length bounded."""
    text = (text or "").translate(ZERO_WIDTH)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()[:1000]
