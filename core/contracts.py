"""The values the layers pass to each other: pydantic, frozen, testable without a database.

``StoryState`` is the story's state as the chapters read it (triggers, divergence, healing) and the pipeline
writes it; it lives here so that chapters, below the pipeline, can take it without importing the pipeline."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoryState(Contract):
    location: str = ""
    present_characters: list[str] = Field(default_factory=list)
    inventory: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    tracked: dict[str, str] = Field(default_factory=dict)  # named values a world tracks (Infinite Worlds)
