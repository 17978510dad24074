"""Reads of the story's knowledge (callers run inside ``acting_as``)."""

from __future__ import annotations

from ..models import Knowledge


def knowledge_list(*, story_id):
    return Knowledge.objects.filter(story_id=story_id).order_by("id")


def knowledge_get(*, story_id, knowledge_id) -> Knowledge | None:
    return Knowledge.objects.filter(story_id=story_id, pk=knowledge_id).first()
