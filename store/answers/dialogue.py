"""Which kind of question a message is, in order: a follow-up to an earlier answer, a question
about the collection's metadata, or a question on a subject (`Answers.ask`). The bot and
`paperbot ask` call `respond`; `ask` itself (and every benchmark of it) stays as it was."""

from __future__ import annotations

from typing import Any

from store.answers import followup, metadata
from store.answers.followup import Follow
from store.answers.results import Answer, clean_query


def respond(
    answers: Any,
    question: str,
    limit: int = 3,
    only: set[str] | None = None,
    follow: Follow | None = None,
) -> Answer:
    """The answer to a message as a user means it (`follow`: where it was asked)."""
    query = clean_query(question)
    if query and follow is not None:
        found = followup.answer(answers, query, follow, only)
        if found is not None:
            return found
    if query:
        found = metadata.answer(answers, query, only)
        if found is not None:
            return found
    return answers.ask(question, limit=limit, only=only)
