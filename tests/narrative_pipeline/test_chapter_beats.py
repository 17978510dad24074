"""A chapter's beats are confirmed from the prose by the Dreamer: the offline Dreamer reads the passage,
a model's answer is read leniently, the Strategist's claim alone ticks nothing, and a three-beat chapter
spans three turns through the API and the real worker."""

import json
import time
import uuid

import pytest

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.beat_confirmation import passage_carries
from chapters.models import ChapterProgress
from narrative_pipeline import dreams, orchestrator
from narrative_pipeline.agents import dreamer
from narrative_pipeline.agents.structured import NoValidObject, parse_carried
from narrative_pipeline.llm import Completion, LLMError
from narrative_pipeline.llm.offline import OfflineProvider
from narrative_pipeline.models import Turn, TurnSummary

from ..factories import StoryFactory, UserFactory

BEATS = ["A messenger brings the king's seal", "The seal is broken open", "The letter names the traitor"]
SUMMONS = {"number": 1, "title": "The Summons", "summary": "The king's letter reaches the harbour.",
           "trigger_conditions": {"location": "harbour"},
           "suggested_beats": [{"beat": beat, "priority": "high"} for beat in BEATS]}


class Answer:
    def __init__(self, text: str):
        self.text = text

    def complete(self, request):
        return Completion(text=self.text, prompt_tokens=1, completion_tokens=1, provider="fake", model="fake")


@pytest.mark.parametrize("answer, carried", [
    ('{"carried": [1, 3]}', [BEATS[0], BEATS[2]]),
    ('<think>beat 2? no</think>Sure: {"Carried": ["3", "#1"],}', [BEATS[0], BEATS[2]]),
    ('{"beats_carried": ["the SEAL is broken open.", "a dragon appears"]}', [BEATS[1]]),
    ('{"carried": [{"number": 1, "carried": true}, {"beat": "The seal is broken open", "carried": false}]}',
     [BEATS[0]]),
    ('{"carried": 2}', [BEATS[1]]),
    ('{"carried": [0, 4, true, null]}', []),
    ('{"carried": []}', []),
    (json.dumps({BEATS[0]: True, BEATS[1]: "no", BEATS[2]: "yes"}), [BEATS[0], BEATS[2]]),
])
def test_a_models_answer_on_the_beats_is_read_leniently(answer, carried):
    assert parse_carried(answer, BEATS) == carried


def test_an_answer_that_says_nothing_about_the_beats_fails_the_dreamers_task():
    with pytest.raises(NoValidObject):
        parse_carried("Beats one and three.", BEATS)
    with pytest.raises(LLMError, match="chapter beats"):
        dreamer.beats_carried(Answer('{"summary": "no"}'), passage="…", beats=BEATS)


def test_the_offline_dreamer_answers_from_the_passage_not_from_the_plan():
    passage = "The tide turns. The seal is broken open on the quay.\n\nGulls cry."
    assert dreamer.beats_carried(OfflineProvider(), passage=passage, beats=BEATS) == [BEATS[1]]
    assert dreamer.beats_carried(OfflineProvider(), passage="Nothing happens.", beats=BEATS) == []


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="The Summons", state={"location": "the harbour"},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}])
    with acting_as(alice):
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[dict(SUMMONS)])
    return story


def _progress(user, story) -> ChapterProgress:
    with acting_as(user):
        return ChapterProgress.objects.get(story=story, chapter__number=1)


@pytest.mark.django_db
def test_the_strategists_claim_alone_ticks_no_beat(alice, story, django_capture_on_commit_callbacks):
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I wait.", idempotency_key="one")
    with django_capture_on_commit_callbacks(execute=False):  # the Dreamer is run below, by hand
        turn = orchestrator.turn_generate(user=alice, turn=turn)
    with acting_as(alice):  # a Strategist that claims every beat, over a passage that tells none of them
        Turn.objects.filter(pk=turn.pk).update(prose="The harbour is quiet.", template={
            **turn.template, "chapter_beats_addressed": BEATS})
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(turn.pk))
    progress = _progress(alice, story)
    assert (progress.status, progress.beats_addressed) == ("active", [])


@pytest.mark.django_db
def test_a_chapter_whose_first_passage_carries_every_high_beat_completes_as_it_activates(
        alice, django_capture_on_commit_callbacks):
    story = StoryFactory(user=alice, state={"location": "the harbour"}, characters=[{"name": "Wren", "is_player": True}])
    with acting_as(alice):
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[{
            **SUMMONS, "suggested_beats": [{"beat": BEATS[0], "priority": "high"},
                                           {"beat": BEATS[1], "priority": "low"}]}])
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I wait.", idempotency_key="one")
    with django_capture_on_commit_callbacks(execute=True):
        turn = orchestrator.turn_generate(user=alice, turn=turn)
    assert passage_carries(BEATS[0], turn.prose)
    progress = _progress(alice, story)
    assert (progress.status, progress.activated_turn, progress.completed_turn) == ("completed", 1, 1)
    assert progress.beats_addressed == [BEATS[0]]


def _dreamt(user, turn_id, timeout: float = 30.0) -> None:
    """Until the worker's Dreamer has done the turn (its summary comes after the beats)."""
    deadline = time.monotonic() + timeout
    while True:
        with acting_as(user):
            if TurnSummary.objects.filter(turn_id=turn_id).exists():
                return
        assert time.monotonic() < deadline, "the worker never dreamt the turn"
        time.sleep(0.05)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_three_beat_chapter_spans_three_turns_through_the_api_and_the_worker(celery_worker, api_as):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Summons", state={"location": "the harbour"},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}])
    api = api_as(user)
    created = api.post(f"/api/stories/{story.pk}/chapters/", {**SUMMONS}, content_type="application/json")
    assert created.status_code == 201, created.content
    seen = []
    for number, action in enumerate(["I wait on the harbour wall.", "I ask Orla what she saw.",
                                      "I look out to sea."], 1):
        response = api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": uuid.uuid4().hex},
                            content_type="application/json")
        assert response.status_code == 201 and response.json()["status"] == "completed"
        turn = response.json()
        assert [beat for beat in BEATS if passage_carries(beat, turn["prose"])] == [BEATS[number - 1]]
        _dreamt(user, turn["id"])
        progress = api.get(f"/api/stories/{story.pk}/chapters/").json()["results"][0]["progress"]
        seen.append((progress["status"], sorted(progress["beats_addressed"]), progress["completed_turn"]))
    assert seen == [("active", sorted(BEATS[:1]), None), ("active", sorted(BEATS[:2]), None),
                    ("completed", sorted(BEATS), 3)]
    assert progress["activated_turn"] == 1 and progress["completion_method"] == "natural"


@pytest.mark.django_db
def test_a_model_dreamer_is_asked_about_the_open_beats_and_its_answer_ticks_them(
        alice, openai_server, settings, django_capture_on_commit_callbacks):
    from .. import fake_openai as fake

    settings.LLM_AGENTS = {**settings.LLM_AGENTS, "dreamer": {"provider": "openai", "model": "fake-model"}}
    story = StoryFactory(user=alice, state={"location": "the harbour"}, characters=[{"name": "Wren", "is_player": True}])
    with acting_as(alice):
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[dict(SUMMONS)])
    plan = {"beats": [{"beat": "The seal is broken", "priority": "high"}], "chapter_beats_addressed": BEATS}
    openai_server.script(fake.ok(json.dumps(plan)), fake.stream(["The seal is broken open ", "on the quay."]),
                         fake.ok('<think>1? not told.</think>{"carried": ["2"],}'), fake.ok("The seal is opened."))
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I wait.", idempotency_key="one")
    with django_capture_on_commit_callbacks(execute=True):
        orchestrator.turn_generate(user=alice, turn=turn)
    user_message = openai_server.requests[2]["body"]["messages"][-1]["content"]
    asked = json.loads(user_message.split("<story-data>")[1].split("</story-data>")[0])
    assert asked["passage"] == "The seal is broken open on the quay."
    assert [beat["beat"] for beat in asked["beats"]] == BEATS  # the open beats, numbered as the answer names them
    progress = _progress(alice, story)  # the Strategist claimed all three; the Dreamer confirmed one
    assert (progress.status, progress.beats_addressed) == ("active", [BEATS[1]])


def test_the_offline_room_tells_one_chapter_beat_a_turn_in_the_authors_order_even_naming_someone_present():
    from narrative_pipeline.llm import LLMRequest

    beats = [{"beat": "Orla waves from the pier", "priority": "low"}, {"beat": BEATS[0], "priority": "high"}]
    briefing = {"action": "I wait.", "state": {"location": "the harbour", "present_characters": ["Orla"]},
                "characters": [{"name": "Wren", "is_player": True}, {"name": "Orla"}], "lore": [],
                "chapter": {"number": 1, "title": "The Summons", "beats": beats, "beats_addressed": [],
                            "tier": "none"}}
    narrator = OfflineProvider()

    def turn(briefing):
        plan = json.loads(narrator.complete(LLMRequest(agent="strategist", messages=[], payload={
            "task": "plan", "briefing": briefing})).text)
        prose = narrator.complete(LLMRequest(agent="writer", messages=[], payload={
            "task": "write", "template": plan, "briefing": briefing})).text
        return plan["chapter_beats_addressed"], prose

    addressed, prose = turn(briefing)  # the low beat comes first in the author's order, and names Orla
    assert addressed == ["Orla waves from the pier"]
    assert passage_carries("Orla waves from the pier", prose) and not passage_carries(BEATS[0], prose)
    addressed, prose = turn({**briefing, "chapter": {**briefing["chapter"], "beats_addressed": [beats[0]["beat"]]}})
    assert addressed == [BEATS[0]] and passage_carries(BEATS[0], prose)
