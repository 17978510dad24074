"""Reads of chapters for pages. Callers run as the story's owner (inside ``acting_as``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Avg, Count, Q

from .beats import beat_text
from .evaluation import current_version
from .models import ChapterDivergenceLog, ChapterProgress, ChapterSuggestion, ChapterVersion, StoryChapter


@dataclass
class ChapterPanel:
    """What a player sees of the story's chapters beside the story."""

    active: dict | None = None
    completed: list[dict] = field(default_factory=list)
    upcoming: list[dict] = field(default_factory=list)
    suggestion: dict | None = None


def chapter_panel(*, story_id) -> ChapterPanel:
    rows = {row.chapter_id: row for row in ChapterProgress.objects.filter(story_id=story_id)}
    panel = ChapterPanel()
    for chapter in StoryChapter.objects.filter(story_id=story_id).order_by("number").prefetch_related("versions"):
        row = rows.get(chapter.pk)
        if row is not None and row.status == ChapterProgress.Status.COMPLETED:
            panel.completed.append({"number": chapter.number, "title": chapter.title,
                                    "method": row.get_completion_method_display()})
        elif row is not None and row.status == ChapterProgress.Status.ACTIVE:
            version = current_version(chapter)
            beats = (version or chapter).suggested_beats
            adapted = version is not None and version.created_by == "dreamer"
            panel.active = {
                "number": chapter.number, "title": chapter.title, "description": chapter.description,
                "beats": [{**beat, "done": beat["beat"] in row.beats_addressed} for beat in beats],
                "adaptation": version.reason if adapted else "",
                "alternate_of": chapter.alternate_of.title if chapter.alternate_of_id else "",
            }
        elif chapter.visibility != StoryChapter.Visibility.HIDDEN:
            panel.upcoming.append({"number": chapter.number, "title": chapter.title,
                                   "description": chapter.description if chapter.visibility == "shown" else "",
                                   "can_start": chapter.start_early})
    suggestion = ChapterSuggestion.objects.filter(story_id=story_id, status=ChapterSuggestion.Status.OPEN).first()
    if suggestion is not None:
        panel.suggestion = {"id": suggestion.pk, "title": suggestion.title, "summary": suggestion.summary}
    return panel


def beats_open(*, story_id, chapter_number: int) -> list[str]:
    """The beats of the story's chapter ``chapter_number`` not confirmed yet, in the author's order; none
    unless the chapter is active (the Dreamer confirms beats only for the chapter being played)."""
    row = ChapterProgress.objects.filter(story_id=story_id, chapter__number=chapter_number,
                                         status=ChapterProgress.Status.ACTIVE).select_related("chapter").first()
    if row is None:
        return []
    beats = (current_version(row.chapter) or row.chapter).suggested_beats
    return [beat_text(beat) for beat in beats if beat_text(beat) not in row.beats_addressed]


def chapter_analytics(*, user_id) -> list[dict]:
    """Per chapter title over all of the user's stories: activations, completions by method,
    abandonment (reached but not completed), adaptations and average divergence."""
    rows = (ChapterProgress.objects.filter(user_id=user_id).values("chapter__title")
            .annotate(stories=Count("story", distinct=True),
                      activations=Count("pk", filter=Q(activated_turn__isnull=False)),
                      natural=Count("pk", filter=Q(completion_method="natural")),
                      adapted=Count("pk", filter=Q(completion_method="adapted")),
                      alternate=Count("pk", filter=Q(completion_method="diverged_alternate")),
                      open=Count("pk", filter=~Q(status="completed")),
                      average_divergence=Avg("divergence_score"))
            .order_by("chapter__title"))
    healings = dict(ChapterDivergenceLog.objects.filter(user_id=user_id).values("chapter__title")
                    .annotate(n=Count("pk")).values_list("chapter__title", "n"))
    return [{"title": row["chapter__title"], **{k: v for k, v in row.items() if k != "chapter__title"},
             "average_divergence": round(row["average_divergence"] or 0, 3),
             "adaptations": healings.get(row["chapter__title"], 0)} for row in rows]


def story_chapters(*, story_id, excluding=None) -> list[StoryChapter]:
    """The story's chapters in order, but the one ``excluding`` names (a chapter being edited)."""
    return list(StoryChapter.objects.filter(story_id=story_id).exclude(pk=excluding).order_by("number"))


def chapter_dependants(*, chapter: StoryChapter, excluding: set | frozenset = frozenset()) -> list[int]:
    """The numbers of the story's other chapters that require or are blocked by ``chapter`` (but those whose
    ids ``excluding`` holds: chapters deleted together with it)."""
    return [other.number for other in story_chapters(story_id=chapter.story_id, excluding=chapter.pk)
            if other.pk not in excluding and chapter.number in other.required_previous_chapters + other.blocked_by]


def chapter_versions(*, chapter: StoryChapter) -> list[ChapterVersion]:
    return list(chapter.versions.order_by("number")) if chapter.pk else []
