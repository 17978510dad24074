"""Nothing is left pending: a model server that hangs or stalls mid-passage fails the turn within its
timeout, and a turn whose process died is failed by the sweeper (Celery beat); the action is kept and
Retry writes it."""

import threading
import uuid
from datetime import timedelta

from django.utils import timezone

from accounts.rls import acting_as
from narrative_pipeline import orchestrator, stuck_turns
from narrative_pipeline.models import Turn
from narrative_pipeline.tasks import turns_stuck_sweep

from .. import fake_openai as fake
from ..factories import StoryFactory, UserFactory


def story_for(user):
    return StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])


def submitted(user, story, *, minutes_ago: float) -> Turn:
    """A turn saved as pending, whose writing never ran (the process died)."""
    turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action="I light the lamp.",
                                       idempotency_key=uuid.uuid4().hex)
    with acting_as(user):
        Turn.objects.filter(pk=turn.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return turn


def test_the_sweeper_fails_every_users_stuck_turn_and_retry_writes_it(db, settings, api_as):
    settings.TURN_PENDING_TIMEOUT_SECONDS = 600
    alice, bob = UserFactory(), UserFactory()
    alices_story, bobs_story = story_for(alice), story_for(bob)
    stuck = submitted(alice, alices_story, minutes_ago=11)
    writing = submitted(bob, bobs_story, minutes_ago=1)  # still within the timeout

    assert turns_stuck_sweep.delay().get() == 1
    with acting_as(alice):
        stuck.refresh_from_db()
    assert (stuck.status, stuck.error, stuck.action) == (Turn.Status.FAILED, stuck_turns.STUCK_TURN_ERROR,
                                                         "I light the lamp.")
    with acting_as(bob):
        writing.refresh_from_db()
    assert writing.status == Turn.Status.PENDING
    assert stuck_turns.turns_stuck_fail() == 0  # nothing twice

    retried = api_as(alice).post(f"/api/stories/{alices_story.pk}/turns/{stuck.number}/retry/")
    assert retried.status_code == 200, retried.content
    assert retried.json()["status"] == "completed" and retried.json()["error"] == ""


def test_a_model_server_that_stalls_mid_passage_fails_the_turn(db, settings, api_as, openai_server):
    settings.LLM_TIMEOUT_SECONDS = 0.3
    user = UserFactory()
    story = story_for(user)
    never = threading.Event()
    openai_server.script(fake.ok('{"beats": [{"description": "The lamp flickers"}]}'),
                         fake.stream(["The lamp ", "flickers."], release=never))
    try:
        turn = api_as(user).post(f"/api/stories/{story.pk}/turns/", {
            "action": "I light the lamp.", "idempotency_key": "k"}, content_type="application/json").json()
    finally:
        never.set()  # the fake server's thread ends
    assert turn["status"] == "failed" and turn["action"] == "I light the lamp."
    with acting_as(user):
        assert not Turn.objects.filter(story=story, status=Turn.Status.PENDING).exists()
