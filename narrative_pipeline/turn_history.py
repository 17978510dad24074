"""A turn's history, written by the player (issue #19): choose any version of a passage, redo an
undone turn, change the action of any turn with its later turns kept in a branch.

Services in the house shape (keyword-only ``turn_*``), apart from ``services.py`` because they build
on the snapshots (a branch), which build on ``services.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.rls import acting_as
from accounts.task_outbox import queue_after_commit
from core.contracts import StoryState

from . import orchestrator, quota_accounting, selectors, snapshots
from .contracts import StateUpdates
from .models import Character, Story, StoryTurn, Turn, UndoneTurn
from .orchestrator import TurnRefused
from .state import next_state
from .tasks import dream_turn
from .versions import alternatives_numbered, version_chosen


def _state_after(story: Story, turn: Turn) -> dict:
    """The state after ``turn`` as its passage now reads, planned from the state before it (as a reroll does)."""
    cast = list(Character.objects.filter(story=story).values_list("name", "is_player"))
    updates = StateUpdates(**((turn.template or {}).get("state_updates") or {}))
    return next_state(StoryState(**turn.state_before), cast=[name for name, _ in cast],
                      player=next((name for name, is_player in cast if is_player), None),
                      action=turn.action, prose=turn.prose, updates=updates).model_dump()


def turn_version_choose(*, user, story_id, number: int, version: int) -> StoryTurn:
    """Turn ``number`` reads its version ``version`` (see ``versions.py``); the passage it replaces is
    kept among its alternatives, so nothing is lost. On the story's last turn the state follows the
    chosen passage and what the replaced one told (its beats, their reveals, its prose's learning) is forgotten;
    the Dreamer reads the chosen one again. Returns the turn as readers see it."""
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story_id)
        shown = selectors.story_turns(story=story).filter(number=number).first()
        if shown is None:
            raise TurnRefused(f"There is no turn {number}.", code="not_found")
        if shown.status != Turn.Status.COMPLETED:
            raise TurnRefused(f"Turn {number} is {shown.status}: retry or undo it first.")
        try:
            prose, alternatives = version_chosen(shown.prose, shown.alternatives, version,
                                                 now=timezone.now().isoformat())
        except LookupError:
            raise TurnRefused(f"Turn {number} has versions 1 to {len(shown.alternatives) + 1}; "
                              f"{version} is not one of them.", code="invalid") from None
        if alternatives_numbered(shown.alternatives)[1] == version:
            return shown  # already the passage: nothing to write
        # A turn read from a snapshot has versions only once it has its override (a sync's "both").
        holder = selectors.turn_written(story=story, number=number)
        holder.prose, holder.alternatives = prose, alternatives
        if isinstance(holder, Turn):
            quota_accounting.turn_rewritten(user=user, story=story, turn=holder)
            holder.save(update_fields=["prose", "alternatives", "storage_bytes"])
            if not Turn.objects.filter(story=story, number__gt=number).exists():
                story.state = _state_after(story, holder)
                story.save(update_fields=["state", "updated_at"])
                # What the replaced passage told is forgotten; the Dreamer reads the chosen one anew.
                orchestrator.turn_told_forget(story_id=story.pk, turn_number=number, passage_only=True)
            queue_after_commit(dream_turn, str(user.pk), str(holder.pk))
        else:
            holder.save(update_fields=["prose", "alternatives", "updated_at"])
        return selectors.turn_get(story=story, number=number)


def turn_redo_number(*, story: Story) -> int | None:
    """The number of the undone turn a redo would bring back, if there is one."""
    number = selectors.turn_number_next(story=story)
    return number if UndoneTurn.objects.filter(story=story, number=number).exists() else None


def turn_redo(*, user, story_id) -> Turn:
    """Bring back the turn undone last (the one after the story's last turn) and the state it left."""
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story_id)
        undone = UndoneTurn.objects.filter(story=story, number=selectors.turn_number_next(story=story)).first()
        if undone is None:
            raise TurnRefused("There is no undone turn to redo.", code="not_found")
        fields = dict(undone.turn)
        for name in ("created_at", "completed_at"):
            fields[name] = parse_datetime(fields[name]) if fields.get(name) else None
        turn = Turn(user_id=story.user_id, story=story, **fields)
        turn.storage_bytes = quota_accounting.turn_text_bytes(turn)
        quota_accounting.story_add(user=user, story=story, delta=turn.storage_bytes)
        turn.save(force_insert=True)
        Turn.objects.filter(pk=turn.pk).update(created_at=fields["created_at"] or timezone.now())  # auto_now_add
        story.state = undone.state_after
        story.save(update_fields=["state", "updated_at"])
        orchestrator.turn_told_restore(story_id=story.pk, user_id=story.user_id,
                                       told={"knowledge": undone.knowledge, "chapter_progress": undone.chapter_progress})
        undone.delete()
        if turn.status == Turn.Status.COMPLETED:
            queue_after_commit(dream_turn, str(user.pk), str(turn.pk))  # its summary went with the undo
    return turn


@dataclass(frozen=True)
class ActionEdited:
    """What changing a turn's action did: the turn written again, and where its later turns went."""

    turn: Turn
    branch: Story | None = None
    kept_from: int | None = None
    kept_to: int | None = None


def turn_action_edit(*, user, story_id, number: int, action, on_text=None) -> ActionEdited:
    """Change the action of any of the story's own turns and write it again.

    The last turn is written again in place (its passage kept as an alternative). An earlier turn's
    later turns would no longer follow from it, so before they leave the story a branch keeps the
    whole story as it was (a story of the player's own based on a private snapshot, no turn copied,
    as the marketplace's branches are); the story then ends at the edited turn, which is written again.
    The model call runs outside any transaction (DESIGN §3)."""
    action = orchestrator.clean_action(action)
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story_id)
        turn = Turn.objects.filter(story=story, number=number).first()
        if turn is None:
            if selectors.story_turns(story=story).filter(number=number).exists():
                raise TurnRefused(f"Turn {number} comes from the story this one is based on: edit its text instead.")
            raise TurnRefused(f"There is no turn {number}.", code="not_found")
        later = list(Turn.objects.filter(story=story, number__gt=number).order_by("-number"))
        if not later:
            edited = None
        else:
            if story.user_id != user.pk:
                raise TurnRefused("Only the story's owner can change an earlier action: its later turns go to "
                                  "a branch of theirs.")
            unfinished = [row for row in [turn, *later] if row.status != Turn.Status.COMPLETED]
            if unfinished:
                raise TurnRefused(f"Turn {unfinished[0].number} is {unfinished[0].status}: "
                                  "retry or undo it before changing an earlier action.")
            last = later[0].number
            snapshot = snapshots.snapshot_create(user=user, story=story,
                                                 changelog=f"Kept before turn {number}'s action changed.")
            edited = snapshots.story_from_snapshot(
                user=user, snapshot=snapshot, at_turn=last,
                title=f"{story.title} (turns {number}–{last} before an edit)")
            for row in later:  # last first: each removal frees the arcs and snapshots that covered it
                quota_accounting.turn_remove(user=user, story=story, turn=row)
                row.delete()
            UndoneTurn.objects.filter(story=story).delete()
            story.state = turn.state_before
            story.save(update_fields=["state", "updated_at"])
        Turn.objects.filter(pk=turn.pk).update(action=action)
    turn.action = action
    written = orchestrator.turn_generate(user=user, turn=turn, on_text=on_text)
    if edited is None:
        return ActionEdited(turn=written)
    return ActionEdited(turn=written, branch=edited, kept_from=number, kept_to=later[0].number)
