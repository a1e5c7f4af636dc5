"""Which kind of question a message is, in order: a follow-up to an earlier answer, a question
about the collection's metadata, or a question on a subject (`Answers.ask`). The bot and
`paperbot ask` call `respond`; `ask` itself (and every benchmark of it) stays as it was."""

from __future__ import annotations

import re
from typing import Any

from store.answers import followup, metadata
from store.answers.followup import Follow
from store.answers.results import Answer, clean_query

# Chat that asks nothing ("thanks!", "ok", "good morning"): never a search, whatever an abstract
# happens to say ("Thanks to their flexibility, Flamingo models ...").
_CHATTER = re.compile(
    r"^(?:(?:thanks?|thank you|thx|ty|ok(?:ay)?|cool|great|nice|awesome|perfect|lol|haha|yes|no|"
    r"yep|nope|sure|hi|hello|hey|bye|good (?:morning|night|evening)|cheers|welcome|got it|"
    r"(?:very|so) much|a lot|everyone|all|guys|bot|again)[\s,.!?:)(]*)+$",
    re.I,
)


def respond(
    answers: Any,
    question: str,
    limit: int = 3,
    only: set[str] | None = None,
    follow: Follow | None = None,
) -> Answer:
    """The answer to a message as a user means it (`follow`: where it was asked)."""
    query = clean_query(question)
    if _CHATTER.match(query):
        return Answer(query, [])
    if query and follow is not None:
        found = followup.answer(answers, query, follow, only)
        if found is not None:
            return found
    if query:
        found = metadata.answer(answers, query, only) or _about_named(
            answers, question, limit, only
        )
        if found is not None:
            return found
    return answers.ask(question, limit=limit, only=only)


def _about_named(answers: Any, question: str, limit: int, only: set[str] | None) -> Answer | None:
    """A message naming stored papers by arXiv id or link ("https://arxiv.org/abs/2401.00001 what
    does it do?") is about those papers: their sentences that answer it, else their cards."""
    ids = [pid for pid in answers.held_refs(question) if only is None or pid in only]
    if not ids:
        return None
    found = answers.ask(question, limit=limit, only=set(ids))
    if found.results:
        return found
    cards = answers.cards(ids[:limit])
    return Answer(clean_query(question), cards, total=len(cards), note="In the collection:")
