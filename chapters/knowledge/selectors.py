"""Reads of the story's knowledge (callers run inside ``acting_as``)."""

from __future__ import annotations

from ..models import Knowledge
from .rules import Fact, Member, knows


def knowledge_list(*, story_id):
    return Knowledge.objects.filter(story_id=story_id).order_by("id")


def knowledge_get(*, story_id, knowledge_id) -> Knowledge | None:
    return Knowledge.objects.filter(story_id=story_id, pk=knowledge_id).first()


def knowledge_known_to(*, story_id, member: Member) -> list[Knowledge]:
    """The facts ``member`` knows now: common knowledge, revealed secrets and its own, never another's secret."""
    return [row for row in knowledge_list(story_id=story_id)
            if knows(Fact(id=row.pk, text=row.fact, known_by=tuple(row.known_by),
                          revealed=row.revealed_at_turn is not None), member)]


def knowledge_told_in(*, story_id, turn_number: int) -> dict:
    """What turn ``turn_number`` did to who knows what, read from the facts as they are now, whoever did it (the
    Preprocessor's conditions, a beat the Dreamer read in the passage, the author by hand): ``revealed``, the facts
    revealed in it; ``learned``, (who, fact) for each character its prose taught a fact."""
    rows = list(knowledge_list(story_id=story_id))
    return {"revealed": [row.fact for row in rows if row.revealed_at_turn == turn_number],
            "learned": [(who, row.fact) for row in rows for who, turn in row.learned_at.items() if turn == turn_number]}
