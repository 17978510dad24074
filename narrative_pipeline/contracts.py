"""The writers' room's contracts: plain typed values passed between the agents.

Validated with pydantic, testable without a database. LLM output is parsed into these and
nothing else: an invalid Strategist answer is a validation error, never a half-applied turn.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from chapters.contracts import ChapterBrief, KnowledgeBrief
from core.contracts import Contract, StoryState

MAX_ACTION_CHARS = 4_000
MAX_PROSE_CHARS = 50_000  # a passage, written by the model or rewritten by hand
Agent = Literal["preprocessor", "strategist", "writer", "dreamer"]


class PastTurn(Contract):
    number: int
    action: str
    prose: str


class RelevantTurn(Contract):
    number: int
    summary: str
    similarity: float


class TurnNote(Contract):
    """A past turn in the Dreamer's summary: the story so far since its arc, a line per turn."""

    number: int
    summary: str


class CharacterNote(Contract):
    name: str
    description: str = ""
    personality: str = ""
    is_player: bool = False
    latest_change: str = ""


class LoreNote(Contract):
    """A lore entry that fired this turn: world material written by authors (data, not instructions)."""

    book: str
    title: str = ""
    content: str
    reason: str = ""


class LoreSkipped(Contract):
    """A book's entries not checked this turn: the turn's lore time budget ran out, or a regex key was too slow.
    For the writers' room and the book's author; the agents do not see it (``StrategistBriefing.for_agents``)."""

    book: str
    entries: int
    titles: list[str] = Field(default_factory=list)  # the first few


class ChapterHealing(Contract):
    """A chapter the story moved away from, to be relaxed, adapted or replaced off the player's turn."""

    chapter_id: str
    tier: Literal["relax", "adapt", "alternate"]


class LoreCut(Contract):
    """An entry whose keys matched but that the writers did not get: its book's token budget, or the briefing's
    room for lore, was spent on more important entries. For the writers' room, not the agents."""

    book: str
    title: str = ""
    reason: str  # why it matched, then why it was cut


class StoryFacts(Contract):
    """What the context and the briefing both carry about the story and this turn."""

    title: str
    premise: str = ""
    genre: str = ""
    setting: str = ""
    memory: str = ""
    authors_note: str = ""
    state: StoryState = StoryState()
    turn_number: int
    action: str
    recent_turns: list[PastTurn] = Field(default_factory=list)
    relevant_turns: list[RelevantTurn] = Field(default_factory=list)
    arc_summaries: list[str] = Field(default_factory=list)
    turn_summaries: list[TurnNote] = Field(default_factory=list)  # the turns after the arc, before recent_turns
    characters: list[CharacterNote] = Field(default_factory=list)
    chapter: ChapterBrief | None = None
    lore: list[LoreNote] = Field(default_factory=list)
    lore_skipped: list[LoreSkipped] = Field(default_factory=list)
    lore_cut: list[LoreCut] = Field(default_factory=list)
    knowledge: KnowledgeBrief = KnowledgeBrief()  # per point of view (issue #20, chapters.knowledge)


class StoryContext(StoryFacts):
    """Everything the Preprocessor gathered for one turn, before it is cut to size, and the
    healing its chapter evaluation asks for (the orchestrator queues it; no agent sends tasks)."""

    story_id: str
    healing: ChapterHealing | None = None


class StrategistBriefing(StoryFacts):
    """What the Strategist sees: bounded in size whatever the story's length."""

    def for_agents(self) -> dict:
        """What the Strategist and the Writer are given: the briefing without the writers' room's report
        (lore not checked or cut, secrets withheld from whom)."""
        # A story without secrets or shared facts carries no knowledge section at all (its prompts stay as they were).
        knowledge = True if self.knowledge == KnowledgeBrief() else {"withheld"}
        return self.model_dump(exclude={"lore_skipped": True, "lore_cut": True, "knowledge": knowledge})

    def size(self) -> int:
        """Approximate tokens: characters of its JSON divided by four."""
        return len(self.model_dump_json()) // 4


class Beat(Contract):
    """One beat of a plan, in the shape of a chapter's beats (chapters.beats)."""

    beat: str = Field(min_length=1, max_length=500)
    priority: Literal["high", "medium", "low"] = "medium"


class StateUpdates(Contract):
    location: str | None = None
    items_gained: list[str] = Field(default_factory=list)
    items_lost: list[str] = Field(default_factory=list)
    characters_entering: list[str] = Field(default_factory=list)
    characters_leaving: list[str] = Field(default_factory=list)
    flags_set: list[str] = Field(default_factory=list)
    flags_cleared: list[str] = Field(default_factory=list)


class ResponseTemplate(Contract):
    """The Strategist's plan for the passage, as validated JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # LLMs add fields; we keep ours

    beats: list[Beat] = Field(min_length=1, max_length=8)
    tone: str = Field(default="steady", max_length=80)
    pacing: Literal["slow", "measured", "brisk", "urgent"] = "measured"
    target_length: int = Field(default=180, ge=40, le=1_200)
    state_updates: StateUpdates = StateUpdates()
    chapter_beats_addressed: list[str] = Field(default_factory=list)

    @field_validator("tone")
    @classmethod
    def tone_is_plain(cls, value: str) -> str:
        return value.strip() or "steady"


class TurnResult(Contract):
    turn_id: str
    number: int
    action: str
    prose: str
    status: Literal["pending", "completed", "failed"]
    error: str = ""


# The Dreamer's answers: what it read in a turn or a chapter, for ``dreams.py`` to store.

class TurnSummaryNote(Contract):
    """A turn in a sentence or two, and its embedding (the Preprocessor retrieves relevant past turns by it)."""

    summary: str
    embedding: list[float]


class ArcNote(Contract):
    """The story so far, folded up to ``last_turn``."""

    first_turn: int
    last_turn: int
    summary: str


class CharacterChange(Contract):
    """How a character is after a turn."""

    name: str
    turn_number: int
    summary: str


class ChapterDraft(Contract):
    """A chapter the Dreamer wrote: the next one to suggest, or one rewritten to heal (adapted, alternate)."""

    title: str = ""
    summary: str = ""
    narrative_instructions: str = ""
    suggested_beats: list[dict] = Field(default_factory=list)  # {"beat", "priority"}, checked


class Learned(Contract):
    """A character learned a fact in a turn (the Dreamer reads it from the prose; the turn is the evidence)."""

    character: str
    fact: str
