"""Pure text clean-up for imported abstracts: LaTeX residue, links, titles and ids.

Nothing here touches a database or the network, so every importer shares one definition of
"clean abstract", "the links in it" and "the same title".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

LINK_KINDS = ("code", "model", "demo", "project", "other")
# The longest abstract a paper may have (characters): 50 times arXiv's own limit (1,920). Imports
# refuse a longer one; a longer one stored by an older version is read this far for questions.
ABSTRACT_LIMIT = 100_000

_ARXIV_NEW = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v(\d+))?(?![\w.])")
_ARXIV_OLD = re.compile(r"(?<![\w.])([a-z][a-z.-]*/\d{7})(?:v(\d+))?(?![\w.])", re.IGNORECASE)

# A URL as written in an abstract: with a scheme, starting with www., or a bare host we know.
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>()\[\]{}\"'`]+"
    r"|(?<![\w./@-])(?:[a-z0-9-]+\.)+(?:github\.io|github\.com|gitlab\.com|huggingface\.co)"
    r"(?:/[^\s<>()\[\]{}\"'`]*)?",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"`"
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "anonymous.4open.science", "gitee.com")


def fix_broken_schemes(text: str) -> str:
    """Join `https: //host` (a space after the colon) so the link regex sees one URL."""
    return re.sub(r"\b(https?):\s+//", r"\1://", text, flags=re.IGNORECASE)


def extract_links(text: str) -> list[dict[str, str]]:
    """Every link written into `text`, repaired (scheme added, trailing punctuation cut), classified.

    Returns `[{"url", "kind"}]` in order of appearance, without duplicates.
    """
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    for piece in _link_pieces(text):
        for match in _LINK.finditer(piece):
            url = match.group(0).rstrip(_TRAILING)
            if not re.match(r"https?://", url, re.IGNORECASE):
                url = "https://" + url
            host = re.sub(r"^https?://", "", url, flags=re.IGNORECASE).split("/")[0]
            if "." not in host or url.lower() in seen:
                continue
            seen.add(url.lower())
            found.append({"url": url, "kind": classify_link(url)})
    return found


# Every `_LINK` match holds one of these (case aside) and no whitespace.
_LINK_NEEDLES = ("http", "www.", "github.", "gitlab.com", "huggingface.co")
_ASCII_SPACE = frozenset(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")  # str.isspace() in ASCII = re's \s


def _link_pieces(text: str) -> list[str]:
    """The parts of `text` the link regex must scan, in order: the whitespace-free pieces holding a
    needle (a match never spans whitespace, and its look-behind sees whitespace at a piece's start
    as at a string's start). The regex is slow on long texts; most abstracts hold no link at all.
    Non-ASCII text is scanned whole: the regex's case folding differs from str.lower there."""
    if not text.isascii():
        return [fix_broken_schemes(text)]
    low = text.lower()
    if "http" in low:
        text = fix_broken_schemes(text)
        low = text.lower()
    spans = set()
    n = len(low)
    for needle in _LINK_NEEDLES:
        i = low.find(needle)
        while i >= 0:
            start, end = i, i + len(needle)
            while start > 0 and low[start - 1] not in _ASCII_SPACE:
                start -= 1
            while end < n and low[end] not in _ASCII_SPACE:
                end += 1
            spans.add((start, end))
            i = low.find(needle, end)
    return [text[a:b] for a, b in sorted(spans)]


def classify_link(url: str) -> str:
    """Sort a link into code / model / demo / project / other by its host and path."""
    rest = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE).lower()
    host, _, path = rest.partition("/")
    if host in _CODE_HOSTS:
        return "code"
    if host == "huggingface.co":
        if path.startswith("spaces/"):
            return "demo"
        if path.startswith(("datasets/", "papers/", "docs/", "blog/")) or path.count("/") < 1:
            return "other"
        return "model"
    if host.endswith("github.io") or "project" in path:
        return "project"
    return "other"


# (pattern, replacement, a cheap test the text must pass for the pattern to match at all)
_LATEX = [
    (re.compile(r"\s*\\%"), "%", lambda t: "\\%" in t),
    (re.compile(r"(\d)\s*%\s*sim\s*(\d)"), r"\1%–\2", lambda t: "%" in t and "sim" in t),
    (re.compile(r"\b([A-Za-z0-9])times\s*([A-Za-z0-9])\b"), r"\1×\2", lambda t: "times" in t),
    (
        re.compile(r"(Figs?|Tab|Eq|Sec)\.~?\\?ref\{?[a-z]+:([\w-]+)\}?"),
        r"\1. \2",
        lambda t: "ref" in t and any(x in t for x in (".ref", ".~ref", ".\\ref", ".~\\ref")),
    ),
    (re.compile(r"~"), " ", lambda t: "~" in t),
    (re.compile(r"``|''"), '"', lambda t: "``" in t or "''" in t),
    (re.compile(r"\\(?:textbf|textit|emph)\{([^}]*)\}"), r"\1", lambda t: "\\" in t),
]
_OURS = re.compile(r"\\ours\b")
_MACRO = re.compile(r"\\([A-Za-z]+)\b")


def short_name(title: str) -> str | None:
    """The name a paper goes by: the part of its title before a colon, when it is short."""
    head, sep, _ = title.partition(":")
    head = head.strip()
    if sep and head and len(head.split()) <= 3:
        return head
    return None


def clean_abstract(text: str, title: str = "") -> str:
    """Undo the LaTeX residue that arXiv and listing pages leave (`60\\%`, ``x'', `\\ours`, ...)."""
    out = text
    for pattern, repl, may_match in _LATEX:
        if may_match(out):
            out = pattern.sub(repl, out)
    if "\\" in out:
        name = short_name(title) or "our method"
        out = _OURS.sub(lambda _match: name, out)  # a title with a backslash is no template
        out = _MACRO.sub(r"\1", out)  # any other stray macro keeps its word
    return collapse_spaces(out)


def collapse_spaces(text: str) -> str:
    """One space between words, no control characters, no leading or trailing space."""
    if not text.isprintable():  # most text is: skip the per-character pass
        text = "".join(ch if ch.isprintable() or ch in " \n\t" else " " for ch in text)
    return " ".join(text.split())  # str.split and re's \s agree on what whitespace is


def normalize_title(title: str) -> str:
    """The comparison form of a title: case, accents, punctuation and spacing folded away."""
    if title.isascii():  # NFKD and combining marks only concern non-ASCII text
        text = title.lower()
    else:
        text = unicodedata.normalize("NFKD", title)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


def title_id(title: str) -> str:
    """A stable id for a paper known only by its title."""
    return "t-" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Find an arXiv id in `text` (a bare id or an abs/pdf URL): (id without vN, version or None)."""
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        match = pattern.search(text or "")
        if match:
            version = int(match.group(2)) if match.group(2) else None
            return match.group(1), version
    return None
