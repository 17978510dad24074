"""What the chapters hand the writers' room: the active chapter as the Strategist sees it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.contracts import Contract


class ChapterBrief(Contract):
    """The active chapter as the Strategist sees it: its current version (authors' text is data)."""

    number: int
    title: str
    version: int
    narrative_instructions: str = ""
    beats: list[dict] = Field(default_factory=list)  # {"beat", "priority"} (chapters.beats)
    beats_addressed: list[str] = Field(default_factory=list)
    divergence: float = 0.0
    tier: Literal["none", "relax", "adapt", "alternate"] = "none"
