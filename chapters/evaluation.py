"""Chapter evaluation for one turn (called by the Preprocessor, as the story's owner).

Which chapters are available (prerequisites), which activates (conditions), the divergence of the
chapter the story is heading to, and the healing ladder's next step for it (``ladder.py``): a nudge
goes into the turn's briefing; relax, adapt and alternate are queued for the Dreamer and never
block the turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction

from core.contracts import StoryState

from . import ladder
from .beats import beat_text, high_beats
from .contracts import ChapterBrief
from .divergence import Divergence, Tier, divergence, tier
from .models import ChapterDivergenceLog, ChapterProgress, ChapterVersion, StoryChapter
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
    """Score the chapter the story is heading to (the active one, else the next available), activate
    it when its conditions are met, and take the healing ladder's next step (``ladder.climb``).

    Returns the ``ChapterBrief`` for the briefing (the active chapter, or the upcoming one while it
    is nudged; else None) and the healing to queue, ``(chapter_id, rung)`` for relax, adapt or
    alternate, or None, which the caller queues once it commits. A nudge needs no worker: its hook
    goes into this turn's briefing and is logged here.
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
    step = ladder.climb(tier=current.tier, impossible=bool(current.divergence.impossible),
                        last_rung=row.healing_rung, last_turn=row.healing_turn, since=row.upcoming_turn,
                        turn_number=turn_number, grace=settings.CHAPTER_GRACE_TURNS)
    row.healing_rung, row.healing_turn = step.rung, step.applied_turn
    row.save()
    hook = ladder.nudge_hook(title=current.chapter.title, conditions=current.conditions,
                             unmet=current.divergence.unmet, state=state) if step.rung else ""
    if step.healing == "nudge":
        ChapterDivergenceLog.objects.create(
            user_id=user_id, chapter=current.chapter, story_id=story_id, turn_number=turn_number,
            score=round(current.divergence.score, 4), breakdown=current.divergence.as_dict(), strategy="nudge",
            reason=f"Nudged: unmet {', '.join(current.divergence.unmet) or 'nothing'}.", changes={"hook": hook})
    heal = (current.chapter.pk, step.rung) if step.healing not in ("", "nudge") else None
    if row.status != ChapterProgress.Status.ACTIVE and not step.rung:
        return None, heal
    return _brief(current, row, step, hook), heal


def _brief(view: ChapterView, row: ChapterProgress | None, step: ladder.Step, hook: str) -> ChapterBrief:
    """The active chapter in full; an upcoming one by title and its nudge only."""
    active = view.active or (row is not None and row.status == ChapterProgress.Status.ACTIVE) or view.activates
    return ChapterBrief(
        status="active" if active else "upcoming", number=view.chapter.number, title=view.chapter.title,
        version=view.version, narrative_instructions=view.instructions if active else "",
        beats=view.beats if active else [], beats_addressed=row.beats_addressed if active and row else [],
        divergence=round(view.divergence.score, 4), divergence_parts=view.divergence.as_dict(),
        tier=step.rung or "none", nudge=hook, healing=step.healing)


def preview(*, story_id, state: StoryState, turn_number: int, state_vector=None):
    """Every chapter's situation and what the Strategist would see, changing nothing."""
    rows, completed = _progress(story_id)
    views = _views(story_id, rows, completed, state, turn_number, state_vector)
    chapter = _current(story_id, rows, completed)
    view = next((v for v in views if chapter is not None and v.chapter.pk == chapter.pk), None)
    row = rows.get(chapter.pk) if chapter is not None else None
    in_force = ladder.Step(rung=row.healing_rung if row else "", applied_turn=None, triggered=False)
    brief = _brief(view, row, in_force, "") if view and (view.active or view.activates) else None
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
    told = (set(carried) & {beat_text(beat) for beat in beats}) - set(row.beats_addressed)
    row.beats_addressed = sorted(set(row.beats_addressed) | told)
    row.beats_told_at = {**row.beats_told_at, **{beat: turn_number for beat in told}}  # an undo unticks them
    required = set(high_beats(beats))
    if required and required <= set(row.beats_addressed):
        row.status = ChapterProgress.Status.COMPLETED
        row.completed_turn = turn_number
        row.completion_method = completion_method(row.chapter)
    row.save()
    return row


PROGRESS_KEPT_FIELDS = ("chapter_id", "status", "upcoming_turn", "activated_turn", "completed_turn", "completion_method",
                        "divergence_score", "adaptation_count", "beats_addressed", "beats_told_at", "healing_rung",
                        "healing_turn")


@transaction.atomic
def progress_turn_undo(*, story_id, turn_number: int, passage_only: bool = False) -> list[dict]:
    """Take back what turn ``turn_number`` (and any later one) did to the chapters' progress, as its undo: the
    beats its passage told are unticked and a chapter completed in it is under way again; a chapter it began is
    upcoming again, one it started heading to is not yet headed to. ``passage_only``: only what its passage did
    (the beats, and the completion they made), as when the passage is replaced. Returns the progress as it was,
    for ``progress_turn_redo``."""
    kept = []
    for row in ChapterProgress.objects.select_for_update().filter(story_id=story_id).order_by("id"):
        untold = {beat for beat, turn in row.beats_told_at.items() if turn >= turn_number}
        reopened = bool(untold) and (row.completed_turn or 0) >= turn_number
        started = not passage_only and (row.activated_turn or 0) >= turn_number
        headed = not passage_only and row.upcoming_turn >= turn_number
        if not (untold or started or headed):
            continue
        kept.append({"id": row.pk, **{name: getattr(row, name) for name in PROGRESS_KEPT_FIELDS}})
        if headed:
            row.delete()
            continue
        row.beats_addressed = [beat for beat in row.beats_addressed if beat not in untold]
        row.beats_told_at = {beat: turn for beat, turn in row.beats_told_at.items() if beat not in untold}
        if reopened or started:
            row.status, row.completed_turn, row.completion_method = ChapterProgress.Status.ACTIVE, None, ""
        if started:
            row.status, row.activated_turn = ChapterProgress.Status.UPCOMING, None
        row.save()
    return kept


@transaction.atomic
def progress_turn_redo(*, story_id, user_id, kept: list[dict]) -> None:
    """Put back the chapters' progress ``progress_turn_undo`` returned, as the turn's redo."""
    for image in kept:
        ChapterProgress.objects.update_or_create(pk=image["id"], story_id=story_id, defaults={
            "user_id": user_id, **{name: image[name] for name in PROGRESS_KEPT_FIELDS}})


def completion_method(chapter: StoryChapter) -> str:
    """How a chapter came to complete: the highest rung of the healing ladder it went through before
    (nudged, relaxed, adapted), else naturally. An alternate is judged by its own ladder, like any chapter."""
    climbed = set(ChapterDivergenceLog.objects.filter(chapter=chapter).values_list("strategy", flat=True))
    for rung, method in (("adapt", ChapterProgress.Method.ADAPTED), ("relax", ChapterProgress.Method.RELAXED),
                         ("nudge", ChapterProgress.Method.NUDGED)):
        if rung in climbed:
            return method
    return ChapterProgress.Method.NATURAL


def heading_to(*, story_id) -> StoryChapter | None:
    """The chapter the story is heading to now, or None when none is left."""
    rows, completed = _progress(story_id)
    return _current(story_id, rows, completed)
