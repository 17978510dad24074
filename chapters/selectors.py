"""Reads of chapters for pages. Callers run as the story's owner (inside ``acting_as``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .evaluation import current_version
from .models import ChapterProgress, StoryChapter


@dataclass
class ChapterPanel:
    """What a player sees of the story's chapters beside the story."""

    active: dict | None = None
    completed: list[dict] = field(default_factory=list)
    upcoming: list[dict] = field(default_factory=list)


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
            beats = version.suggested_beats if version else chapter.suggested_beats
            adapted = version is not None and version.created_by == "dreamer"
            panel.active = {
                "number": chapter.number, "title": chapter.title, "description": chapter.description,
                "beats": [{**beat, "done": beat["description"] in row.beats_addressed} for beat in beats],
                "adaptation": version.reason if adapted else "",
                "alternate_of": chapter.alternate_of.title if chapter.alternate_of_id else "",
            }
        elif chapter.visibility != StoryChapter.Visibility.HIDDEN:
            panel.upcoming.append({"number": chapter.number, "title": chapter.title,
                                   "description": chapter.description if chapter.visibility == "shown" else "",
                                   "can_start": chapter.start_early})
    return panel
