"""Replay a turn with another model (issue #21): the turn's stored briefing and the Strategist's stored
plan go to another connection's Writer, and the passage it writes is kept beside the turn's, changing
nothing in the story until the player keeps it (the turn's passage becomes the replay's, the old one
stays a version, as a reroll's would) or branches from it (a branch of the story ending at that turn,
whose last passage is the replay's).

Only the Writer is replayed: the plan is the one the turn was written from, so the two passages differ
by the model alone, and a replay costs one Writer call.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts.rls import acting_as

from . import budgets, selectors, services, snapshots, turn_history
from .agents import writer
from .calls import AgentCaller
from .contracts import ResponseTemplate, StrategistBriefing
from .llm import LLMError
from .llm.connections import ModelChoice, connections
from .models import AgentCall, Story, Turn, TurnReplay
from .orchestrator import TurnRefused
from .versions import alternatives_numbered


def _turn_to_replay(*, user, story_id, number: int) -> tuple[Story, Turn]:
    """The story's own completed turn ``number``, planned by the writers' room (404 for a story the user may
    not read)."""
    story = selectors.story_get(user=user, story_id=story_id)
    if not services.can_change_story(user, story):
        raise TurnRefused("You may read this story but not change it.")
    turn = Turn.objects.filter(story=story, number=number).first()
    if turn is None:
        raise TurnRefused(f"There is no turn {number} of this story's own to replay.", code="not_found")
    if turn.status != Turn.Status.COMPLETED:
        raise TurnRefused(f"Turn {number} is {turn.status}: only a written turn can be replayed.")
    if not turn.briefing or not turn.template:
        raise TurnRefused(f"Turn {number} was not written by the writers' room (no briefing to replay).")
    return story, turn


def _offered(connection: str, model: str) -> None:
    """The connections and models the player may choose on the Models page, and no other."""
    offered = connections()
    if connection not in offered or not offered[connection].offers(model):
        menu = "; ".join(f"{name}: {', '.join(c.models)}" for name, c in offered.items())
        raise TurnRefused(f"{connection}:{model} is not a model this site offers; choose one of {menu}.",
                          code="invalid")


def turn_replay(*, user, story_id, number: int, connection: str, model: str) -> TurnReplay:
    """Write turn ``number`` again from its stored briefing and plan with ``connection``'s ``model``. The
    story is not changed; the Writer's call is recorded as the replay's. The call runs outside any
    transaction (DESIGN §3); a failed call leaves the replay with its error."""
    _offered(connection, model)
    with acting_as(user):
        story, turn = _turn_to_replay(user=user, story_id=story_id, number=number)
    briefing, template = StrategistBriefing.model_validate(turn.briefing), ResponseTemplate.model_validate(turn.template)
    # Held against the story's and the month's caps like a turn: past a cap, BudgetExceeded before any call.
    reservation = budgets.turn_reserve(user=user, story=story, estimate_usd=budgets.call_estimate_usd(
        choice=ModelChoice(connection, model), request=writer.request_for(briefing, template)))
    try:
        with acting_as(user):
            replay = TurnReplay.objects.create(user_id=story.user_id, story=story, turn=turn, connection=connection,
                                               model=model)
        caller = AgentCaller(user=user, story=story, turn=turn, replay=replay)
        try:
            passage = writer.write(briefing, template, caller.stream)
            replay.prose = passage.text or ""
            if not replay.prose:
                replay.error = "The Writer returned an empty passage."
        except LLMError as error:
            replay.error = str(error)[:2000]
    finally:
        budgets.turn_settle(user=user, reservation=reservation)
    with acting_as(user):
        replay.cost_usd = (AgentCall.objects.filter(replay=replay).aggregate(cost=Sum("cost_usd"))["cost"]
                           or Decimal(0))
        replay.save(update_fields=["prose", "error", "cost_usd"])
    return replay


def _replay_open(*, user, story_id, number: int, replay_id: int) -> tuple[Story, Turn, TurnReplay]:
    story, turn = _turn_to_replay(user=user, story_id=story_id, number=number)
    replay = TurnReplay.objects.filter(pk=replay_id, turn=turn).first()
    if replay is None:
        raise TurnRefused(f"Turn {number} has no replay {replay_id}.", code="not_found")
    if not replay.prose:
        raise TurnRefused("This replay wrote no passage; replay again.")
    if replay.outcome:
        raise TurnRefused(f"This replay was already {replay.outcome}.")
    return story, turn, replay


def replay_keep(*, user, story_id, number: int, replay_id: int):
    """The replay's passage becomes the turn's; the one it replaces stays among the turn's versions (and the
    state and the Dreamer follow it, as when a version is chosen). Returns the turn as readers see it."""
    with acting_as(user):
        story, turn, replay = _replay_open(user=user, story_id=story_id, number=number, replay_id=replay_id)
        Story.objects.select_for_update().get(pk=story.pk)
        turn = Turn.objects.select_for_update().get(pk=turn.pk)
        numbered, _ = alternatives_numbered(turn.alternatives)
        version = len(numbered) + 2  # after every version the passage has: the order they were written
        turn.alternatives = [*numbered, {"prose": replay.prose, "replayed_at": timezone.now().isoformat(),
                                         "version": version, "model": f"{replay.connection}:{replay.model}"}]
        turn.save(update_fields=["alternatives"])
        kept = turn_history.turn_version_choose(user=user, story_id=story.pk, number=number, version=version)
        replay.outcome = TurnReplay.Outcome.KEPT
        replay.save(update_fields=["outcome"])
    return kept


def replay_branch(*, user, story_id, number: int, replay_id: int) -> Story:
    """A branch of the story (the player's own, based on a private snapshot, as an edit's branch is) that
    ends at turn ``number`` with the replay's passage; the story itself is unchanged."""
    with acting_as(user):
        story, _, replay = _replay_open(user=user, story_id=story_id, number=number, replay_id=replay_id)
        if story.user_id != user.pk:
            raise TurnRefused("Only the story's owner can branch it.")
        snapshot = snapshots.snapshot_create(user=user, story=story,
                                             changelog=f"Kept for a branch from turn {number}'s replay.")
        branch = snapshots.story_from_snapshot(
            user=user, snapshot=snapshot, at_turn=number,
            title=f"{story.title} (turn {number} by {replay.model})")
        snapshots.turn_text_set(user=user, story=branch, number=number, prose=replay.prose)
        replay.outcome = TurnReplay.Outcome.BRANCHED
        replay.save(update_fields=["outcome"])
    return branch

