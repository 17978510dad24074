"""Self-healing of a chapter the story has moved away from (DESIGN §4): relax, adapt, alternate.

The Dreamer (in Celery) decides what an adaptation or an alternate says; these functions
check it and write it as a new ``ChapterVersion`` or chapter, with a ``ChapterDivergenceLog``
row. They run as the story's owner, inside ``acting_as``.
"""

from __future__ import annotations

from django.db.models import F, Max

from core.contracts import StoryState

from .beats import beats_from_model
from .evaluation import current_version, score
from .models import ChapterDivergenceLog, ChapterProgress, ChapterVersion, StoryChapter
from .triggers import relaxed


def _breakdown(chapter: StoryChapter, state: StoryState, turn_number: int, state_vector) -> dict:
    return score(chapter, state, turn_number, state_vector)[3].as_dict()


def _version_add(chapter: StoryChapter, *, created_by: str, reason: str, conditions=None, instructions=None,
                 beats=None) -> ChapterVersion:
    latest = current_version(chapter) or chapter  # what is not given carries over from the latest text
    number = (chapter.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    return ChapterVersion.objects.create(
        user_id=chapter.user_id, chapter=chapter, story_id=chapter.story_id, number=number, created_by=created_by,
        title=chapter.title,
        trigger_conditions=latest.trigger_conditions if conditions is None else conditions,
        narrative_instructions=latest.narrative_instructions if instructions is None else instructions,
        suggested_beats=latest.suggested_beats if beats is None else beats,
        reason=reason,
    )


def _log(chapter, *, turn_number, breakdown, strategy, reason, changes) -> ChapterDivergenceLog:
    return ChapterDivergenceLog.objects.create(
        user_id=chapter.user_id, chapter=chapter, story_id=chapter.story_id, turn_number=turn_number,
        score=breakdown["score"], breakdown=breakdown, reason=reason, strategy=strategy, changes=changes)


def relax(chapter: StoryChapter, *, state: StoryState, turn_number: int, state_vector=None) -> ChapterVersion:
    breakdown = _breakdown(chapter, state, turn_number, state_vector)
    before = (current_version(chapter) or chapter).trigger_conditions
    after = relaxed(before, chapter.critical, state)
    reason = f"Relaxed: unmet {', '.join(breakdown['unmet']) or 'nothing'}; critical conditions kept."
    version = _version_add(chapter, created_by="dreamer", reason=reason, conditions=after)
    _log(chapter, turn_number=turn_number, breakdown=breakdown, strategy="relax", reason=reason,
         changes={"trigger_conditions": {"before": before, "after": after}, "version": version.number})
    return version


def adapt(chapter: StoryChapter, *, state: StoryState, turn_number: int, instructions: str, beats,
          state_vector=None) -> ChapterVersion:
    breakdown = _breakdown(chapter, state, turn_number, state_vector)
    before = (current_version(chapter) or chapter).trigger_conditions
    after = relaxed(before, chapter.critical, state)
    reason = f"Adapted to the story's state ({state.location or 'no location'}), keeping the chapter's intent."
    version = _version_add(chapter, created_by="dreamer", reason=reason, conditions=after,
                           instructions=instructions.strip()[:8_000], beats=beats_from_model(beats) or None)
    ChapterProgress.objects.filter(chapter=chapter).update(adaptation_count=F("adaptation_count") + 1)
    _log(chapter, turn_number=turn_number, breakdown=breakdown, strategy="adapt", reason=reason,
         changes={"version": version.number, "narrative_instructions": version.narrative_instructions,
                  "trigger_conditions": {"before": before, "after": after}})
    return version


def alternate(chapter: StoryChapter, *, state: StoryState, turn_number: int, title: str, instructions: str,
              beats, state_vector=None) -> StoryChapter:
    """A new chapter reaching the original's goal by another road; the original is left behind."""
    breakdown = _breakdown(chapter, state, turn_number, state_vector)
    number = (StoryChapter.objects.filter(story_id=chapter.story_id).aggregate(top=Max("number"))["top"] or 0) + 1
    replacement = StoryChapter.objects.create(
        user_id=chapter.user_id, story_id=chapter.story_id, number=number, title=title.strip()[:200] or chapter.title,
        summary=chapter.summary, description=f"An alternate path to “{chapter.title}”.",
        required_previous_chapters=chapter.required_previous_chapters, blocked_by=[], trigger_conditions={},
        critical=[], narrative_instructions=instructions.strip()[:8_000],
        suggested_beats=beats_from_model(beats) or chapter.suggested_beats, allow_divergence=True,
        min_similarity_threshold=chapter.min_similarity_threshold, expected_embedding=chapter.expected_embedding,
        visibility=chapter.visibility, source=StoryChapter.Source.DREAMER, alternate_of=chapter,
    )
    _version_add(replacement, created_by="dreamer", reason=f"Alternate path to chapter {chapter.number}.")
    ChapterProgress.objects.filter(chapter=chapter).update(
        status=ChapterProgress.Status.COMPLETED, completed_turn=turn_number,
        completion_method=ChapterProgress.Method.DIVERGED_ALTERNATE)
    reason = "; ".join(breakdown["impossible"]) or f"Divergence {breakdown['score']:.2f} is past repair."
    _log(chapter, turn_number=turn_number, breakdown=breakdown, strategy="alternate", reason=reason,
         changes={"alternate_chapter": number, "title": replacement.title})
    return replacement
