"""`paperbot` commands that answer from the collection: ask, topic, repo, similar, paper, latest."""

from __future__ import annotations

import sqlite3
import sys

import click

from bot.cli_base import Context, cli, emit, engine, fail


def print_answer(answer, as_json: bool, scores: bool = True) -> None:
    """One JSON object, or a short human-readable listing with titles and snippets cut as the
    bot cuts them (an abstract without sentence breaks can make a 40,000-character snippet)."""
    from bot.formatting import SNIPPET_CHARS, TITLE_CHARS
    from store.answers.engine import shorten

    if as_json:
        emit(answer.to_json())
        return
    if answer.note:
        click.echo(answer.note)
    if not answer.results and answer.note:
        return
    if not answer.results:
        click.echo(f"Nothing in the collection on “{shorten(answer.query, 120)}”.")
        for title in answer.suggestions:
            click.echo(f"  nearest, not an answer: {title}")
        return
    for n, hit in enumerate(answer.results, answer.offset + 1):
        score = f", score {hit.score:.2f}" if scores else ""
        click.echo(f"{n}. {shorten(hit.title, TITLE_CHARS)}  [{hit.id}{score}]")
        snippet = shorten(hit.snippet, SNIPPET_CHARS)
        click.echo(f"   {snippet or '(no abstract yet: paperbot add --missing-abstracts)'}")
        if hit.url:
            click.echo(f"   {hit.url}")
        for kind, urls in hit.links_by_kind().items():
            click.echo(f"   {kind}: {' '.join(urls)}")
    if answer.missing:  # as the bot says it: the part of the question no paper holds
        words = ", ".join(f"“{w}”" for w in answer.missing)
        click.echo(f"Partly answered: none of these papers mentions {words}; they match the rest.")


def answer_options(func):
    """--json and --limit, shared by ask, topic, repo and similar."""
    func = click.option("--limit", default=3, show_default=True, type=click.IntRange(1, 100))(func)
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(func)


@cli.command("ask")
@click.argument("question")
@answer_options
@click.option(
    "--follow",
    "session",
    metavar="SESSION",
    help="Read the question with the papers of SESSION's previous answer (a follow-up).",
)
@click.pass_obj
def ask_cmd(ctx: Context, question: str, as_json: bool, limit: int, session: str | None) -> None:
    """Answer a question from the collection; `-` reads one question per line from stdin (JSON out)."""
    answers = engine(ctx)
    if question == "-":
        for line in sys.stdin:
            emit(_respond(answers, line.rstrip("\n"), limit, session).to_json())
        return
    print_answer(_respond(answers, question, limit, session), as_json)


def _respond(answers, question: str, limit: int, session: str | None):
    """One answer; with a session, read after that session's previous answer and remembered."""
    from store.answers.dialogue import respond
    from store.answers.followup import Follow
    from store.collection import db as store_db

    if session is None:
        return respond(answers, question, limit=limit)
    key = f"cli:{session}"
    answer = respond(answers, question, limit=limit, follow=Follow(reply_key=key, thread=key))
    if answer.results:
        ids = [hit.id for hit in answer.results]
        try:
            answers.chats.remember_answer([key], key, answer.query, ids)
        except (store_db.StoreError, sqlite3.Error) as exc:  # a database this user cannot write
            click.echo(f"warning: --follow cannot remember this answer: {exc}", err=True)
    return answer


@cli.command("topic")
@click.argument("words")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, 10_000))
@answer_options
@click.pass_obj
def topic_cmd(ctx: Context, words: str, page: int, as_json: bool, limit: int) -> None:
    """Papers on a subject, ranked, one gist each."""
    print_answer(engine(ctx).topic(words, offset=(page - 1) * limit, limit=limit), as_json)


@cli.command("repo")
@click.argument("name")
@answer_options
@click.pass_obj
def repo_cmd(ctx: Context, name: str, as_json: bool, limit: int) -> None:
    """Code and other links of a paper, found by name, acronym or words."""
    from store.answers.engine import NO_CODE_LINK

    answer = engine(ctx).repo(name, limit=limit)
    print_answer(answer, as_json)
    if not as_json and answer.results and not any(h.links for h in answer.results):
        click.echo(f"({NO_CODE_LINK})")


@cli.command("similar")
@click.argument("paper_id")
@answer_options
@click.pass_obj
def similar_cmd(ctx: Context, paper_id: str, as_json: bool, limit: int) -> None:
    """Papers most like the given one (by id or arXiv id)."""
    answer = engine(ctx).similar(paper_id, limit=limit)
    if answer.query == paper_id and not answer.results:  # as the bot's /similar tells it
        fail(f"unknown id: {paper_id}")
    print_answer(answer, as_json)


@cli.command("paper")
@click.argument("paper_id")
@click.option("--json", "as_json", is_flag=True, help="Print the paper as one JSON object.")
@click.pass_obj
def paper_cmd(ctx: Context, paper_id: str, as_json: bool) -> None:
    """One paper in full (by id or arXiv id), as the bot's /paper shows it."""
    paper = engine(ctx).paper(paper_id)
    if paper is None:
        fail(f"unknown id: {paper_id}")
    if as_json:
        emit(paper)
        return
    click.echo(paper["title"])
    if paper["authors"]:
        click.echo(", ".join(paper["authors"]))
    facts = [f"id {paper['id']}"] + [f"arXiv {paper['arxiv_id']}"] * bool(paper["arxiv_id"])
    for label, key in (("published", "published"), ("added", "added_at")):
        if paper.get(key):
            facts.append(f"{label} {str(paper[key])[:10]}")
    click.echo(" · ".join(facts))
    if paper["url"]:
        click.echo(paper["url"])
    click.echo("")
    click.echo(paper["abstract"])
    for link in paper["links"]:
        click.echo(f"{link['kind']}: {link['url']}")


@cli.command("latest")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def latest_cmd(ctx: Context, limit: int, as_json: bool) -> None:
    """The most recently added papers, newest first, with a gist each (the bot's /latest)."""
    from store.answers.engine import Answer

    hits = engine(ctx).latest(limit)
    print_answer(Answer("latest", hits, total=len(hits)), as_json, scores=False)
