"""Writes to chapters: create, change, delete, import (all or nothing), start early.

Callers run as the story's owner (inside ``acting_as``); RLS keeps other stories out.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from core import embeddings

from .beats import BeatError, beats_from_model, beats_validate
from .evaluation import current_version
from .knowledge import rules as knowledge_rules
from .knowledge import services as knowledge_services
from .models import ChapterProgress, ChapterSuggestion, ChapterVersion, Knowledge, StoryChapter
from .selectors import chapter_dependants
from .triggers import ConditionError, prerequisite_cycle, validate_conditions, validate_critical

FIELDS = ("number", "title", "description", "summary", "required_previous_chapters", "blocked_by",
          "trigger_conditions", "critical", "narrative_instructions", "suggested_beats", "allow_divergence",
          "min_similarity_threshold", "visibility", "start_early", "source", "source_data")


def _fail(number, field, message):
    raise ValidationError({field: [f"Chapter {number}: {message}"]})


def _check(chapter: dict) -> dict:
    """One chapter's fields checked; its beats are brought to the seed's shape in place."""
    number = chapter.get("number")
    try:
        chapter["suggested_beats"] = beats_validate(chapter.get("suggested_beats"))
    except BeatError as error:
        _fail(number, "suggested_beats", str(error))
    try:
        validate_conditions(chapter.get("trigger_conditions", {}))
    except ConditionError as error:
        _fail(number, "trigger_conditions", str(error))
    try:
        validate_critical(chapter.get("critical", ["character_present"]))
    except ConditionError as error:
        _fail(number, "critical", str(error))
    for field in ("required_previous_chapters", "blocked_by"):
        values = chapter.get(field, [])
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            _fail(number, field, "must be a list of chapter numbers.")
        if number in values:
            _fail(number, field, "a chapter cannot name itself.")
    return chapter


def check_set(chapters: list[dict]) -> None:
    """Across chapters: numbers unique, prerequisites exist, no cycles. Raises naming the chapter.
    Each chapter's beats are brought to the seed's shape in place (see ``_check``)."""
    numbers = [c["number"] for c in chapters]
    duplicates = {n for n in numbers if numbers.count(n) > 1}
    if duplicates:
        _fail(min(duplicates), "number", "two chapters have this number.")
    for chapter in chapters:
        _check(chapter)
        for field in ("required_previous_chapters", "blocked_by"):
            missing = [n for n in chapter.get(field, []) if n not in numbers]
            if missing:
                _fail(chapter["number"], field, f"names chapter {missing[0]}, which does not exist.")
    cycle = prerequisite_cycle({c["number"]: c.get("required_previous_chapters", []) for c in chapters})
    if cycle:
        _fail(cycle[0], "required_previous_chapters",
              f"prerequisites form a cycle ({' → '.join(str(n) for n in cycle)}).")


def _expected_text(chapter: dict) -> str:
    return " ".join(filter(None, [chapter.get("title"), chapter.get("summary"), chapter.get("description"),
                                  chapter.get("narrative_instructions", "")[:1_000]]))


def chapters_renumbered(chapters: list[dict], offset: int) -> list[dict]:
    """The chapters moved ``offset`` numbers on, with the prerequisites and blockers that name them."""
    if not offset:
        return chapters
    move = {chapter["number"]: chapter["number"] + offset for chapter in chapters}
    return [{**chapter, "number": move[chapter["number"]],
             "required_previous_chapters": [move.get(n, n) for n in chapter.get("required_previous_chapters", [])],
             "blocked_by": [move.get(n, n) for n in chapter.get("blocked_by", [])]} for chapter in chapters]


def chapter_as_dict(chapter: StoryChapter) -> dict:
    return {field: getattr(chapter, field) for field in FIELDS}


@transaction.atomic
def chapters_import(*, story_id, user_id, chapters: list[dict], created_by: str = "import") -> list[StoryChapter]:
    """Add chapters to a story, checked together with its existing ones; nothing is saved on error."""
    existing = [chapter_as_dict(c) for c in StoryChapter.objects.filter(story_id=story_id)]
    check_set(existing + chapters)
    vectors = embeddings.embed([_expected_text(chapter) for chapter in chapters])
    created = []
    for chapter, vector in zip(chapters, vectors, strict=True):
        fields = {key: value for key, value in chapter.items() if key in FIELDS}
        if created_by == "import":
            fields.setdefault("source", StoryChapter.Source.IMPORTED)
        row = StoryChapter.objects.create(user_id=user_id, story_id=story_id, expected_embedding=vector, **fields)
        ChapterVersion.objects.create(user_id=user_id, chapter=row, story_id=story_id, number=1,
                                      created_by=created_by, title=row.title,
                                      trigger_conditions=row.trigger_conditions,
                                      narrative_instructions=row.narrative_instructions,
                                      suggested_beats=row.suggested_beats, reason="First version.")
        _secrets_add(row, chapter.get("secrets", []))
        created.append(row)
    return created


def _secrets_add(chapter: StoryChapter, secrets: list[dict]) -> None:
    """The chapter's secrets (``secret:`` in the text format) as Knowledge rows of the chapter, referred to by
    its number (what names a chapter in every copy of the story, as the facts travel in copies)."""
    for secret in secrets:
        knowledge_services.knowledge_add(story_id=chapter.story_id, user_id=chapter.user_id, fact=secret["fact"],
                                         known_by=secret["known_by"], reveal_when=secret.get("reveal_when"),
                                         source=Knowledge.Source.CHAPTER, source_ref=str(chapter.number))


def chapter_secrets(*, chapter: StoryChapter) -> list[dict]:
    """The chapter's secrets as the text format's dicts, in the order they were written."""
    return [{"fact": row.fact, "known_by": row.known_by, "reveal_when": row.reveal_when}
            for row in _secrets_of([chapter]).order_by("id")]


def _secrets_replace(chapter: StoryChapter, secrets: list[dict]) -> None:
    """Make the chapter's secrets read as given (their order kept). A secret whose fact stays keeps its
    reveal and its evidence, so an author's edit of who knows it does not hide again what the story told."""
    if secrets == chapter_secrets(chapter=chapter):
        return
    before = {knowledge_rules.fold(row.fact): row for row in _secrets_of([chapter])}
    _secrets_of([chapter]).delete()
    _secrets_add(chapter, secrets)
    for row in _secrets_of([chapter]):
        kept = before.get(knowledge_rules.fold(row.fact))
        if kept is not None and (kept.revealed_at_turn, kept.evidence_turn) != (None, None):
            row.revealed_at_turn, row.revealed_by = kept.revealed_at_turn, kept.revealed_by
            row.evidence_turn = kept.evidence_turn
            row.save(update_fields=["revealed_at_turn", "revealed_by", "evidence_turn", "updated_at"])


def _secrets_of(chapters: list[StoryChapter]):
    if not chapters:
        return Knowledge.objects.none()
    return Knowledge.objects.filter(story_id=chapters[0].story_id, source=Knowledge.Source.CHAPTER,
                                    source_ref__in=[str(chapter.number) for chapter in chapters])


def chapter_create(*, story_id, user_id, **fields) -> StoryChapter:
    try:
        return chapters_import(story_id=story_id, user_id=user_id, chapters=[fields], created_by="manual")[0]
    except IntegrityError as error:
        raise ValidationError({"number": [f"Chapter {fields.get('number')}: this number is taken."]}) from error


@transaction.atomic
def chapter_update(*, chapter: StoryChapter, **changes) -> StoryChapter:
    """Change a chapter; what the Strategist reads (conditions, instructions, beats) becomes a new version.
    ``secrets`` (the text format's) replace the chapter's secrets; a new number takes them along."""
    secrets = changes.pop("secrets", None)
    if "number" in changes and changes["number"] != chapter.number:
        _secrets_of([chapter]).update(source_ref=str(changes["number"]))
    others = [chapter_as_dict(c) for c in StoryChapter.objects.filter(story_id=chapter.story_id).exclude(pk=chapter.pk)]
    updated = {**chapter_as_dict(chapter), **changes}
    check_set(others + [updated])
    for field in changes:
        setattr(chapter, field, updated[field])  # as checked: beats in the seed's shape
    chapter.expected_embedding = embeddings.embed_one(_expected_text(updated))
    chapter.save()
    latest = current_version(chapter)
    read_by_strategist = ("trigger_conditions", "narrative_instructions", "suggested_beats", "title")
    if any(field in changes for field in read_by_strategist):
        ChapterVersion.objects.create(
            user_id=chapter.user_id, chapter=chapter, story_id=chapter.story_id,
            number=(latest.number + 1) if latest else 1, created_by="manual", title=chapter.title,
            trigger_conditions=chapter.trigger_conditions, narrative_instructions=chapter.narrative_instructions,
            suggested_beats=chapter.suggested_beats, reason="Changed by the author.")
    if secrets is not None:
        _secrets_replace(chapter, secrets)
    return chapter


def _beats_shaped(chapter: dict) -> dict:
    """A chapter from a published payload with its beats in the seed's shape (older payloads say
    ``description``), so an unchanged chapter compares equal."""
    if "suggested_beats" not in chapter:
        return chapter
    try:
        return {**chapter, "suggested_beats": beats_validate(chapter["suggested_beats"])}
    except BeatError as error:
        _fail(chapter.get("number"), "suggested_beats", str(error))


@transaction.atomic
def chapters_apply(*, story_id, user_id, chapters: dict[int, dict | None]) -> None:
    """Make the story's chapters read as given, by number (a sync, its undo, a chapter set taken
    from the marketplace): new numbers are added, changed chapters updated (the Strategist's
    fields as a new version, so the old one stays readable), ``None`` removes one."""
    rows = {row.number: row for row in StoryChapter.objects.select_for_update().filter(story_id=story_id)}
    removed = [rows[n] for n, fields in chapters.items() if fields is None and n in rows]
    _secrets_of(removed).delete()
    StoryChapter.objects.filter(pk__in=[row.pk for row in removed]).delete()
    chapters = {number: fields and _beats_shaped(fields) for number, fields in chapters.items()}
    for number, fields in sorted(chapters.items()):
        if fields is not None and number in rows:
            now = chapter_as_dict(rows[number])
            changes = {key: value for key, value in fields.items() if key in FIELDS and key != "number"
                       and now[key] != value}
            if changes:
                chapter_update(chapter=rows[number], **changes)
            if "secrets" in fields:
                _secrets_replace(rows[number], fields["secrets"])
    added = [fields for number, fields in sorted(chapters.items()) if fields is not None and number not in rows]
    if added:
        chapters_import(story_id=story_id, user_id=user_id, chapters=added)


def chapter_delete(*, chapter: StoryChapter) -> None:
    chapters_delete(chapters=[chapter])


@transaction.atomic
def chapters_delete(*, chapters: list[StoryChapter]) -> None:
    """Delete chapters together; refused while a chapter left behind requires or is blocked by one of them."""
    chosen = {chapter.pk for chapter in chapters}
    for chapter in chapters:
        dependants = chapter_dependants(chapter=chapter, excluding=chosen)
        if dependants:
            _fail(chapter.number, "number", f"chapter {dependants[0]} depends on it; change that one first.")
    _secrets_of(chapters).delete()  # a chapter's secrets go with it
    for chapter in chapters:
        chapter.delete()


@transaction.atomic
def chapter_start(*, chapter: StoryChapter, turn_number: int) -> ChapterProgress:
    """A player starts a chapter early, where its author allows it."""
    if not chapter.start_early:
        _fail(chapter.number, "start_early", "its author does not allow starting it early.")
    if ChapterProgress.objects.filter(story_id=chapter.story_id, status=ChapterProgress.Status.ACTIVE).exclude(
            chapter=chapter).exists():
        _fail(chapter.number, "start_early", "another chapter is active; finish it first.")
    row, _ = ChapterProgress.objects.get_or_create(user_id=chapter.user_id, chapter=chapter, story_id=chapter.story_id,
                                                   defaults={"upcoming_turn": turn_number})
    if row.status == ChapterProgress.Status.COMPLETED:
        _fail(chapter.number, "start_early", "it is already completed.")
    ChapterProgress.objects.filter(story_id=chapter.story_id, status=ChapterProgress.Status.UPCOMING).exclude(
        chapter=chapter).delete()
    row.status, row.activated_turn = ChapterProgress.Status.ACTIVE, turn_number
    row.save()
    return row


def chapters_export(*, story_id) -> list[dict]:
    """The story's chapters as the text format's dicts (their current versions), with their secrets."""
    exported, secrets = [], {}
    for row in Knowledge.objects.filter(story_id=story_id, source=Knowledge.Source.CHAPTER).order_by("id"):
        secrets.setdefault(row.source_ref, []).append({"fact": row.fact, "known_by": row.known_by,
                                                       "reveal_when": row.reveal_when})
    for chapter in StoryChapter.objects.filter(story_id=story_id).order_by("number"):
        fields = chapter_as_dict(chapter)
        version = current_version(chapter)
        if version is not None:
            fields.update(trigger_conditions=version.trigger_conditions,
                          narrative_instructions=version.narrative_instructions,
                          suggested_beats=version.suggested_beats)
        if str(chapter.number) in secrets:
            fields["secrets"] = secrets[str(chapter.number)]
        exported.append(fields)
    return exported


def suggestion_accept(*, suggestion) -> StoryChapter:
    """Make a suggested chapter the story's next one."""
    if suggestion.status != ChapterSuggestion.Status.OPEN:
        _fail("—", "status", f"this suggestion is {suggestion.status} already.")
    number = (StoryChapter.objects.filter(story_id=suggestion.story_id).aggregate(top=Max("number"))["top"] or 0) + 1
    previous = [number - 1] if number > 1 else []
    chapter = chapter_create(story_id=suggestion.story_id, user_id=suggestion.user_id, number=number,
                             title=suggestion.title, summary=suggestion.summary,
                             narrative_instructions=suggestion.narrative_instructions,
                             suggested_beats=suggestion.suggested_beats,
                             trigger_conditions=suggestion.trigger_conditions, required_previous_chapters=previous,
                             source=StoryChapter.Source.DREAMER)
    suggestion.status, suggestion.accepted_as = ChapterSuggestion.Status.ACCEPTED, chapter
    suggestion.save(update_fields=["status", "accepted_as"])
    return chapter


def suggestion_add(*, story_id, user_id, chapter: dict, created_turn: int):
    """Offer a chapter (another version of one, from a source sync) as a suggestion to accept or dismiss."""
    return ChapterSuggestion.objects.create(
        user_id=user_id, story_id=story_id, title=(chapter.get("title") or "A chapter")[:200],
        summary=chapter.get("summary", ""), narrative_instructions=chapter.get("narrative_instructions", ""),
        suggested_beats=beats_from_model(chapter.get("suggested_beats", [])),
        trigger_conditions=chapter.get("trigger_conditions", {}),
        created_turn=created_turn)


def suggestion_dismiss(*, suggestion) -> None:
    ChapterSuggestion.objects.filter(pk=suggestion.pk, status=ChapterSuggestion.Status.OPEN).update(
        status=ChapterSuggestion.Status.DISMISSED)


@transaction.atomic
def chapter_move(*, chapter: StoryChapter, by: int) -> StoryChapter | None:
    """Swap a chapter with its neighbour (``by`` -1: earlier, +1: later), rewriting every
    prerequisite that names either number, so the story's order changes and nothing else."""
    siblings = list(StoryChapter.objects.select_for_update().filter(story_id=chapter.story_id).order_by("number"))
    index = next(i for i, c in enumerate(siblings) if c.pk == chapter.pk)
    if not 0 <= index + by < len(siblings):
        return None
    other = siblings[index + by]
    swap = {chapter.number: other.number, other.number: chapter.number}
    for sibling in siblings:
        sibling.required_previous_chapters = [swap.get(n, n) for n in sibling.required_previous_chapters]
        sibling.blocked_by = [swap.get(n, n) for n in sibling.blocked_by]
    chapter_numbers = {c.pk: swap.get(c.number, c.number) for c in siblings}
    check_set([{**chapter_as_dict(c), "number": chapter_numbers[c.pk]} for c in siblings])
    # Through a free number: (story, number) is unique.
    StoryChapter.objects.filter(pk=other.pk).update(number=max(c.number for c in siblings) + 1)
    StoryChapter.objects.filter(pk=chapter.pk).update(number=chapter_numbers[chapter.pk])
    StoryChapter.objects.filter(pk=other.pk).update(number=chapter_numbers[other.pk])
    mine, theirs = list(_secrets_of([chapter]).values_list("pk", flat=True)), _secrets_of([other])
    theirs.update(source_ref=str(chapter_numbers[other.pk]))  # each chapter's secrets go with it
    Knowledge.objects.filter(pk__in=mine).update(source_ref=str(chapter_numbers[chapter.pk]))
    for sibling in siblings:
        StoryChapter.objects.filter(pk=sibling.pk).update(required_previous_chapters=sibling.required_previous_chapters,
                                                           blocked_by=sibling.blocked_by)
    return other
