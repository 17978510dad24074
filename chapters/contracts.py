"""What the chapters hand the writers' room: the chapter the story is heading to, as the Strategist sees it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.contracts import Contract


class ChapterBrief(Contract):
    """The active chapter as the Strategist sees it (its current version; authors' text is data), or the
    upcoming one being nudged toward the player, by title and hook only."""

    status: Literal["upcoming", "active"] = "active"
    number: int
    title: str
    version: int
    narrative_instructions: str = ""
    beats: list[dict] = Field(default_factory=list)  # {"beat", "priority"} (chapters.beats)
    beats_addressed: list[str] = Field(default_factory=list)
    divergence: float = 0.0
    divergence_parts: dict = Field(default_factory=dict)  # Divergence.as_dict(): hard, soft, unmet, similarity, ...
    tier: Literal["none", "nudge", "relax", "adapt", "alternate"] = "none"  # the healing ladder's rung in force
    nudge: str = ""  # a hook that brings the chapter toward the player, while it is being nudged
    healing: Literal["", "nudge", "relax", "adapt", "alternate"] = ""  # the rung triggered this turn


# Who knows what (issue #20, ``chapters.knowledge``): the briefing per point of view.

class CharacterKnowledge(Contract):
    """What one character in the scene knows beyond common knowledge: its lines and acts are planned from this."""

    name: str
    knows: list[str] = Field(default_factory=list)


class SecretNote(Contract):
    """A secret, for the narrator only: it may foreshadow it, never state it."""

    fact: str
    known_by: list[str] = Field(default_factory=list)
    note: str = ""


class WithheldSecret(Contract):
    """A secret kept from characters in the scene this turn (the writers' room shows it; agents do not see it)."""

    knowledge_id: int
    label: str
    withheld_from: list[str] = Field(default_factory=list)


class KnowledgeBrief(Contract):
    common: list[str] = Field(default_factory=list)  # everyone knows these (including revealed secrets)
    characters: list[CharacterKnowledge] = Field(default_factory=list)
    secrets: list[SecretNote] = Field(default_factory=list)
    withheld: list[WithheldSecret] = Field(default_factory=list)
    revealed: list[str] = Field(default_factory=list)  # secrets that became common knowledge this turn
