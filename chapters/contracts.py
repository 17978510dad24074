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
