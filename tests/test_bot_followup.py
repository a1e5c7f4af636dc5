"""Follow-ups, metadata questions and /topic's floor through the real Application over HTTP
against the Bot API stand-in (tests/botapi.py), on a database of the test's own."""

from __future__ import annotations

from store.answers.engine import Answers
from tests.botapi import BOT_USERNAME, DEFAULT_GROUP_ID, DEFAULT_USER_ID, FakeBotAPI
from tests.harness import running_bot
from tests.helpers import assert_telegram_html
from tests.processes import start_writer

GROUP = DEFAULT_GROUP_ID
USER = DEFAULT_USER_ID
PRUNING = "efficient vision language models token pruning"  # Feather, FoPru, SimVLG
RS5M_CODE = "https://github.com/om-ai-lab/RS5M"


def _last_id(api: FakeBotAPI, chat_id: int) -> int:
    return api.sent_messages(chat_id)[-1]["message_id"]


async def test_a_reply_to_an_answer_is_read_with_its_papers(api: FakeBotAPI, answers) -> None:
    async with running_bot(api, answers):
        api.add_group_message(f"@{BOT_USERNAME} {PRUNING}")
        [first] = await api.wait_for_sent(1, chat_id=GROUP)
        assert "FoPru" in first["text"].split("<b>2.")[1].split("<b>3.")[0]  # the second paper
        answer_id = _last_id(api, GROUP)

        api.add_group_message(
            "does the second one need training?", reply_to_bot_message_id=answer_id
        )
        await api.wait_for_sent(2, chat_id=GROUP)
        second = api.sent(GROUP)[-1]["text"]
        assert_telegram_html(second)
        assert second.startswith("About the 2nd paper, “FoPru: Focal Pruning")
        assert "training-free" in second and "Feather the Throttle" not in second

        api.add_group_message("does it have code?", reply_to_bot_message_id=_last_id(api, GROUP))
        await api.wait_for_sent(3, chat_id=GROUP)
        assert "“FoPru: Focal Pruning" in api.sent(GROUP)[-1]["text"]
        assert "no code link." in api.sent(GROUP)[-1]["text"]

        api.add_group_message("do they have code?", reply_to_bot_message_id=answer_id)
        await api.wait_for_sent(4, chat_id=GROUP)
        every = api.sent(GROUP)[-1]["text"]
        assert all(f"The {n} paper" in every for n in ("1st", "2nd", "3rd"))


async def test_a_private_follow_up_without_a_reply(api: FakeBotAPI, answers) -> None:
    async with running_bot(api, answers):
        api.add_private_message("Which papers caption remote sensing images?")
        [answer] = await api.wait_for_sent(1)
        api.add_private_message("do they have code?")
        await api.wait_for_sent(2)
        reply = api.sent(USER)[-1]["text"]
        assert f"code at {RS5M_CODE}" in reply and reply.startswith("The 1st paper")
        api.add_private_message("and video understanding?")  # a new question
        await api.wait_for_sent(3)
        assert "OmniVid" in api.sent(USER)[-1]["text"]


async def test_an_answers_papers_outlive_a_restart(api: FakeBotAPI, db_path) -> None:
    first = Answers.open(db_path)
    async with running_bot(api, first):
        api.add_private_message(PRUNING)
        await api.wait_for_sent(1)
    first.db.close()
    answer_id = _last_id(api, USER)
    again = Answers.open(db_path)
    try:
        async with running_bot(api, again):
            api.add_private_message("the second one?", reply_to_bot_message_id=answer_id)
            await api.wait_for_sent(2)
            assert "“FoPru: Focal Pruning" in api.sent(USER)[-1]["text"]
    finally:
        again.db.close()


async def test_metadata_questions_and_topic_in_the_bot(api: FakeBotAPI, answers) -> None:
    async with running_bot(api, answers):
        for text in (
            "how many papers do we have on remote sensing?",
            "llava paper?",
            "/topic remote sensing",
            "which papers have a huggingface model link",
        ):
            api.add_private_message(text)
            await api.wait_for_sent(len(api.sent()) + 1)
    count, llava, topic, hf = (p["text"] for p in api.sent(USER))
    for text in (count, llava, topic, hf):
        assert_telegram_html(text)
    assert count.startswith("4 papers on “remote sensing”:") and "RS5M and GeoRSCLIP" in count
    assert llava.startswith("No: “llava” itself is not in the collection. The nearest papers:")
    assert "(1–4 of 4)" in topic
    buttons = [
        b["text"] for row in api.sent(USER)[2]["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert "More" not in buttons
    assert hf.startswith("3 papers with a link to Hugging Face:") and "huggingface.co/" in hf


async def test_questions_keep_coming_while_an_import_holds_the_write_lock(
    api: FakeBotAPI, answers, db_path
) -> None:
    """Remembering an answer's papers waits a second at most, outside the engine's lock: the
    questions after it are not held up behind another process's write (10 s lock wait)."""
    holder = start_writer("hold", db_path, 60)
    try:
        async with running_bot(api, answers):
            api.add_private_message(PRUNING, user_id=USER)
            await api.wait_for_sent(1, timeout=6)  # sent: now its papers are being remembered
            api.add_private_message("Which papers caption remote sensing images?", user_id=USER + 1)
            await api.wait_for_sent(2, timeout=5)
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    assert "FoPru" in api.sent(USER)[0]["text"] and "RS5M" in api.sent(USER + 1)[0]["text"]
