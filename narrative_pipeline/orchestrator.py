"""One turn of the writers' room, in the short-transaction shape of DESIGN §3.

1. The pending turn is committed (the idempotency key is unique per story, so a double submit
   meets the first one there).
2. Preprocessor → Strategist → Writer run outside any transaction: an LLM call may take
   long, and a pooled connection must not be held meanwhile.
3. The result commits in a second short transaction, and the Dreamer is queued on commit.
A failure leaves the action saved as a failed turn with its error, to retry.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from django.utils import timezone

from accounts.quotas import QuotaExceeded
from accounts.rls import acting_as
from accounts.task_outbox import queue_after_commit
from chapters import evaluation as chapter_evaluation
from chapters import selectors as chapter_selectors
from chapters.knowledge import services as knowledge_services
from core import metrics
from core.embeddings import EmbeddingError
from core.errors import DomainError

from . import budgets, quota_accounting, selectors
from .agents import preprocessor, strategist, writer
from .calls import AgentCaller
from .contracts import MAX_ACTION_CHARS, ResponseTemplate, StoryState
from .llm import LLMError
from .models import Character, Story, Turn, UndoneTurn
from .state import next_state
from .tasks import dream_turn, heal_chapter

logger = logging.getLogger("luna.turns")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_KEY_CHARS = 100


class TurnRefused(DomainError):
    """A turn request that cannot be carried out as asked: ``turn_conflict`` (the story is not in a state
    for it), ``invalid`` (the action or key) or ``not_found`` (no such turn)."""

    def __init__(self, message: str, *, code: str = "turn_conflict"):
        super().__init__(code, message)


def clean_action(action) -> str:
    if not isinstance(action, str):
        raise TurnRefused("The action must be text.", code="invalid")
    text = action.replace("\r\n", "\n").strip()
    if not text:
        raise TurnRefused("Write what you do: the action is empty.", code="invalid")
    if len(text) > MAX_ACTION_CHARS:
        raise TurnRefused(f"The action is {len(text):,} characters; the limit is {MAX_ACTION_CHARS:,}.",
                          code="invalid")
    if CONTROL_CHARACTERS.search(text):
        raise TurnRefused("The action contains control characters.", code="invalid")
    return text


def clean_key(key) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS:
        raise TurnRefused(f"The idempotency key must be 1 to {MAX_KEY_CHARS} characters of text.",
                          code="invalid")
    return key.strip()


def turn_submit(*, user, story_id, action, idempotency_key) -> tuple[Turn, bool]:
    """Save the action as a pending turn, or return the turn this key already made (created=False)."""
    action, key = clean_action(action), clean_key(idempotency_key)
    for _ in range(2):
        try:
            with acting_as(user):
                # The story row lock serializes turn numbering; a second submit waits here.
                story = Story.objects.select_for_update().get(pk=story_id)
                existing = story.turns.filter(idempotency_key=key).first()
                if existing is not None:
                    return existing, False
                last = story.turns.order_by("-number").first()
                if last is not None and last.status != Turn.Status.COMPLETED:
                    raise TurnRefused(f"Turn {last.number} is {last.status}: retry or undo it before a new action.")
                UndoneTurn.objects.filter(story=story).delete()  # a new action ends what a redo could bring back
                turn = Turn.objects.create(user_id=story.user_id, story=story,
                                           number=selectors.turn_number_next(story=story),
                                           action=action, idempotency_key=key, state_before=story.state)
                return turn, True
        except IntegrityError:
            continue  # a concurrent submit with the same key won; read its turn
    raise TurnRefused("This turn is being submitted twice at once; try again.")


def turn_generate(*, user, turn: Turn, on_text: Callable[[str], None] | None = None,
                  on_stage: Callable[[str], None] | None = None,
                  stop_requested: Callable[[], bool] | None = None) -> Turn:
    """Run the writers' room for ``turn`` (pending, failed, or completed to reroll) and commit.

    ``on_stage`` hears "planning" (the Strategist) then "writing" (the Writer); ``stop_requested`` is asked
    between the Writer's pieces: once it says yes the turn completes with what was written by then."""
    with acting_as(user):
        story = Story.objects.get(pk=turn.story_id)
        cast = list(Character.objects.filter(story=story).values_list("name", "is_player"))
        # A new passage for a written turn plans from what was known before the turn: what the passage it
        # replaces told is forgotten (put back if the turn fails and keeps it), and the Dreamer reads the new one.
        replaced = (turn_told_forget(story_id=story.pk, turn_number=turn.number, passage_only=True)
                    if turn.status == Turn.Status.COMPLETED else None)
    caller = AgentCaller(user=user, story=story, turn=turn)
    reservation = None
    try:
        started = time.monotonic()
        with acting_as(user):
            # Reroll and retry plan from the state before the turn, not the state after it.
            story.state = turn.state_before
            context = preprocessor.build_context(story=story, action=turn.action, turn_number=turn.number)
            if context.healing is not None:  # sent to the worker when the chapter's progress commits
                queue_after_commit(heal_chapter, str(user.pk), context.healing.chapter_id, turn.number,
                                   context.healing.tier)
            briefing = preprocessor.brief(context)
        caller.record_local("preprocessor", model="all-MiniLM-L6-v2", tokens=briefing.size(), started=started)
        # Before the first model call: refused here, the action stays saved (failed) to retry within budget.
        reservation = budgets.turn_reserve(user=user, story=story, estimate_usd=budgets.turn_estimate_usd(
            user=user, story=story, briefing=briefing))
        if on_stage is not None:
            on_stage("planning")
        template = strategist.plan(briefing, caller.complete)
        if stop_requested is not None and stop_requested():
            raise LLMError("You stopped this turn before the Writer began.")
        if on_stage is not None:
            on_stage("writing")
        passage = writer.write(briefing, template, caller.stream, on_text, stop_requested=stop_requested,
                               attempt=len(turn.alternatives) + (1 if turn.prose else 0))
        prose = passage.text
        if not prose:
            raise LLMError("You stopped this turn before the Writer wrote anything." if passage.stopped
                           else "The Writer returned an empty passage.")
    except (LLMError, EmbeddingError) as error:  # the model server or the embedding service: Retry
        return _turn_fail(user, turn, str(error), replaced)
    except budgets.BudgetExceeded as refused:
        _turn_fail(user, turn, refused.message, replaced)
        raise
    except Exception:
        _turn_fail(user, turn, "Something went wrong on our side; your action is kept. Try again.", replaced)
        raise
    finally:
        budgets.turn_settle(user=user, reservation=reservation)
    try:
        return _turn_complete(user=user, turn=turn, briefing=briefing.model_dump(), template=template, prose=prose,
                              cast=cast)
    except QuotaExceeded as error:
        return _turn_fail(user, turn, error.message, replaced)


def _turn_fail(user, turn: Turn, error: str, replaced: dict | None = None) -> Turn:
    with acting_as(user):
        row = Turn.objects.select_for_update().get(pk=turn.pk)
        if row.status != Turn.Status.COMPLETED:  # a failed reroll keeps the passage it had
            row.status = Turn.Status.FAILED
        elif replaced is not None:  # and what that passage told
            turn_told_restore(story_id=row.story_id, user_id=row.user_id, told=replaced)
        row.error = error[:2000]
        row.save(update_fields=["status", "error"])
    metrics.TURNS.labels(outcome="failed").inc()
    logger.info("turn %s of story %s failed: %s", row.number, row.story_id, error)
    return row


def _turn_complete(*, user, turn: Turn, briefing: dict, template: ResponseTemplate, prose: str,
                   cast: list[tuple[str, bool]]) -> Turn:
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=turn.story_id)
        row = Turn.objects.select_for_update().get(pk=turn.pk)
        if row.prose and row.status == Turn.Status.COMPLETED:
            row.alternatives = [*row.alternatives, {"prose": row.prose, "replaced_at": timezone.now().isoformat()}]
        row.prose, row.briefing, row.template = prose, briefing, template.model_dump()
        row.retrieved_turns = [t["number"] for t in briefing["relevant_turns"]]
        row.status, row.error, row.completed_at = Turn.Status.COMPLETED, "", timezone.now()
        player = next((name for name, is_player in cast if is_player), None)
        if _is_last(row):
            story.state = next_state(StoryState(**row.state_before), cast=[name for name, _ in cast], player=player,
                                     action=row.action, prose=prose, updates=template.state_updates,
                                     places=_known_places(story.pk)).model_dump()
            story.save(update_fields=["state", "updated_at"])
        quota_accounting.turn_rewritten(user=user, story=story, turn=row)
        row.save()
        queue_after_commit(dream_turn, str(user.pk), str(row.pk))
    metrics.TURNS.labels(outcome="completed").inc()
    return row


def _known_places(story_id) -> tuple[str, ...]:
    """The places the story's chapters name: a movement to one keeps the author's spelling, so it meets the
    chapter's condition."""
    places: list[str] = []
    for chapter in chapter_selectors.story_chapters(story_id=story_id):
        location = chapter.trigger_conditions.get("location") or []
        places += [location] if isinstance(location, str) else [place for place in location if isinstance(place, str)]
    return tuple(dict.fromkeys(places))


def _is_last(turn: Turn) -> bool:
    return not Turn.objects.filter(story_id=turn.story_id, number__gt=turn.number).exists()


# -- Changing what was written --------------------------------------------------------------


def turn_told_forget(*, story_id, turn_number: int, passage_only: bool = False) -> dict:
    """Forget what turn ``turn_number`` (and any later one) told: the chapters' progress it made (the beats its
    passage carried, ``progress_turn_undo``) and, in the story's knowledge, its reveals and what its prose taught
    (``passage_only``: only what its passage did, when the passage is replaced). Returns what they were, for
    ``turn_told_restore``. Runs as the story's owner or a co-author."""
    return {"chapter_progress": chapter_evaluation.progress_turn_undo(story_id=story_id, turn_number=turn_number,
                                                                      passage_only=passage_only),
            "knowledge": knowledge_services.knowledge_turn_undo(story_id=story_id, turn_number=turn_number,
                                                                passage_only=passage_only)}


def turn_told_restore(*, story_id, user_id, told: dict) -> None:
    """Put back what ``turn_told_forget`` forgot (a redo, a failed reroll)."""
    chapter_evaluation.progress_turn_redo(story_id=story_id, user_id=user_id, kept=told["chapter_progress"])
    knowledge_services.knowledge_turn_redo(story_id=story_id, user_id=user_id, kept=told["knowledge"])


def _own_last(story_id) -> Turn | None:
    """The story's last turn if it is its own (a story based on a snapshot may end on one of the
    snapshot's turns, which only an edit of its text can change)."""
    last = Turn.objects.filter(story_id=story_id).order_by("-number").first()
    base_turn = Story.objects.filter(pk=story_id).values_list("base_turn", flat=True).first() or 0
    if base_turn and (last is None or last.number < base_turn):
        raise TurnRefused(f"Turn {base_turn} comes from the story this one is based on: edit its text instead.",
                          code="turn_conflict")
    return last


def _last_turn(user, story_id, number: int | None = None) -> Turn:
    with acting_as(user):
        last = _own_last(story_id)
    if last is None:
        raise TurnRefused("This story has no turns yet.", code="not_found")
    if number is not None and last.number != number:
        raise TurnRefused(f"Only the last turn ({last.number}) can be changed; turn {number} is not it.")
    return last


def turn_retry(*, user, story_id, number: int, on_text=None) -> Turn:
    with acting_as(user):
        turn = Turn.objects.filter(story_id=story_id, number=number).first()
    if turn is None:
        raise TurnRefused(f"There is no turn {number}.", code="not_found")
    if turn.status == Turn.Status.COMPLETED:
        raise TurnRefused(f"Turn {number} is already written; reroll it for another passage.")
    return turn_generate(user=user, turn=turn, on_text=on_text)


def turn_reroll(*, user, story_id, number: int, on_text=None) -> Turn:
    """A new passage for the last turn; the previous one is kept among its alternatives."""
    turn = _last_turn(user, story_id, number)
    if turn.status != Turn.Status.COMPLETED:
        raise TurnRefused(f"Turn {number} has no passage to reroll yet; retry it instead.")
    return turn_generate(user=user, turn=turn, on_text=on_text)


def turn_edit_action(*, user, story_id, number: int, action, on_text=None) -> Turn:
    """Change the last turn's action and write it again (the old passage stays an alternative)."""
    action = clean_action(action)
    turn = _last_turn(user, story_id, number)
    with acting_as(user):
        Turn.objects.filter(pk=turn.pk).update(action=action)
    turn.action = action
    return turn_generate(user=user, turn=turn, on_text=on_text)


UNDONE_FIELDS = ("id", "number", "action", "prose", "idempotency_key", "status", "error", "alternatives", "briefing",
                 "template", "retrieved_turns", "state_before", "created_at", "completed_at")


def turn_undo(*, user, story_id) -> Turn:
    """Remove the last turn and put the story's state back as it was before it. The turn is kept as
    an ``UndoneTurn`` until the next action, so a redo can bring it back."""
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story_id)
        turn = _own_last(story_id)
        if turn is None:
            raise TurnRefused("This story has no turns to undo.", code="not_found")
        fields = json.loads(json.dumps({name: getattr(turn, name) for name in UNDONE_FIELDS}, cls=DjangoJSONEncoder))
        # The beats it told, what it revealed and what its prose taught are forgotten with it (kept for a redo).
        told = turn_told_forget(story_id=story.pk, turn_number=turn.number)
        UndoneTurn.objects.update_or_create(user_id=story.user_id, story=story, number=turn.number,
                                            defaults={"turn": fields, "state_after": story.state, **told})
        story.state = turn.state_before
        story.save(update_fields=["state", "updated_at"])
        quota_accounting.turn_remove(user=user, story=story, turn=turn)
        removed_id = turn.pk
        turn.delete()
        turn.pk = removed_id  # delete() clears it; the answer names the turn removed
    return turn
