"""Two hundred turns of one story through the orchestrator, the Dreamer on the real Celery worker."""

import math
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db.models import Count, Sum

from accounts.models import Usage
from accounts.rls import acting_as
from narrative_pipeline import orchestrator, selectors
from narrative_pipeline.models import AgentCall, Story, StoryArc, Turn, TurnSummary

from ..conftest import wait_for_idle_worker
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ACTIONS = ["I ask Captain Hale about the missing ship.", "I walk to the lighthouse.", "I take the brass lantern.",
           "I search the tide pools for clues.", "I tell Orla what I found.", "I run along the cliff path.",
           "I listen to the foghorn and count the beats.", "I drop the lantern and climb down to the cove."]


def wait_for_dreams(user, story, *, summaries: int, arcs: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with acting_as(user):
            done = (TurnSummary.objects.filter(story=story).count(), StoryArc.objects.filter(story=story).count())
        if done >= (summaries, arcs):
            return
        assert time.monotonic() < deadline, f"the worker dreamt {done}, not ({summaries}, {arcs})"
        time.sleep(0.05)


def test_two_hundred_turns(celery_worker):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Drowned Bell", genre="mystery", state={"location": "the harbour"},
                         memory="The bell of the drowned chapel rings before every death.",
                         characters=[{"name": "Wren", "is_player": True},
                                     {"name": "Captain Hale", "description": "harbour master, hiding something"},
                                     {"name": "Orla", "description": "a diver who lost her brother"}])
    briefing_sizes = {}
    # The briefing is compared at the same point of the quoted window's and the story so far's cycles as turn 200
    # (the prompt-caching blocks), past the first of each.
    period = math.lcm(settings.BRIEFING_RECENT_BLOCK_TURNS, settings.BRIEFING_SUMMARY_BATCH_TURNS)
    early = 200 % period
    while early < 20:
        early += period
    for number in range(1, 201):
        if number in (early, 200):
            # Measure with the Dreamer caught up, as a player pausing between turns would have it.
            wait_for_dreams(user, story, summaries=number - 1, arcs=(number - 1) // 10)
        turn, created = orchestrator.turn_submit(user=user, story_id=story.pk, action=ACTIONS[number % len(ACTIONS)],
                                                 idempotency_key=f"t{number}")
        turn = orchestrator.turn_generate(user=user, turn=turn)
        assert created and turn.status == Turn.Status.COMPLETED, turn.error
        if number in (early, 200):
            briefing_sizes[number] = len(str(turn.briefing)) // 4
            assert turn.retrieved_turns, "the Preprocessor retrieved no past turn"
    wait_for_dreams(user, story, summaries=200, arcs=20)
    wait_for_idle_worker()  # the last character snapshots too, before counting the calls

    with acting_as(user):
        assert list(Turn.objects.filter(story=story).order_by("number").values_list("number", flat=True)) == list(
            range(1, 201))
        assert TurnSummary.objects.filter(story=story).count() == 200
        assert list(StoryArc.objects.filter(story=story).values_list("first_turn", "last_turn")) == [
            (first, first + 9) for first in range(1, 200, 10)]
        # Every byte the engine and the Dreamer wrote is counted, on the story and for the quota.
        assert Usage.objects.get(user=user).storage_bytes == Story.objects.get(pk=story.pk).storage_bytes > 0
        costs = selectors.story_costs(story=story)
        calls = AgentCall.objects.filter(story=story)
        totals = calls.aggregate(count=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
                                 cost=Sum("cost_usd"))
    assert abs(briefing_sizes[200] - briefing_sizes[early]) <= 0.10 * briefing_sizes[early], briefing_sizes
    assert costs["total"]["calls"] == totals["count"]
    assert costs["total"]["prompt_tokens"] == totals["prompt"]
    assert costs["total"]["completion_tokens"] == totals["completion"]
    assert Decimal(costs["total"]["cost_usd"]) == (totals["cost"] or 0)
    assert sum(agent["calls"] for agent in costs["agents"].values()) == totals["count"]
    assert costs["agents"]["writer"]["calls"] == 200 and costs["agents"]["preprocessor"]["calls"] == 200
