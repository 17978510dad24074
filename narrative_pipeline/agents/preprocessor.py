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
    TurnNote,
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
    window_start = recent_window_start(turn_number)
    recent = list(story_turns(story=story).filter(number__lt=turn_number, status=Turn.Status.COMPLETED,
                                                  number__gte=window_start)
                  .order_by("number").values("number", "action", "prose"))
    lore = chapter_lore.lore_for_turn(story_id=story.pk, action=action, seed=f"{story.pk}:{turn_number}",
                                      recent=lore_recent_texts(story=story, before=turn_number))
    # The story so far: the Dreamer's latest arc up to the batch boundary (each arc folds in the one before, so one
    # is enough), then every turn summary after it up to the quoted turns, appended as the window moves on.
    arc = (StoryArc.objects.filter(story=story, last_turn__lte=summaries_batch_start(window_start))
           .order_by("-last_turn").values("last_turn", "summary").first())
    summaries = list(TurnSummary.objects.filter(story=story, number__gt=arc["last_turn"] if arc else 0,
                                                number__lt=window_start)
                     .order_by("number").values("number", "summary"))
    names = cast_names(story=story)  # a card's macros, filled wherever the writers read them
    # Who knows what (issue #20): secrets reach the agents only in their knowers' blocks, marked for the narrator.
    knowledge = points_of_view.knowledge_for(story=story, state=state, turn_number=turn_number)
    return StoryContext(
        story_id=str(story.pk), title=story.title, premise=macros_filled(story.premise, **names), genre=story.genre,
        setting=macros_filled(story.setting, **names), memory=macros_filled(story.memory, **names),
        authors_note=macros_filled(story.authors_note, **names),
        state=state, turn_number=turn_number, action=action,
        recent_turns=[PastTurn(**row) for row in recent],
        relevant_turns=_relevant_turns(story, moment, before=window_start),
        arc_summaries=[arc["summary"]] if arc else [],
        turn_summaries=[TurnNote(**row) for row in summaries],
        characters=points_of_view.characters_told(_characters(story, names), knowledge),
        chapter=chapter,
        lore=points_of_view.lore_told(_lore_notes(lore.fired, names), knowledge),
        knowledge=knowledge,
        lore_skipped=[LoreSkipped(book=skip.book, entries=skip.entries, titles=skip.titles) for skip in lore.skipped],
        lore_cut=[LoreCut(book=hit.book, title=hit.title, reason=f"{hit.reason}; {BOOK_BUDGET_SPENT}")
                  for hit in lore.cut],
        healing=heal and ChapterHealing(chapter_id=str(heal[0]), tier=heal[1]),
    )


def recent_window_start(turn_number: int, *, least: int | None = None, block: int | None = None) -> int:
    """The first turn the briefing quotes in full. The window ends at the turn before ``turn_number``, holds at
    least ``least`` turns (``BRIEFING_RECENT_TURNS``) and starts at a block boundary (blocks of
    ``BRIEFING_RECENT_BLOCK_TURNS``): it grows by a turn each turn and moves on a whole block at a time. So the
    prose already in the prompt stays the prompt's prefix from turn to turn (provider prompt caches hit), except
    once a block, instead of shifting by one turn every turn."""
    least = settings.BRIEFING_RECENT_TURNS if least is None else least
    block = block or settings.BRIEFING_RECENT_BLOCK_TURNS
    return max(1, block * ((turn_number - 1 - least) // block) + 1)


def summaries_batch_start(window_start: int, *, batch: int | None = None) -> int:
    """The last turn the story so far holds only as the Dreamer's arc; the turns after it, up to the quoted window,
    are listed one summary each. It moves on ``BRIEFING_SUMMARY_BATCH_TURNS`` at a time (a multiple of
    ``ARC_INTERVAL_TURNS``, where an arc ends), so the list is appended to as the window moves and rewritten only
    once a batch, and holds fewer than a batch and a block of summaries."""
    batch = batch or settings.BRIEFING_SUMMARY_BATCH_TURNS
    return batch * ((window_start - 1) // batch)


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


def _long_memory_within_budget(arcs: list[str], summaries: list[TurnNote], relevant: list[RelevantTurn]):
    """The story so far (the arc and each turn summary cut on its own, so a summary reads the same in every
    briefing that lists it), then the most relevant older turns: those the story so far lists come as it lists
    them, the others within what the arc left of the budget."""
    story_so_far = [_cut(summary, ARC_CHARS) for summary in arcs]
    listed = [TurnNote(number=note.number, summary=_cut(note.summary, SUMMARY_CHARS)) for note in summaries]
    listed_summary = {note.number: note.summary for note in listed}
    left = LONG_MEMORY_BUDGET - sum(len(summary) for summary in story_so_far)
    kept = []
    for turn in relevant:  # most similar first
        if turn.number in listed_summary:
            kept.append(turn.model_copy(update={"summary": listed_summary[turn.number]}))
        elif left >= 80:
            summary = _cut(turn.summary, min(SUMMARY_CHARS, left))
            kept.append(RelevantTurn(number=turn.number, summary=summary, similarity=turn.similarity))
            left -= len(summary)
    return story_so_far, listed, kept


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
    arcs, summaries, relevant = _long_memory_within_budget(context.arc_summaries, context.turn_summaries,
                                                           context.relevant_turns)
    return StrategistBriefing(
        title=context.title, premise=_cut(context.premise, MEMORY_CHARS), genre=context.genre,
        setting=_cut(context.setting, MEMORY_CHARS), memory=_cut(context.memory, MEMORY_CHARS),
        authors_note=_cut(context.authors_note, NOTE_CHARS * 2), state=context.state,
        turn_number=context.turn_number, action=context.action,
        recent_turns=_recent_cut(context.recent_turns),
        relevant_turns=relevant,
        arc_summaries=arcs,
        turn_summaries=summaries,
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
