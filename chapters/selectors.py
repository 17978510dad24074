"""Reads of chapters for pages. Callers run as the story's owner (inside ``acting_as``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Avg, Count, Q

from core.contracts import StoryState

from . import plain_words
from .beats import beat_text
from .evaluation import current_version, heading_to
from .models import ChapterDivergenceLog, ChapterProgress, ChapterSuggestion, ChapterVersion, StoryChapter
from .triggers import evaluate


@dataclass
class ChapterPanel:
    """What a player sees of the story's chapters beside the story, in plain words (``plain_words``)."""

    current: dict | None = None  # the active chapter ("now"), else the one the story is heading to ("ahead")
    ahead: list[dict] = field(default_factory=list)
    completed: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)  # one per change, newest first: turn, date, text
    suggestion: dict | None = None


def _seen(chapter: StoryChapter, row: ChapterProgress | None) -> bool:
    """Whether the player may know this chapter: it is not hidden, or it has been theirs (it began)."""
    return chapter.visibility != StoryChapter.Visibility.HIDDEN or (row is not None and row.activated_turn is not None)


def _beats(beats: list[dict], addressed: list[str]) -> list[dict]:
    return [{"beat": beat["beat"], "priority": beat.get("priority", "medium"), "done": beat["beat"] in addressed}
            for beat in beats]


def _current(chapter: StoryChapter, row: ChapterProgress | None, *, state: StoryState, turn_number: int,
             original: str) -> dict:
    """The chapter now under way, or the one ahead. ``original`` is the title of the chapter an alternate
    replaces, "" when the player may not know it (the Dreamer's description of an alternate names it too)."""
    version = current_version(chapter)
    text = version or chapter
    active = row is not None and row.status == ChapterProgress.Status.ACTIVE
    # A chapter not begun yet shows only its title unless its author shows it whole.
    shown = active or chapter.visibility == StoryChapter.Visibility.SHOWN
    unmet = evaluate(text.trigger_conditions, state, turn_number, critical=chapter.critical).unmet
    return {
        "state": "now" if active else "ahead", "number": chapter.number, "title": chapter.title,
        "description": chapter.description if shown and (original or not chapter.alternate_of_id) else "",
        "reason": "" if active or not shown else plain_words.waiting_reason(text.trigger_conditions, unmet),
        "beats": _beats(text.suggested_beats, row.beats_addressed if row else []) if shown else [],
        # the version's reason is the writers' room's wording; the notes tell the player what changed
        "adapted": active and version is not None and version.created_by == "dreamer",
        "alternate_of": original,
        "can_start": not active and chapter.start_early,
    }


def chapter_panel(*, story_id, state: StoryState, turn_number: int,
                  turn_dates: Callable[[set[int]], dict[int, datetime]] = lambda numbers: {}) -> ChapterPanel:
    """The panel at ``turn_number`` (the next turn) in ``state``. ``turn_dates`` gives the dates of turns by
    number: the story's turns are read by the app above this one."""
    rows = {row.chapter_id: row for row in ChapterProgress.objects.filter(story_id=story_id)}
    chapters = list(StoryChapter.objects.filter(story_id=story_id).order_by("number").select_related("alternate_of"))
    heading = heading_to(story_id=story_id)
    done = {chapter.number for chapter in chapters
            if chapter.pk in rows and rows[chapter.pk].status == ChapterProgress.Status.COMPLETED}
    replaced_by = {chapter.alternate_of_id: chapter for chapter in chapters if chapter.alternate_of_id}
    panel = ChapterPanel()
    for chapter in chapters:
        row = rows.get(chapter.pk)
        if not _seen(chapter, row):
            continue
        original = chapter.alternate_of
        original_title = original.title if original and _seen(original, rows.get(original.pk)) else ""
        if chapter.number in done:
            alternate = replaced_by.get(chapter.pk)
            panel.completed.append({"number": chapter.number, "title": chapter.title, "outcome": plain_words.outcome(
                row.completion_method,
                replaced_by=alternate.title if alternate and _seen(alternate, rows.get(alternate.pk)) else "",
                alternate=original is not None, alternate_of=original_title)})
        elif heading is not None and chapter.pk == heading.pk:
            panel.current = _current(chapter, row, state=state, turn_number=turn_number, original=original_title)
        elif not any(number in done for number in chapter.blocked_by):  # a blocked chapter is no longer ahead
            panel.ahead.append({"number": chapter.number, "title": chapter.title,
                                "description": chapter.description if chapter.visibility == "shown" else "",
                                "can_start": chapter.start_early})
    panel.notes = chapter_notes(story_id=story_id, chapters=chapters, rows=rows, turn_dates=turn_dates)
    suggestion = ChapterSuggestion.objects.filter(story_id=story_id, status=ChapterSuggestion.Status.OPEN).first()
    if suggestion is not None:
        panel.suggestion = {"id": suggestion.pk, "title": suggestion.title, "summary": suggestion.summary}
    return panel


# Within one turn, a healing comes before the chapter it brings begins, which comes before one completes.
_HEALED, _BEGAN, _COMPLETED = 0, 1, 2


def chapter_notes(*, story_id, chapters: list[StoryChapter], rows: dict, turn_dates) -> list[dict]:
    """One dated note per change to the story's chapters, newest first: each chapter that began or was
    completed (from its progress) and each healing (from the divergence log). A chapter the player may not
    know (hidden, never begun) gives no note and its title appears in none."""
    by_number = {chapter.number: chapter for chapter in chapters}
    notes = []
    for chapter in chapters:
        row = rows.get(chapter.pk)
        if row is None or not _seen(chapter, row):
            continue
        if row.activated_turn is not None:
            notes.append((row.activated_turn, _BEGAN, None, plain_words.began(chapter.title, row.activated_turn)))
        replaced = row.completion_method == ChapterProgress.Method.DIVERGED_ALTERNATE and not chapter.alternate_of_id
        if row.status == ChapterProgress.Status.COMPLETED and not replaced:  # a replacement is the healing's note
            notes.append((row.completed_turn or 0, _COMPLETED, None,
                          plain_words.completed(chapter.title, row.completion_method)))
    by_id = {chapter.pk: chapter for chapter in chapters}
    for log in ChapterDivergenceLog.objects.filter(story_id=story_id).order_by("created_at", "pk"):
        chapter = by_id[log.chapter_id]
        seen = _seen(chapter, rows.get(chapter.pk))
        if log.strategy == "alternate":
            alternate = by_number.get(log.changes.get("alternate_chapter"))
            alternate_seen = alternate is not None and _seen(alternate, rows.get(alternate.pk))
            if not (seen or alternate_seen):
                continue
            text = plain_words.healed(
                strategy="alternate", title=chapter.title if seen else "", changes=log.changes,
                breakdown=log.breakdown, characters=chapter.trigger_conditions.get("character_present"),
                alternate_title=alternate.title if alternate_seen else "")
        elif seen:
            row = rows.get(chapter.pk)
            reveal_place = chapter.visibility == StoryChapter.Visibility.SHOWN or row.activated_turn is not None
            text = plain_words.healed(strategy=log.strategy, title=chapter.title, changes=log.changes,
                                      breakdown=log.breakdown, reveal_place=reveal_place)
        else:
            continue
        notes.append((log.turn_number, _HEALED, log.created_at, text))
    dates = turn_dates({turn for turn, *_ in notes})
    # sorted is stable: notes of one turn and kind keep the order they were written in, then all is reversed
    notes.sort(key=lambda note: (note[0], note[1]))
    return [{"turn": turn, "date": dates.get(turn) or created, "text": text}
            for turn, _, created, text in reversed(notes)]


def beats_open(*, story_id, chapter_number: int) -> list[str]:
    """The beats of the story's chapter ``chapter_number`` not confirmed yet, in the author's order; none
    unless the chapter is active (the Dreamer confirms beats only for the chapter being played)."""
    row = ChapterProgress.objects.filter(story_id=story_id, chapter__number=chapter_number,
                                         status=ChapterProgress.Status.ACTIVE).select_related("chapter").first()
    if row is None:
        return []
    beats = (current_version(row.chapter) or row.chapter).suggested_beats
    return [beat_text(beat) for beat in beats if beat_text(beat) not in row.beats_addressed]


def chapter_analytics(*, user_id, story_id=None, chapter_id=None) -> list[dict]:
    """Per chapter title over all of the user's stories (or one story's, or one chapter's): activations,
    completions by method, abandonment (reached but not completed), adaptations and average divergence."""
    narrowed = {key: value for key, value in (("story_id", story_id), ("chapter_id", chapter_id)) if value}
    rows = (ChapterProgress.objects.filter(user_id=user_id, **narrowed).values("chapter__title")
            .annotate(stories=Count("story", distinct=True),
                      activations=Count("pk", filter=Q(activated_turn__isnull=False)),
                      natural=Count("pk", filter=Q(completion_method="natural")),
                      nudged=Count("pk", filter=Q(completion_method="nudged")),
                      relaxed=Count("pk", filter=Q(completion_method="relaxed")),
                      adapted=Count("pk", filter=Q(completion_method="adapted")),
                      alternate=Count("pk", filter=Q(completion_method="diverged_alternate")),
                      open=Count("pk", filter=~Q(status="completed")),
                      average_divergence=Avg("divergence_score"))
            .order_by("chapter__title"))
    healings = dict(ChapterDivergenceLog.objects.filter(user_id=user_id, **narrowed).values("chapter__title")
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
