"""The Preprocessor: gathers the story's context for one turn and cuts it to a bounded briefing."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from pgvector.django import CosineDistance

from chapters import evaluation as chapter_evaluation
from chapters.lore import services as chapter_lore
from chapters.lore.macros import macros_filled
from core import embeddings

from ..contracts import (
    ChapterHealing,
    CharacterNote,
    LoreCut,
    LoreNote,
    LoreSkipped,
    PastTurn,
    RelevantTurn,
    StoryContext,
    StoryState,
    StrategistBriefing,
)
from ..models import CharacterSnapshot, Story, StoryArc, Turn, TurnSummary
from ..selectors import (
    BOOK_BUDGET_SPENT,
    BRIEFING_FULL,
    LORE_BUDGET,
    LORE_CHARS,
    briefing_lore_fits,
    cast_names,
    lore_recent_texts,
    story_turns,
)
from . import points_of_view

# Caps that keep the briefing's size independent of the story's length: per item, and per
# section, so a long story fills each section to the same budget as a story of twenty turns.
PROSE_CHARS, SUMMARY_CHARS, ARC_CHARS, NOTE_CHARS, MEMORY_CHARS, MAX_CHARACTERS = 1_200, 400, 900, 300, 2_000, 12
MAX_LORE_CUT = 20  # the writers' room lists this many cut entries at most (the briefing stays bounded)
LONG_MEMORY_BUDGET = 1_600  # the story so far, then the most relevant older turns


def build_context(*, story: Story, action: str, turn_number: int) -> StoryContext:
    """Read what the writers' room needs, and evaluate the story's chapters.

    Runs as the story's owner inside ``acting_as``; a chapter that needs healing comes back as
    the context's ``healing``, for the caller to queue.
    """
    state = StoryState(**story.state)
    # One embedding of the moment (the action where it happens) serves retrieval and chapters.
    moment = embeddings.embed_moment(state, action=action)
    chapter, heal = chapter_evaluation.evaluate_turn(story_id=story.pk, user_id=story.user_id, state=state,
                                                     turn_number=turn_number, state_vector=moment)
    recent = list(story_turns(story=story).filter(number__lt=turn_number, status=Turn.Status.COMPLETED,
                                                  number__gte=recent_window_start(turn_number))
                  .order_by("number").values("number", "action", "prose"))
    lore = chapter_lore.lore_for_turn(story_id=story.pk, action=action, seed=f"{story.pk}:{turn_number}",
                                      recent=lore_recent_texts(story=story, before=turn_number))
    oldest_recent = recent[0]["number"] if recent else turn_number
    # The latest arc is the story so far (each arc folds in the one before), so one is enough.
    arcs = list(StoryArc.objects.filter(story=story, last_turn__lt=turn_number)
                .order_by("-first_turn").values_list("summary", flat=True)[:1])
    names = cast_names(story=story)  # a card's macros, filled wherever the writers read them
    # Who knows what (issue #20): secrets reach the agents only in their knowers' blocks, marked for the narrator.
    knowledge = points_of_view.knowledge_for(story=story, state=state, turn_number=turn_number)
    return StoryContext(
        story_id=str(story.pk), title=story.title, premise=macros_filled(story.premise, **names), genre=story.genre,
        setting=macros_filled(story.setting, **names), memory=macros_filled(story.memory, **names),
        authors_note=macros_filled(story.authors_note, **names),
        state=state, turn_number=turn_number, action=action,
        recent_turns=[PastTurn(**row) for row in recent],
        relevant_turns=_relevant_turns(story, moment, before=oldest_recent),
        arc_summaries=arcs,
        characters=points_of_view.characters_told(_characters(story, names), knowledge),
        chapter=chapter,
        lore=points_of_view.lore_told(_lore_notes(lore.fired, names), knowledge),
        knowledge=knowledge,
        lore_skipped=[LoreSkipped(book=skip.book, entries=skip.entries, titles=skip.titles) for skip in lore.skipped],
        lore_cut=[LoreCut(book=hit.book, title=hit.title, reason=f"{hit.reason}; {BOOK_BUDGET_SPENT}")
                  for hit in lore.cut],
        healing=heal and ChapterHealing(chapter_id=str(heal[0]), tier=heal[1]),
    )


def recent_window_start(turn_number: int, block: int | None = None) -> int:
    """The first turn the briefing quotes in full. The window ends at the turn before ``turn_number`` and starts
    at a block boundary (blocks of ``BRIEFING_RECENT_TURNS``) at least a block back: it grows by a turn each turn
    and moves on a whole block at a time, holding between one block and two blocks less one of turns. So the
    prose already in the prompt stays the prompt's prefix from turn to turn (provider prompt caches hit), except
    once a block, instead of shifting by one turn every turn."""
    block = block or settings.BRIEFING_RECENT_TURNS
    return max(1, block * ((turn_number - 1 - block) // block) + 1)


def _lore_notes(fired, names: dict[str, str]) -> list[LoreNote]:
    """Fired entries as briefing notes, with the card macros ``{{user}}`` and ``{{char}}`` filled in."""
    return [LoreNote(book=hit.book, title=hit.title, content=macros_filled(hit.content, **names), reason=hit.reason)
            for hit in fired]


def _relevant_turns(story: Story, moment: list[float], *, before: int) -> list[RelevantTurn]:
    """The past turns (older than the recent ones) nearest in meaning to this moment, by pgvector."""
    candidates = TurnSummary.objects.filter(story=story, number__lt=before)
    if not candidates.exists():
        return []
    with connection.cursor() as cursor:
        # A filtered HNSW scan can return fewer than k rows without this (DESIGN §6).
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    rows = (candidates.annotate(distance=CosineDistance("embedding", moment))
            .order_by("distance").values("number", "summary", "distance")[: settings.BRIEFING_RELEVANT_TURNS])
    return [RelevantTurn(number=row["number"], summary=row["summary"],
                         similarity=round(max(0.0, 1 - row["distance"]), 4)) for row in rows]


def _characters(story: Story, names: dict[str, str]) -> list[CharacterNote]:
    notes = []
    for character in story.characters.all()[:MAX_CHARACTERS]:
        latest = (CharacterSnapshot.objects.filter(character=character).order_by("-turn_number")
                  .values_list("summary", flat=True).first())
        notes.append(CharacterNote(name=character.name, description=macros_filled(character.description, **names),
                                   personality=macros_filled(character.personality, **names), is_player=character.is_player,
                                   latest_change=latest or ""))
    return notes


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _recent_cut(turns: list[PastTurn]) -> list[PastTurn]:
    """Each turn cut on its own (never by what came after it), so a turn reads the same in every briefing that
    quotes it; the window's length (``recent_window_start``) bounds the section."""
    return [PastTurn(number=turn.number, action=_cut(turn.action, NOTE_CHARS), prose=_cut(turn.prose, PROSE_CHARS))
            for turn in turns]


def _long_memory_within_budget(arcs: list[str], relevant: list[RelevantTurn]):
    story_so_far = [_cut(summary, ARC_CHARS) for summary in arcs]
    left = LONG_MEMORY_BUDGET - sum(len(summary) for summary in story_so_far)
    kept = []
    for turn in relevant:  # most similar first
        if left < 80:
            break
        summary = _cut(turn.summary, min(SUMMARY_CHARS, left))
        kept.append(RelevantTurn(number=turn.number, summary=summary, similarity=turn.similarity))
        left -= len(summary)
    return story_so_far, kept


def _lore_within_budget(notes: list[LoreNote]) -> list[LoreNote]:
    kept, left = [], LORE_BUDGET
    for note in notes[: briefing_lore_fits([note.content for note in notes])]:
        content = _cut(note.content, min(LORE_CHARS, left))
        kept.append(note.model_copy(update={"content": content, "title": _cut(note.title, NOTE_CHARS)}))
        left -= len(content)
    return kept


def _lore_cut(context: StoryContext) -> list[LoreCut]:
    """The entries that matched but did not reach the writers: cut by their book's budget, or by the briefing's."""
    fits = briefing_lore_fits([note.content for note in context.lore])
    over = [LoreCut(book=note.book, title=note.title, reason=f"{note.reason}; {BRIEFING_FULL}")
            for note in context.lore[fits:]]
    return [cut.model_copy(update={"book": _cut(cut.book, NOTE_CHARS), "title": _cut(cut.title, NOTE_CHARS)})
            for cut in context.lore_cut + over][:MAX_LORE_CUT]


def brief(context: StoryContext) -> StrategistBriefing:
    """Cut the context to the briefing: every part capped, so its size does not grow with the story."""
    arcs, relevant = _long_memory_within_budget(context.arc_summaries, context.relevant_turns)
    return StrategistBriefing(
        title=context.title, premise=_cut(context.premise, MEMORY_CHARS), genre=context.genre,
        setting=_cut(context.setting, MEMORY_CHARS), memory=_cut(context.memory, MEMORY_CHARS),
        authors_note=_cut(context.authors_note, NOTE_CHARS * 2), state=context.state,
        turn_number=context.turn_number, action=context.action,
        recent_turns=_recent_cut(context.recent_turns),
        relevant_turns=relevant,
        arc_summaries=arcs,
        characters=[CharacterNote(name=c.name, description=_cut(c.description, NOTE_CHARS),
                                  personality=_cut(c.personality, NOTE_CHARS), is_player=c.is_player,
                                  latest_change=_cut(c.latest_change, NOTE_CHARS)) for c in context.characters],
        chapter=context.chapter and context.chapter.model_copy(update={
            "narrative_instructions": _cut(context.chapter.narrative_instructions, MEMORY_CHARS),
            "beats": context.chapter.beats[:8]}),
        lore=_lore_within_budget(context.lore),
        lore_skipped=[skip.model_copy(update={"book": _cut(skip.book, NOTE_CHARS),
                                              "titles": [_cut(title, NOTE_CHARS) for title in skip.titles]})
                      for skip in context.lore_skipped],
        lore_cut=_lore_cut(context),
        knowledge=context.knowledge,
    )
