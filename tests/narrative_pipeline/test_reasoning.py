"""Reasoning never reaches the player, and the Writer's stream survives what real servers send:
each behaviour through a whole turn against the fake OpenAI-compatible server (real HTTP)."""

import itertools
import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.rls import acting_as
from narrative_pipeline.llm.reasoning import ReasoningFilter, reasoning_split, visible_and_unclosed
from narrative_pipeline.models import AgentCall, Turn, TurnSummary

from .. import fake_openai as fake
from ..factories import TEST_PASSWORD, StoryFactory, UserFactory

PLAN = '{"beats": [{"description": "The bell rings"}]}'
SECRET = "SECRET-THOUGHT"
PROSE = "The bell rings over the harbour."


# The filter on its own.

def visible_of(pieces: list[str]) -> tuple[str, str]:
    cleaned = ReasoningFilter()
    visible = "".join(cleaned.feed(piece) for piece in pieces) + cleaned.finish()
    return visible, cleaned.reasoning


def test_a_tag_split_across_pieces_is_held_back_until_it_closes():
    cleaned = ReasoningFilter()
    assert cleaned.feed("Rain. <thi") == "Rain. "
    assert cleaned.feed(f"nk>{SECRET}</th") == ""
    assert cleaned.feed("ink> Then sun.") == " Then sun."
    assert cleaned.finish() == "" and cleaned.reasoning == SECRET


def test_a_piece_that_only_looked_like_a_tag_is_let_through():
    assert visible_of(["a <thi", "s is fine", " <"]) == ("a <this is fine <", "")


@pytest.mark.parametrize(("text", "visible", "reasoning"), [
    (f"<think>{SECRET}</think>{PROSE}", PROSE, SECRET),
    (f"<THINKING>{SECRET}</Thinking>{PROSE}", PROSE, SECRET),
    (f"{PROSE}<reasoning>{SECRET}</reasoning>", PROSE, SECRET),
    (f"<think>{SECRET}", "", SECRET),  # cut off mid-thought: nothing of it shows
    (f"<think>{SECRET}</thinking>{PROSE}", "", f"{SECRET}</thinking>{PROSE}"),  # closed only by its own name
    (f"{PROSE}</think>", PROSE, ""),  # a stray closing tag is dropped
])
def test_whole_texts(text, visible, reasoning):
    assert reasoning_split(text) == (visible, reasoning)


TEXTS = st.lists(st.sampled_from(["<think>", "</think>", "<thinking>", "</THINKING>", "<reasoning>",
                                  "</reasoning>", "<", ">", "/", "<th", "think", "a", " ", "\n", "é", "İ"]),
                 max_size=30).map("".join)


@settings(max_examples=50, deadline=None)
@given(text=TEXTS, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_any_split_of_a_text_shows_what_the_whole_text_shows(text, cuts):
    bounds = sorted({0, len(text), *(cut % (len(text) + 1) for cut in cuts)})
    pieces = [text[start:end] for start, end in itertools.pairwise(bounds)]
    assert visible_of(pieces) == reasoning_split(text)


@pytest.mark.parametrize(("text", "visible", "unclosed"), [
    (f"<think>{SECRET}</think>{PROSE}", PROSE, ""),
    (f"<think>done</think>{PROSE}<thinking>{SECRET}", PROSE, SECRET),  # only the block left open
    (f"<reasoning>{SECRET}<think>x</think>y", "", f"{SECRET}<think>x</think>y"),  # tags inside it are its text
    (f"{PROSE}</think>", PROSE, ""),
])
def test_the_text_of_a_block_never_closed_is_kept_apart(text, visible, unclosed):
    assert visible_and_unclosed(text) == (visible, unclosed)


@settings(max_examples=50, deadline=None)
@given(text=TEXTS, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_any_split_of_a_text_leaves_the_same_block_unclosed(text, cuts):
    bounds = sorted({0, len(text), *(cut % (len(text) + 1) for cut in cuts)})
    cleaned = ReasoningFilter()
    visible = "".join(cleaned.feed(text[start:end]) for start, end in itertools.pairwise(bounds)) + cleaned.finish()
    assert (visible, cleaned.unclosed) == visible_and_unclosed(text)


# Whole turns.

@pytest.fixture
def models(openai_server, settings):
    """The Strategist, the Writer and the Dreamer on the fake server; the Dreamer summarizes each turn only."""
    settings.LLM_AGENTS = {**settings.LLM_AGENTS, "dreamer": {"provider": "openai", "model": "fake-model"}}
    settings.ARC_INTERVAL_TURNS = settings.CHAPTER_SUGGESTION_TURNS = 1000
    return openai_server


@pytest.fixture
def play(api_as, alice, django_capture_on_commit_callbacks):
    story = StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])

    def turn(key: str = "k1") -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return api_as(alice).post(f"/api/stories/{story.pk}/turns/", {"action": "I ring the bell.",
                                      "idempotency_key": key}, content_type="application/json").json()

    turn.story = story
    return turn


def stored(alice, story) -> tuple[Turn, str, dict[str, str]]:
    with acting_as(alice):
        turn = Turn.objects.get(story=story)
        summary = TurnSummary.objects.get(turn=turn).summary
        reasoning = {call.agent: call.reasoning for call in AgentCall.objects.filter(story=story)}
    return turn, summary, reasoning


def test_a_think_block_split_across_chunks_reaches_no_passage_summary_or_plan(models, play, alice):
    models.script(fake.ok(f"<think>{SECRET} maybe {{\"beats\": []}}</think>{PLAN}"),
                  fake.stream(["The bell <thi", f"nk>{SECRET}</th", "ink>rings over the harbour."]),
                  fake.ok(f"<think>{SECRET}</think>The bell rang."))
    answer = play()
    turn, summary, reasoning = stored(alice, play.story)
    assert answer["status"] == "completed" and answer["prose"] == turn.prose == PROSE
    assert summary == "The bell rang."
    assert reasoning["strategist"].startswith(SECRET) and reasoning["writer"] == reasoning["dreamer"] == SECRET
    assert turn.template["beats"][0]["beat"] == "The bell rings"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])  # DeepSeek and vLLM; OpenRouter
def test_reasoning_deltas_are_kept_aside(models, play, alice, field):
    models.script(fake.ok(PLAN), fake.sse([fake.chunk({"role": "assistant", field: SECRET, "content": None}),
                                           fake.chunk({field: " more", "content": ""}),
                                           fake.chunk({"content": PROSE})]),
                  fake.ok("The bell rang."))
    answer = play()
    turn, summary, reasoning = stored(alice, play.story)
    assert answer["prose"] == turn.prose == PROSE and SECRET not in json.dumps(answer)
    assert reasoning["writer"] == f"{SECRET} more"


QUIRKS = {
    "crlf": {"newline": "\r\n"},
    "data without a space": {"prefix": "data:"},
    "crlf and no space": {"newline": "\r\n", "prefix": "data:"},
}


@pytest.mark.parametrize("quirk", QUIRKS)
def test_line_endings_and_data_prefixes(models, play, alice, quirk):
    models.script(fake.ok(PLAN), fake.sse([fake.chunk({"content": "The bell "}),
                                           fake.chunk({"content": "rings over the harbour."})], **QUIRKS[quirk]),
                  fake.ok("The bell rang."))
    assert play()["prose"] == PROSE


def test_keep_alive_comments_are_skipped(models, play):
    models.script(fake.ok(PLAN), fake.sse([": ping", fake.chunk({"content": "The bell "}), ": OPENROUTER PROCESSING",
                                           fake.chunk({"content": "rings over the harbour."}), ":"]),
                  fake.ok("The bell rang."))
    assert play()["prose"] == PROSE


def test_empty_and_null_deltas_are_skipped(models, play):
    models.script(fake.ok(PLAN), fake.sse([fake.chunk({"role": "assistant"}), fake.chunk(None), fake.chunk({}),
                                           fake.chunk({"content": None}), fake.chunk({"content": PROSE}),
                                           fake.chunk({"content": ""})]),
                  fake.ok("The bell rang."))
    assert play()["prose"] == PROSE


def test_the_usage_only_last_chunk_gives_the_token_counts(models, play, alice):
    models.script(fake.ok(PLAN), fake.sse([fake.chunk({"content": PROSE}),
                                           fake.chunk(usage={"prompt_tokens": 321, "completion_tokens": 9},
                                                      choices=False)]),
                  fake.ok("The bell rang."))
    assert play()["prose"] == PROSE
    with acting_as(alice):
        writer = AgentCall.objects.get(story=play.story, agent="writer")
    assert (writer.prompt_tokens, writer.completion_tokens) == (321, 9)


def test_a_server_refusing_stream_options_is_asked_again_without_and_remembered(models, play):
    refusal = fake.error(400, {"error": {"message": "Unrecognized request argument: stream_options"}})
    models.script(fake.ok(PLAN), refusal, fake.stream([PROSE]), fake.ok("The bell rang."),
                  fake.ok(PLAN), fake.stream(["Again ", "it rings."]), fake.ok("It rang again."))
    assert play("k1")["prose"] == PROSE
    assert play("k2")["prose"] == "Again it rings."
    writer_requests = [request["body"] for request in models.requests if request["body"]["stream"]]
    assert len(writer_requests) == 3  # one refusal, then never again
    assert "stream_options" in writer_requests[0]
    assert "stream_options" not in writer_requests[1] and "stream_options" not in writer_requests[2]


def test_a_400_that_is_not_about_stream_options_still_fails_the_turn(models, play):
    refusal = fake.error(400, {"error": {"message": "context too long"}})
    models.script(fake.ok(PLAN), refusal, refusal, refusal)  # with stream options, with cache_prompt, without
    answer = play()
    assert answer["status"] == "failed" and "HTTP 400" in answer["error"]


def test_the_writers_room_shows_each_agents_reasoning_collapsed(models, play, alice, as_alice):
    models.script(fake.ok(PLAN), fake.stream([f"<think>{SECRET}-writer</think>", PROSE]), fake.ok("The bell rang."))
    play()
    room = as_alice.get(f"/stories/{play.story.pk}/turns/1/").content.decode()
    assert room.count("<details class=\"reasoning\">") == 1
    details = room[room.index('<details class="reasoning">'):]
    assert "<summary>How the writer reasoned" in details and f"{SECRET}-writer" in details[:details.index("</details>")]
    story_page = as_alice.get(f"/stories/{play.story.pk}/").content.decode()
    assert PROSE in story_page and SECRET not in story_page


@pytest.mark.django_db(transaction=True)
def test_the_turn_stream_carries_no_reasoning(live_server, openai_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    openai_server.script(fake.ok(PLAN), fake.sse([fake.chunk({"reasoning_content": SECRET}),
                                                  fake.chunk({"content": "The bell <think"}),
                                                  fake.chunk({"content": f">{SECRET}</think>rings "}),
                                                  fake.chunk({"content": "over the harbour."})]))
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        token = client.post("/api/auth/token/", json={"username": user.username, "password": TEST_PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access']}"
        with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                           json={"action": "I ring the bell.", "idempotency_key": "s1"}) as response:
            body = "".join(response.iter_lines())
    assert SECRET not in body and "think" not in body and PROSE.split()[-1] in body
    with acting_as(user):
        assert Turn.objects.get(story=story).prose == PROSE
