"""The healing ladder played through the API, the Dreamer and healing on the real Celery worker:
a chapter the player walks away from is nudged, relaxed, adapted, and kept; a dead critical
character gives an alternate that becomes the current chapter."""

import uuid

import pytest

from accounts.rls import acting_as
from chapters.models import ChapterDivergenceLog, ChapterProgress, StoryChapter
from narrative_pipeline.models import Turn
from narrative_pipeline.services import story_update

from ..conftest import wait_for_idle_worker
from ..factories import StoryFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WANDER = ["I walk to the market.", "I haggle for apples.", "I sit in the tavern.", "I listen to a fiddler."]


@pytest.fixture
def story(alice, settings):
    settings.CHAPTER_GRACE_TURNS = 2
    return StoryFactory(user=alice, title="The Lamp", state={"location": "the harbour"}, characters=[
        {"name": "Wren", "is_player": True}, {"name": "Captain Hale", "description": "the harbour master"}])


def chapter_add(api, story, user, **fields) -> StoryChapter:
    body = {"number": 1, "title": "The Lamp", "summary": "Captain Hale lights the lighthouse lamp.",
            "trigger_conditions": {"location": "lighthouse", "character_present": "Captain Hale"},
            "suggested_beats": [{"beat": "Captain Hale lights the lamp", "priority": "high"}], **fields}
    response = api.post(f"/api/stories/{story.pk}/chapters/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    with acting_as(user):
        return StoryChapter.objects.get(story=story, number=1)


def play(api, story, user, action: str) -> Turn:
    response = api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": uuid.uuid4().hex},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    wait_for_idle_worker()  # the Dreamer and any healing this turn queued are done before the next turn
    with acting_as(user):
        return Turn.objects.get(pk=response.json()["id"])


def test_a_chapter_the_player_walks_away_from_is_nudged_relaxed_adapted_and_kept(celery_worker, api_as, alice,
                                                                                   story):
    api = api_as(alice)
    # Both conditions critical, so relaxing keeps them and the story stays as far off as before (0.7).
    # Old Tam is not in the cast, so no passage brings him by naming him.
    chapter = chapter_add(api, story, alice, critical=["location", "character_present"],
                          trigger_conditions={"location": "lighthouse", "character_present": "Old Tam"})
    with acting_as(alice):
        # No expected narrative to compare with: the score is the conditions' alone, 0.7, the adapt interval.
        StoryChapter.objects.filter(pk=chapter.pk).update(expected_embedding=None)
    turns = [play(api, story, alice, WANDER[n % len(WANDER)]) for n in range(12)]

    with acting_as(alice):
        logs = list(ChapterDivergenceLog.objects.filter(chapter=chapter).order_by("turn_number"))
        row = ChapterProgress.objects.get(chapter=chapter)
        versions = chapter.versions.count()
        replaced = StoryChapter.objects.filter(story=story, alternate_of=chapter).exists()
    assert [(log.turn_number, log.strategy) for log in logs] == [(3, "nudge"), (5, "relax"), (7, "adapt")]
    assert logs[0].changes == {"hook": "Old Tam arrives with news of the lighthouse."}
    assert row.status == "upcoming" and row.healing_rung == "adapt" and versions == 3  # authored, relaxed, adapted
    assert not replaced
    # Within the first grace the Strategist hears nothing of the chapter; then it gets the hook, turn after turn.
    assert turns[0].briefing["chapter"] is None and turns[1].briefing["chapter"] is None
    nudged = turns[2].briefing["chapter"]
    assert nudged["status"] == "upcoming" and nudged["healing"] == "nudge" and nudged["tier"] == "nudge"
    assert nudged["nudge"] == "Old Tam arrives with news of the lighthouse."
    assert nudged["narrative_instructions"] == "" and nudged["beats"] == []  # the upcoming chapter by title only
    assert nudged["divergence_parts"]["unmet"] == ["location", "character_present"]
    assert [turn.briefing["chapter"]["healing"] for turn in turns[3:7]] == ["", "relax", "", "adapt"]
    # The offline Strategist plays the hook.
    assert "Old Tam arrives with news of the lighthouse" in [beat["beat"] for beat in turns[2].template["beats"]]

    # The player goes there after all: the author's chapter, adapted, is played and completes.
    with acting_as(alice):
        story_update(user=alice, story=story, state={"location": "lighthouse", "present_characters": ["Old Tam"]})
    for _ in range(6):
        play(api, story, alice, "I look up at the lamp.")
        with acting_as(alice):
            row = ChapterProgress.objects.get(chapter=chapter)
        if row.status == "completed":
            break
    assert (row.status, row.completion_method) == ("completed", "adapted")


def test_a_dead_critical_character_gives_an_alternate_that_becomes_current(celery_worker, api_as, alice, story):
    api = api_as(alice)
    chapter = chapter_add(api, story, alice)
    play(api, story, alice, "I walk to the market.")
    with acting_as(alice):
        story_update(user=alice, story=story, state={"flags": ["dead:Captain Hale"]})
    turns = [play(api, story, alice, WANDER[n % len(WANDER)]) for n in range(1, 4)]

    with acting_as(alice):
        logs = [(log.turn_number, log.strategy) for log in ChapterDivergenceLog.objects.filter(story=story)]
        alternate = StoryChapter.objects.get(story=story, alternate_of=chapter)
        original = ChapterProgress.objects.get(chapter=chapter)
        taken = ChapterProgress.objects.get(chapter=alternate)
    # Straight to the alternate once the first grace is over: no nudge can bring the dead back.
    assert logs == [(3, "alternate")]
    assert (original.status, original.completion_method) == ("completed", "diverged_alternate")
    # Written for where the story stands, and current from the very next turn.
    with acting_as(alice):
        story.refresh_from_db()
    assert alternate.trigger_conditions == {"location": story.state["location"]}  # Hale is named, but dead
    assert taken.activated_turn == 4 and taken.status in ("active", "completed")
    briefed = turns[2].briefing["chapter"]
    assert briefed["number"] == alternate.number and briefed["status"] == "active" and briefed["beats"]
    # An alternate completes as a chapter of its own, never itself "diverged".
    assert taken.completion_method != "diverged_alternate"
