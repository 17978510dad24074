"""What the chapters hand the writers' room: the active chapter as the Strategist sees it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.contracts import Contract


class ChapterBrief(Contract):
    """The chapter the Strategist is given: its current version (authors' text is data), whether it has
    begun, how far the story is from it and what healing that called for."""

    number: int
    title: str
    version: int
    status: Literal["upcoming", "active"] = "active"
    narrative_instructions: str = ""
    beats: list[dict] = Field(default_factory=list)  # {"beat", "priority"} (chapters.beats)
    beats_addressed: list[str] = Field(default_factory=list)
    nudge: str = ""  # a hook that brings an upcoming chapter toward the player (the ladder's first rung)
    divergence: float = 0.0
    divergence_parts: dict = Field(default_factory=dict)  # Divergence.as_dict(): score, hard, soft, unmet, …
    tier: Literal["none", "nudge", "relax", "adapt", "alternate"] = "none"
    healing: str = ""  # the rung this turn triggered, "" when none
