"""Chapter evaluation for one turn (called by the Preprocessor, as the story's owner).

Which chapters are available (prerequisites), which activates (conditions), the active
chapter's divergence and the healing tier it calls for; the healing itself is queued for
the Dreamer and never blocks the turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings

from core.contracts import StoryState

from .beats import beat_text, high_beats
from .contracts import ChapterBrief
from .divergence import Divergence, Tier, divergence, tier
from .models import ChapterProgress, ChapterVersion, StoryChapter
from .triggers import evaluate, prerequisites_met


@dataclass(frozen=True)
class ChapterView:
    """One chapter's situation for a given state: what preview shows and the Preprocessor uses."""

    chapter: StoryChapter
    version: int
    conditions: dict
    instructions: str
    beats: list[dict]
    available: bool
    active: bool
    completed: bool
    activates: bool
    divergence: Divergence
    tier: Tier


def current_version(chapter: StoryChapter) -> ChapterVersion | None:
    return chapter.versions.order_by("-number").first()


def similarity(chapter: StoryChapter, state_vector) -> float:
    if chapter.expected_embedding is None or state_vector is None:
        return 1.0  # nothing to compare: the soft part does not count against the player
    return float(np.dot(np.asarray(chapter.expected_embedding), np.asarray(state_vector)))


def score(chapter: StoryChapter, state: StoryState, turn_number: int, state_vector):
    """The chapter's current version, its conditions as evaluated, and its divergence."""
    version = current_version(chapter)
    conditions = (version or chapter).trigger_conditions
    result = evaluate(conditions, state, turn_number, critical=chapter.critical)
    return version, conditions, result, divergence(result, similarity(chapter, state_vector))


def _view(chapter: StoryChapter, row: ChapterProgress | None, completed: set[int], state: StoryState,
          turn_number: int, state_vector) -> ChapterView:
    version, conditions, result, scored = score(chapter, state, turn_number, state_vector)
    return ChapterView(
        chapter=chapter, version=version.number if version else 0, conditions=conditions,
        instructions=(version or chapter).narrative_instructions, beats=(version or chapter).suggested_beats,
        available=prerequisites_met(chapter.required_previous_chapters, chapter.blocked_by, completed)
        and chapter.number not in completed,
        active=row is not None and row.status == ChapterProgress.Status.ACTIVE,
        completed=chapter.number in completed,
        activates=result.all_met,
        divergence=scored,
        tier=tier(scored, threshold=chapter.min_similarity_threshold, allow_divergence=chapter.allow_divergence),
    )


def _progress(story_id) -> tuple[dict, set[int]]:
    rows = {row.chapter_id: row for row in ChapterProgress.objects.filter(story_id=story_id).select_related("chapter")}
    completed = {row.chapter.number for row in rows.values() if row.status == ChapterProgress.Status.COMPLETED}
    return rows, completed


def chapter_views(*, story_id, state: StoryState, turn_number: int, state_vector=None) -> list[ChapterView]:
    """Every chapter's situation in a state (the preview)."""
    return _views(story_id, *_progress(story_id), state, turn_number, state_vector)


def _views(story_id, rows: dict, completed: set[int], state, turn_number, state_vector) -> list[ChapterView]:
    return [_view(chapter, rows.get(chapter.pk), completed, state, turn_number, state_vector)
            for chapter in StoryChapter.objects.filter(story_id=story_id).order_by("number")]


def _current(story_id, rows: dict, completed: set[int]) -> StoryChapter | None:
    """The chapter the story is heading to: the active one, else the first available one.

    Reads only the prerequisites of chapters not completed, in order, and stops at the first
    available one, so a turn's cost does not grow with the number of chapters."""
    active = next((row.chapter for row in rows.values() if row.status == ChapterProgress.Status.ACTIVE), None)
    if active is not None:
        return active
    candidates = (StoryChapter.objects.filter(story_id=story_id).exclude(number__in=completed).order_by("number")
                  .only("pk", "number", "required_previous_chapters", "blocked_by"))
    for candidate in candidates.iterator(chunk_size=50):
        if prerequisites_met(candidate.required_previous_chapters, candidate.blocked_by, completed):
            return StoryChapter.objects.get(pk=candidate.pk)
    return None


def evaluate_turn(*, story_id, user_id, state: StoryState, turn_number: int, state_vector=None):
    """Score the chapter the story is heading to (the active one, else the next available) and
    activate it when its conditions are met.

    Returns the ``ChapterBrief`` for the briefing (None until a chapter is active) and the
    healing to queue, ``(chapter_id, tier)`` or None, which the caller queues once it commits.
    """
    rows, completed = _progress(story_id)
    chapter = _current(story_id, rows, completed)
    if chapter is None:
        return None, None
    current = _view(chapter, rows.get(chapter.pk), completed, state, turn_number, state_vector)
    row, _ = ChapterProgress.objects.select_for_update().get_or_create(
        user_id=user_id, chapter=current.chapter, story_id=story_id, defaults={"upcoming_turn": turn_number})
    if row.status == ChapterProgress.Status.UPCOMING and current.activates:
        row.status, row.activated_turn = ChapterProgress.Status.ACTIVE, turn_number
    row.divergence_score = round(current.divergence.score, 4)
    # A chapter not reached yet gets some turns for the player to get there before it heals.
    waiting = row.status == ChapterProgress.Status.UPCOMING and turn_number - row.upcoming_turn < settings.CHAPTER_GRACE_TURNS
    current_tier = "none" if waiting else current.tier
    heal = None
    if current_tier != "none" and current_tier != row.healing_tier:
        row.healing_tier = current_tier  # one healing per tier reached, not one per turn
        heal = (current.chapter.pk, current_tier)
    elif current_tier == "none":
        row.healing_tier = ""
    row.save()
    if row.status != ChapterProgress.Status.ACTIVE:
        return None, heal
    return _brief(current, row.beats_addressed, current_tier), heal


def _brief(view: ChapterView, beats_addressed: list[str], shown_tier: Tier) -> ChapterBrief:
    return ChapterBrief(number=view.chapter.number, title=view.chapter.title, version=view.version,
                        narrative_instructions=view.instructions, beats=view.beats, beats_addressed=beats_addressed,
                        divergence=round(view.divergence.score, 4), tier=shown_tier)


def preview(*, story_id, state: StoryState, turn_number: int, state_vector=None):
    """Every chapter's situation and what the Strategist would see, changing nothing."""
    rows, completed = _progress(story_id)
    views = _views(story_id, rows, completed, state, turn_number, state_vector)
    chapter = _current(story_id, rows, completed)
    view = next((v for v in views if chapter is not None and v.chapter.pk == chapter.pk), None)
    row = rows.get(chapter.pk) if chapter is not None else None
    brief = _brief(view, row.beats_addressed if row else [], view.tier) if view and (view.active or view.activates) \
        else None
    return views, brief


def record_beats_addressed(*, story_id, chapter_number: int, turn_number: int,
                           carried: list[str]) -> ChapterProgress | None:
    """The beats of chapter ``chapter_number`` the Dreamer confirmed a turn's passage carried (read from the
    prose, not from the plan); once all its high-priority beats are confirmed the chapter completes."""
    row = ChapterProgress.objects.select_for_update().filter(
        story_id=story_id, chapter__number=chapter_number, status=ChapterProgress.Status.ACTIVE).first()
    if row is None:
        return None  # completed or healed away meanwhile
    beats = (current_version(row.chapter) or row.chapter).suggested_beats
    known = {beat_text(beat) for beat in beats}
    row.beats_addressed = sorted(set(row.beats_addressed) | (set(carried) & known))
    required = set(high_beats(beats))
    if required and required <= set(row.beats_addressed):
        row.status = ChapterProgress.Status.COMPLETED
        row.completed_turn = turn_number
        healed = row.adaptation_count or row.chapter.versions.filter(created_by="dreamer").exists()
        row.completion_method = (ChapterProgress.Method.DIVERGED_ALTERNATE if row.chapter.alternate_of_id
                                 else ChapterProgress.Method.ADAPTED if healed
                                 else ChapterProgress.Method.NATURAL)
    row.save()
    return row


def heading_to(*, story_id) -> StoryChapter | None:
    """The chapter the story is heading to now, or None when none is left."""
    rows, completed = _progress(story_id)
    return _current(story_id, rows, completed)
