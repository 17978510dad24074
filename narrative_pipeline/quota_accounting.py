"""Storage accounting: every byte a story's turns, summaries and arcs take counts against the
owner's quota and on the story, and what belongs to a turn also on the turn, so deleting it
releases exactly that. All functions run inside the owner's ``acting_as``."""

from __future__ import annotations

import json

from django.db.models import F, Value
from django.db.models.functions import Greatest

from accounts.quotas import quota_check

from .models import CharacterSnapshot, Story, StoryArc, Turn, TurnSummary

EMBEDDING_BYTES = 384 * 4


def _grown(field: str, delta: int):
    return Greatest(F(field) + delta, Value(0))


def story_add(*, user, story: Story, delta: int) -> None:
    """Count ``delta`` bytes for the story; raises ``QuotaExceeded`` over the storage limit.

    The story row is locked before the usage row, the order every writer keeps."""
    Story.objects.filter(pk=story.pk).update(storage_bytes=_grown("storage_bytes", delta))
    quota_check(user, storage_bytes=delta)


def _delete_counting(queryset) -> int:
    """Delete rows with a ``summary`` text; the bytes those texts took."""
    freed = sum(len(summary.encode()) for summary in queryset.values_list("summary", flat=True))
    queryset.delete()
    return freed


def turn_text_bytes(turn: Turn) -> int:
    parts = [turn.action, turn.prose, json.dumps(turn.briefing or {}), json.dumps(turn.template or {}),
             json.dumps(turn.alternatives)]
    return sum(len(part.encode()) for part in parts)


def turn_rewritten(*, user, story: Story, turn: Turn) -> None:
    """The turn has a new passage: its old summary and snapshots go (the Dreamer writes them
    anew) and the turn's bytes are counted again. ``turn`` is saved by the caller."""
    TurnSummary.objects.filter(turn=turn).delete()  # its bytes are within turn.storage_bytes
    snapshot_bytes = _delete_counting(CharacterSnapshot.objects.filter(story=story, turn_number=turn.number))
    current = turn_text_bytes(turn)
    story_add(user=user, story=story, delta=current - turn.storage_bytes - snapshot_bytes)
    turn.storage_bytes = current


def dreamer_added(*, user, story: Story, turn: Turn | None, text: str, embedded: bool = False) -> None:
    """The Dreamer stored ``text`` (a summary, an arc, a snapshot) for the story or one turn."""
    delta = len(text.encode()) + (EMBEDDING_BYTES if embedded else 0)
    story_add(user=user, story=story, delta=delta)
    if turn is not None:
        Turn.objects.filter(pk=turn.pk).update(storage_bytes=_grown("storage_bytes", delta))


def turn_remove(*, user, story: Story, turn: Turn) -> None:
    """Release the turn's bytes and those of the arcs that covered it, which are deleted too."""
    freed = _delete_counting(StoryArc.objects.filter(story=story, last_turn__gte=turn.number))
    freed += _delete_counting(CharacterSnapshot.objects.filter(story=story, turn_number__gte=turn.number))
    story_add(user=user, story=story, delta=-(Turn.objects.get(pk=turn.pk).storage_bytes + freed))
