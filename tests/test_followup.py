"""Follow-ups: a question read with the papers of an earlier answer, in plain functions over the
real seed collection, and through `paperbot ask --follow` in real processes (a session outlives
the process that answered it)."""

from __future__ import annotations

import json

import pytest

from store.answers.dialogue import respond
from store.answers.engine import Answers
from store.answers.followup import Follow, bare_fact, pointed_at
from tests.processes import paperbot, start_writer

PRUNING = "efficient vision language models token pruning"  # Feather, FoPru, SimVLG
FOPRU = "t-3bd5e363af55"
RS_QUESTION = "Which papers caption remote sensing images?"
RS5M_CODE = "https://github.com/om-ai-lab/RS5M"


@pytest.mark.parametrize(
    "text, positions",
    [
        ("does the second one need training?", [1]),
        ("and the 3rd?", [2]),
        ("what about #1", [0]),
        ("does it have code?", [0]),
        ("is that paper from 2023?", [0]),
        ("do they use CLIP?", [0, 1, 2]),
        ("compare both", [0, 1, 2]),
        ("which one has code?", [0, 1, 2]),
        ("the last one?", [2]),
        ("and video understanding?", None),
        ("the fifth one", None),  # the answer showed three
        ("pretraining from a second view of the same scene", None),
        ("papers from last year", None),
    ],
)
def test_what_a_follow_up_points_at(text, positions):
    assert pointed_at(text, 3) == positions


def test_a_bare_fact_is_a_follow_up_a_new_subject_is_not():
    assert bare_fact("code?") and bare_fact("any github link?") and bare_fact("authors?")
    assert not bare_fact("code generation from natural language")
    assert not bare_fact("and video understanding?")


def _asked(answers: Answers, key: str, question: str) -> list[str]:
    """Ask as the bot does and remember the answer's papers under `key`."""
    answer = respond(answers, question, follow=Follow(thread=key))
    ids = [hit.id for hit in answer.results]
    answers.chats.remember_answer([key], key, answer.query, ids)
    return ids


def test_the_second_one_is_the_second_paper_of_the_answer_replied_to(answers):
    ids = _asked(answers, "7:100", PRUNING)
    assert ids[1] == FOPRU
    reply = respond(answers, "does the second one need training?", follow=Follow("7:100"))
    assert [hit.id for hit in reply.results] == [FOPRU]
    assert "2nd paper" in reply.note and "FoPru" in reply.note
    assert "training-free" in reply.results[0].snippet  # the sentence that answers it


def test_it_and_they_and_code_for_the_answers_papers(answers):
    ids = _asked(answers, "7:200", RS_QUESTION)
    code = respond(answers, "does it have code?", follow=Follow("7:200"))
    assert [hit.id for hit in code.results] == ids[:1]
    first = answers.paper(ids[0])
    expected = [link["url"] for link in first["links"] if link["kind"] == "code"]
    assert (f"code at {expected[0]}" if expected else "no code link") in code.note
    every = respond(answers, "do they have code?", follow=Follow("7:200"))
    assert [hit.id for hit in every.results] == ids
    assert RS5M_CODE in every.note  # RS5M is one of them, with its code link
    bare = respond(answers, "code?", follow=Follow("7:200"))
    assert [hit.id for hit in bare.results] == ids


def test_fopru_has_no_code_link(answers):
    _asked(answers, "7:300", PRUNING)
    reply = respond(answers, "does the second one have code?", follow=Follow("7:300"))
    assert "FoPru" in reply.note and "no code link" in reply.note


def test_a_reply_on_a_new_subject_is_a_new_question(answers):
    _asked(answers, "7:400", PRUNING)
    reply = respond(answers, "and video understanding?", follow=Follow("7:400"))
    assert reply.note == ""
    assert reply.results[0].id == answers.ask("and video understanding?").results[0].id


def test_a_reply_about_another_paper_or_another_subject_is_a_new_question(answers):
    _asked(answers, "7:450", PRUNING)
    other = respond(answers, "how does it differ from CoOp?", follow=Follow("7:450"))
    assert other.note == ""  # names another paper
    steak = respond(
        answers, "how long should i rest a steak after grilling it", follow=Follow("7:450")
    )
    assert steak.note == "" and steak.results == []  # none of it is in those papers


def test_a_short_follow_up_without_a_reply_follows_the_askers_last_answer(answers):
    ids = _asked(answers, "7:500", PRUNING)
    reply = respond(answers, "does it have code?", follow=Follow(thread="7:500"))
    assert [hit.id for hit in reply.results] == ids[:1]
    other = respond(answers, "does it have code?", follow=Follow(thread="7:someone-else"))
    assert other.note == ""  # nobody else's answer: a plain question
    long = "how do vision transformers handle their positional encodings in practice?"
    assert respond(answers, long, follow=Follow(thread="7:500")).note == ""


def test_an_answer_the_table_never_saw_still_names_its_papers(answers):
    text = f"1. FoPru ...\n<code>/paper t-a0fef9c4619e</code>\n2. ...\n/paper {FOPRU}"
    reply = respond(answers, "the second one?", follow=Follow("9:1", replied_text=text))
    assert [hit.id for hit in reply.results] == [FOPRU]


def test_the_answers_papers_survive_a_restart(db_path):
    first = Answers.open(db_path)
    ids = _asked(first, "7:600", PRUNING)
    first.db.close()
    again = Answers.open(db_path)
    try:
        assert again.chats.answer_for("7:600") == ids
        reply = respond(again, "does the second one need training?", follow=Follow("7:600"))
        assert [hit.id for hit in reply.results] == [FOPRU]
    finally:
        again.db.close()


def test_ask_follow_keeps_a_session_across_processes(tmp_path):
    db = tmp_path / "papers.db"
    first = paperbot(db, "ask", "--follow", "lab-1", PRUNING, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["results"][1]["id"] == FOPRU
    second = paperbot(db, "ask", "--follow", "lab-1", "does the second one need training?")
    assert second.returncode == 0, second.stderr
    assert "FoPru" in second.stdout.splitlines()[0] and "training-free" in second.stdout
    third = paperbot(db, "ask", "--follow", "lab-1", "does it have code?", "--json")
    data = json.loads(third.stdout)
    assert [r["id"] for r in data["results"]] == [FOPRU] and "no code link" in data["note"]
    other = paperbot(db, "ask", "--follow", "lab-2", "does the second one need training?")
    assert "FoPru" not in other.stdout.splitlines()[0]  # another session has no such answer


def test_ask_dash_follow_reads_each_line_after_the_previous_answer(tmp_path):
    lines = f"{PRUNING}\ndoes the second one need training?\n"
    done = paperbot(tmp_path / "papers.db", "ask", "-", "--follow", "s", input=lines)
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert set(first) == {"query", "results", "suggestions", "total", "offset"}  # unchanged
    assert (
        second["results"][0]["id"] == FOPRU and "training-free" in second["results"][0]["snippet"]
    )


def test_a_writer_holding_the_lock_only_costs_the_follow_up_memory(answers, db_path, caplog):
    """An import holding SQLite's write lock: the answer comes, remembering its papers gives up
    after MEMORY_TIMEOUT with one log line, and never while holding the engine's lock."""
    from types import SimpleNamespace

    from bot import followups, handlers

    holder = start_writer("hold", db_path, 60)
    try:
        follow = Follow(thread="7:1")
        replies, answer = handlers.reply_and_answer(answers, PRUNING, follow=follow)
        assert "FoPru" in replies[0].text
        sent = [SimpleNamespace(message_id=11)]
        followups.remember_answer(answers, answer, follow, 7, sent)  # logs, raises nothing
        assert "cannot remember" in caplog.text
        assert answers._lock.acquire(blocking=False)  # the engine's lock was let go
        answers._lock.release()
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    assert answers.chats.answer_for("7:11") is None


def test_a_follow_up_on_a_removed_paper_says_so(answers):
    ids = _asked(answers, "7:700", PRUNING)
    answers.remove([ids[1]])
    reply = respond(answers, "does the second one need training?", follow=Follow("7:700"))
    assert reply.results == [] and "no longer in the collection" in reply.note


def test_the_paper_pointed_at_even_when_its_abstract_does_not_say(answers):
    feather = "t-a0fef9c4619e"  # its abstract says nothing of training
    answers.chats.remember_answer(["7:800"], "7:800", "q", [FOPRU, feather])
    reply = respond(answers, "does the second one need training?", follow=Follow("7:800"))
    assert [hit.id for hit in reply.results] == [feather]
    assert reply.note.startswith("About the 2nd paper, “Feather") and "does not say" in reply.note


def test_which_one_asks_among_the_answers_papers_and_shows_those_that_say_it(answers):
    # found by a new-user trial: "which one has code?" was a new search for "code"
    _asked(answers, "7:900", PRUNING)
    code = respond(answers, "which one has code?", follow=Follow("7:900"))
    assert code.note.startswith("The 1st paper") and "code link" in code.note
    free = respond(answers, "which one is training-free?", follow=Follow("7:900"))
    assert free.results[0].id == FOPRU and "training-free" in free.results[0].snippet
    assert not free.note.startswith("About the 1st paper")  # Feather does not say it
