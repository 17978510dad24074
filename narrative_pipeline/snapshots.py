"""Story snapshots and copy-on-write stories (DESIGN §5).

A snapshot is an immutable, numbered version of a whole story: its fields, and its turns,
chapters, lore and cast as ``SnapshotItem`` rows, each written only in the version where it
changed, so twenty versions with small edits cost little more than one. A story *based on* a
snapshot (a fork, a branch) copies none of its turns: it reads them through the one turns
reader (``selectors.story_turns``), overrides only the turns it edits, and owns the turns it
plays after. Its storage mode says how far it has drifted: ``reference`` (nothing edited),
``delta`` (override rows), ``full_copy`` (more than 60% edited: copied into its own rows).

The marketplace's listings, fork records and sync build on these functions; this module knows
nothing of them.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.quotas import quota_check
from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.lore import importers
from chapters.lore import services as chapter_lore
from chapters.lore.importers import document as doc
from chapters.models import LoreSource

from . import knowledge_copies, quota_accounting
from .lore_files import CHARACTER_ATTRIBUTES, CONTENT_TYPES
from .models import (
    Character,
    SnapshotItem,
    SnapshotSeries,
    StorageMode,
    Story,
    StoryArc,
    StorySnapshot,
    StoryTurn,
    Turn,
    TurnOverride,
)
from .selectors import story_turns, turn_overrides, turn_written, turns_own

FULL_COPY_SHARE = 0.6  # above this share of edited turns, a fork copies its turns into its own rows
STORY_FIELDS = ("title", "premise", "genre", "setting", "memory", "authors_note")
CHARACTER_FIELDS = (*CHARACTER_ATTRIBUTES, "source_fields")
Kind = SnapshotItem.Kind
WORLD_KINDS = (Kind.CHAPTER, Kind.LOREBOOK, Kind.LOREENTRY, Kind.CHARACTER, Kind.KNOWLEDGE, Kind.PORTRAIT)
PORTRAIT_FIELDS = ("lore_format", "filename", "text")


def _size(payload) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode())


def world_items(story: Story) -> dict[tuple[str, str], tuple[int, dict]]:
    """The story's world (chapters, lore books and entries, cast, facts): (kind, key) -> (order, payload).
    A chapter's key is its number, a book's its name (``chapters.lore.services.book_keys``), an entry's
    "book/position", a character's and its portrait's its name, a fact's ``knowledge_copies.fact_key``."""
    items = {}
    for chapter in chapter_services.chapters_export(story_id=story.pk):
        chapter.pop("secrets", None)  # a chapter's secrets travel as knowledge items, reveals and all
        items[(Kind.CHAPTER, str(chapter["number"]))] = (chapter["number"], chapter)
    for book_index, (book_key, book, positions) in enumerate(chapter_lore.story_lore(story_id=story.pk)):
        fields = dict(vars(book))  # not asdict: its deep copies cost a big world a second
        entries = fields.pop("entries")
        items[(Kind.LOREBOOK, book_key)] = (book_index, fields)
        for position, entry in zip(positions, entries, strict=True):
            items[(Kind.LOREENTRY, f"{book_key}/{position}")] = (position, dict(vars(entry)))
    for index, row in enumerate(Character.objects.filter(story=story).order_by("created_at", "id").values(
            *CHARACTER_FIELDS)):
        items[(Kind.CHARACTER, row["name"])] = (index, row)
    for key, item in knowledge_copies.knowledge_items(story).items():
        items[(Kind.KNOWLEDGE, key)] = item
    for index, (name, source_id) in enumerate(Character.objects.filter(story=story, portrait_source__isnull=False)
                                              .order_by("created_at", "id").values_list("name", "portrait_source_id")):
        source = LoreSource.objects.filter(pk=source_id).values(*PORTRAIT_FIELDS, "image").first()
        if source is not None and source["image"]:
            image = base64.b64encode(bytes(source.pop("image"))).decode()
            items[(Kind.PORTRAIT, name)] = (index, {**source, "image": image})
    return items


def _portraits_apply(story: Story, portraits: dict[str, dict | None]) -> None:
    """Each named character's portrait: a copy of its card file (its image and text) of the story's own."""
    for name, payload in portraits.items():
        character = Character.objects.filter(story=story, name=name).first()
        if character is None:
            continue
        character.portrait_source = None if payload is None else LoreSource.objects.create(
            user_id=story.user_id, story=story, image=base64.b64decode(payload["image"]),
            **{field: payload[field] for field in PORTRAIT_FIELDS})
        character.save(update_fields=["portrait_source"])


def entry_key(key: str) -> tuple[str, int]:
    """A lore entry's item key as (its book's key, its position); a book's name may hold a "/"."""
    book, position = key.rsplit("/", 1)
    return book, int(position)


def story_items(story: Story) -> dict[tuple[str, str], tuple[int, dict]]:
    """Everything a snapshot of the story holds besides its fields: (kind, key) -> (order, payload)."""
    items = {}
    for turn in story_turns(story=story).filter(status=Turn.Status.COMPLETED).values(
            "number", "action", "prose", "state_before"):
        items[(Kind.TURN, str(turn["number"]))] = (turn["number"], {
            "action": turn["action"], "prose": turn["prose"], "state_before": turn["state_before"]})
    items.update(world_items(story))
    return items


def world_apply(*, user, story: Story, changes: dict[tuple[str, str], dict | None], current=None) -> None:
    """Make the story's world items read as ``changes`` says ((kind, key) -> payload, ``None``
    removes one): a fork's copy of the world, a sync and its undo. Runs as the story's owner.
    ``current`` is the story's ``world_items`` when the caller has just read them."""
    if not changes:
        return
    by_kind: dict[str, dict] = {kind: {} for kind in WORLD_KINDS}
    for (kind, key), payload in changes.items():
        by_kind[kind][key] = payload
    before = world_items(story) if current is None else current
    cast = by_kind[Kind.CHARACTER]
    Character.objects.filter(story=story, name__in=[name for name, payload in cast.items() if payload is None]).delete()
    for name, payload in cast.items():
        if payload is not None:
            Character.objects.update_or_create(story=story, name=name, defaults={"user_id": story.user_id, **payload})
    chapters = {int(key): payload for key, payload in by_kind[Kind.CHAPTER].items()}
    if chapters:
        chapter_services.chapters_apply(story_id=story.pk, user_id=story.user_id, chapters=chapters)
    books = by_kind[Kind.LOREBOOK]
    entries = {entry_key(key): payload for key, payload in by_kind[Kind.LOREENTRY].items()}
    if books or entries:
        chapter_lore.lore_apply(story_id=story.pk, user_id=story.user_id, books=books, entries=entries)
    knowledge_copies.knowledge_apply(story=story, facts=by_kind[Kind.KNOWLEDGE])  # after its lore and cast
    _portraits_apply(story, by_kind[Kind.PORTRAIT])
    grown = sum(_size(payload) for payload in changes.values() if payload is not None) - sum(
        _size(before[item][1]) for item in changes if item in before)
    if grown:
        quota_accounting.story_add(user=user, story=story, delta=grown)


def series_items(series_id, version: int, kind: str | None = None, *, kinds=None,
                 key: str | None = None, keys=None, numbers=None) -> dict[tuple[str, str], tuple[int, dict]]:
    """A version's items (of one ``kind``, of ``kinds``, one ``key``, some ``keys`` or ``numbers``),
    each as of the newest version at or below ``version``, removed ones left out. (Turns by
    ``numbers`` read through the index; by ``keys`` they would scan the story's turns.)"""
    rows = SnapshotItem.objects.filter(series_id=series_id, version__lte=version)
    if kind is not None:
        rows = rows.filter(kind=kind)
    if kinds is not None:
        rows = rows.filter(kind__in=kinds)
    if key is not None:
        rows = rows.filter(key=key)
    if keys is not None:
        rows = rows.filter(key__in=list(keys))
    if numbers is not None:
        rows = rows.filter(number__in=list(numbers))
    rows = rows.order_by("kind", "key", "-version").distinct("kind", "key").values(
        "kind", "key", "number", "payload", "removed")
    return {(row["kind"], row["key"]): (row["number"], row["payload"]) for row in rows if not row["removed"]}


def _latest_arc(story: Story) -> str:
    return StoryArc.objects.filter(story=story).order_by("-last_turn").values_list("summary", flat=True).first() or ""


def snapshot_create(*, user, story: Story, series: SnapshotSeries | None = None, changelog: str = "",
                    public: bool = False, kinds=None, key: str | None = None) -> StorySnapshot:
    """A new immutable version of ``story``: the first of a new series, or the next of ``series``.

    Stores the story's fields and only the items that changed since the series' previous version:
    all of its items, or those of ``kinds`` (and ``key``): a chapter set, one character.
    """
    with acting_as(user), transaction.atomic():
        if series is None:
            series = SnapshotSeries.objects.create(author_id=user.pk, source_story=story, is_public=public)
        else:
            series = SnapshotSeries.objects.select_for_update().get(pk=series.pk)  # one publish at a time
        version = series.latest_version + 1
        previous = series_items(series.pk, series.latest_version) if series.latest_version else {}
        current = story_items(story) if kinds is None or Kind.TURN in kinds else world_items(story)
        if kinds is not None:
            current = {item: value for item, value in current.items()
                       if item[0] in kinds and (key is None or item[1] == key)}
        rows = [SnapshotItem(series=series, version=version, kind=kind, key=key, number=number, payload=payload)
                for (kind, key), (number, payload) in current.items() if previous.get((kind, key)) != (number, payload)]
        rows += [SnapshotItem(series=series, version=version, kind=kind, key=key, number=number, removed=True)
                 for (kind, key), (number, _) in previous.items() if (kind, key) not in current]
        SnapshotItem.objects.bulk_create(rows, batch_size=500)
        turns = sum(1 for kind, _ in current if kind == Kind.TURN)
        snapshot = StorySnapshot.objects.create(
            series=series, version=version, state=story.state, story_so_far=_latest_arc(story), turn_count=turns,
            changelog=changelog, stored_bytes=sum(_size(row.payload) for row in rows),
            **{field: getattr(story, field) for field in STORY_FIELDS})
        series.latest_version = version
        series.save(update_fields=["latest_version"])
    return snapshot


# Stories based on a snapshot -----------------------------------------------------------------

def story_from_snapshot(*, user, snapshot: StorySnapshot, at_turn: int | None = None, title: str = "") -> Story:
    """The user's own story based on ``snapshot`` up to ``at_turn`` (default: all its turns).

    No turn is copied, whatever the story's length; its chapters, lore and cast (the world, not the
    story so far) are copied so the user's Preprocessor, chapters and lore work unchanged.
    """
    with acting_as(user), transaction.atomic():
        # Read again as the user: a version they may not read (RLS) does not exist for them.
        snapshot = StorySnapshot.objects.get(pk=snapshot.pk)
        at_turn = snapshot.turn_count if at_turn is None else at_turn
        if not 0 <= at_turn <= snapshot.turn_count:
            raise ValidationError({"at_turn": [f"The story has turns 1 to {snapshot.turn_count}; "
                                               f"{at_turn} is not one of them."]})
        state = snapshot.state
        if at_turn < snapshot.turn_count:
            following = series_items(snapshot.series_id, snapshot.version, Kind.TURN, key=str(at_turn + 1)).get(
                (Kind.TURN, str(at_turn + 1)))
            state = (following[1].get("state_before") if following else None) or state
        story = Story(user_id=user.pk, state=state, base_series_id=snapshot.series_id, base_version=snapshot.version,
                      base_turn=at_turn, storage_mode=StorageMode.REFERENCE,
                      **{field: getattr(snapshot, field) for field in STORY_FIELDS})
        if title:
            story.title = title[:200]
        size = story.text_bytes()
        story.storage_bytes = size
        story.save()
        quota_check(user, stories=1, storage_bytes=size)
        _copy_world(user=user, story=story, snapshot=snapshot)
        if snapshot.story_so_far and at_turn == snapshot.turn_count and at_turn:
            StoryArc.objects.create(user_id=user.pk, story=story, first_turn=1, last_turn=at_turn,
                                    summary=snapshot.story_so_far)
            quota_accounting.story_add(user=user, story=story, delta=len(snapshot.story_so_far.encode()))
    return story


def _copy_world(*, user, story: Story, snapshot: StorySnapshot) -> None:
    # The world only: reading the turns would make a fork cost the story's length.
    items = series_items(snapshot.series_id, snapshot.version, kinds=WORLD_KINDS)
    in_order = sorted(items.items(), key=lambda item: (item[0][0], item[1][0]))  # the cast in its order
    changes = {item: payload for item, (_, payload) in in_order}
    for item in [item for item in changes if item[0] == Kind.KNOWLEDGE]:  # who knew what at the copied turn
        changes[item] = knowledge_copies.as_of(changes[item], story.base_turn)
        if changes[item] is None:
            del changes[item]
    world_apply(user=user, story=story, changes=changes, current={})  # a new story: nothing to read first


def base_turn_text(story: Story, number: int) -> StoryTurn | None:
    return story_turns(story=story).filter(number=number).exclude(origin=StoryTurn.Origin.OWN).first()


def turn_text_set(*, user, story: Story, number: int, prose: str) -> StoryTurn:
    """Change the text of turn ``number``: the story's own turn directly; a turn it reads from its
    snapshot by an override row (``delta``), or, past the share, by copying all of them (``full_copy``)."""
    if not isinstance(prose, str) or not prose.strip():
        raise ValidationError({"prose": ["The passage cannot be empty."]})
    with acting_as(user), transaction.atomic():
        story = Story.objects.select_for_update().get(pk=story.pk)
        own = Turn.objects.filter(story=story, number=number).first()
        if own is not None:
            if own.status != Turn.Status.COMPLETED:
                raise ValidationError({"prose": [f"Turn {number} is {own.status}: retry or undo it first."]})
            own.prose = prose
            quota_accounting.turn_rewritten(user=user, story=story, turn=own)
            own.save(update_fields=["prose", "storage_bytes"])
        else:
            base = base_turn_text(story, number)
            if base is None:
                raise ValidationError({"number": [f"There is no turn {number}."]})
            override, created = TurnOverride.objects.get_or_create(
                user_id=story.user_id, story=story, number=number,
                defaults={"action": base.action, "prose": prose})
            before = 0 if created else len(override.action.encode()) + len(override.prose.encode())
            override.prose = prose
            override.save()
            quota_accounting.story_add(user=user, story=story, delta=len(override.action.encode()) + len(prose.encode()) - before)
            _mode_after_edit(user=user, story=story)
        return story_turns(story=story).get(number=number)


def _mode_after_edit(*, user, story: Story) -> None:
    edited = TurnOverride.objects.filter(story=story).count()
    if edited > FULL_COPY_SHARE * story.base_turn:
        materialize(user=user, story=story)
    elif edited and story.storage_mode == StorageMode.REFERENCE:
        story.storage_mode = StorageMode.DELTA
        story.save(update_fields=["storage_mode", "updated_at"])


def materialize(*, user, story: Story) -> None:
    """Copy the turns the story reads from its snapshot into its own rows (``full_copy``); the base
    version is kept for lineage and sync. Runs inside the owner's ``acting_as`` and a transaction."""
    inherited = list(story_turns(story=story).filter(number__lte=story.base_turn).exclude(
        origin=StoryTurn.Origin.OWN).values("number", "action", "prose", "alternatives"))
    now = timezone.now()
    turns = [Turn(id=uuid.uuid4(), user_id=story.user_id, story=story, number=row["number"], action=row["action"],
                  prose=row["prose"], alternatives=row["alternatives"], idempotency_key=f"base-{row['number']}",
                  status=Turn.Status.COMPLETED, completed_at=now, state_before=story.state)
             for row in inherited]
    for turn in turns:
        turn.storage_bytes = quota_accounting.turn_text_bytes(turn)
    freed = sum(len(o.action.encode()) + len(o.prose.encode()) for o in TurnOverride.objects.filter(story=story))
    TurnOverride.objects.filter(story=story).delete()
    story.base_turn, story.storage_mode = 0, StorageMode.FULL_COPY
    story.save(update_fields=["base_turn", "storage_mode", "updated_at"])
    Turn.objects.bulk_create(turns, batch_size=500)
    quota_accounting.story_add(user=user, story=story, delta=sum(turn.storage_bytes for turn in turns) - freed)


def snapshot_file(snapshot, lore_format: str) -> tuple[bytes, str, str]:
    """A published version's chapters, lore and cast in a format: (bytes, content type, extension)."""
    items = sorted(series_items(snapshot.series_id, snapshot.version, kinds=WORLD_KINDS).items(),
                   key=lambda item: (item[0][0], item[1][0]))
    payloads = {kind: [(key, payload) for (kind_of, key), (_, payload) in items if kind_of == kind]
                for kind in WORLD_KINDS}
    books = []
    for book_key, fields in payloads["lorebook"]:
        entries = [doc.Entry(**entry) for key, entry in payloads["loreentry"] if entry_key(key)[0] == book_key]
        books.append(doc.Book(**fields, entries=entries))
    characters = [doc.Character(**{**fields, "source_fields": doc.fields_from_text(fields["source_fields"])})
                  for _, fields in payloads["character"]]
    document = doc.LoreDocument(books=books, characters=characters,
                                chapters=[chapter for _, chapter in payloads["chapter"]])
    try:
        written = importers.write(document, lore_format)
    except importers.FormatError as error:
        raise ValidationError({"format": [str(error)]}) from error
    content_type, extension = CONTENT_TYPES.get(lore_format, ("application/json", "json"))
    return written.text.encode("utf-8"), content_type, extension


# The writes a source sync makes (DESIGN §5: copy-on-write storage is the core's; the marketplace's
# sync decides what changes and calls these) ---------------------------------------------------

def story_rebase(*, story: Story, series_id, version: int) -> None:
    """Base the story on ``version`` of ``series_id``: every turn it has not overridden then reads
    that version's text. A story not based on that series (a plain one, or a story a character or
    chapter set was taken into) keeps its base. ``story`` is locked by the caller."""
    if story.base_series_id == series_id and story.storage_mode != StorageMode.PLAIN:
        story.base_version = version
        story.save(update_fields=["base_version", "updated_at"])


def turn_override_set(*, story: Story, number: int, action: str, prose: str) -> None:
    """Turn ``number``, read from the story's snapshot, reads ``action`` and ``prose`` from now on
    (its override row, created or changed; its alternatives stay)."""
    TurnOverride.objects.update_or_create(user_id=story.user_id, story=story, number=number,
                                          defaults={"action": action, "prose": prose})


def turn_overrides_restore(*, story: Story, overrides: dict[int, dict | None]) -> None:
    """Put override rows back as they were: number -> ``{"action", "prose", "alternatives"}``, or
    ``None`` for a turn that had none. A row gone since (its turns copied into the story's own) stays gone."""
    for number, before in overrides.items():
        rows = turn_overrides(story=story).filter(number=number)
        if before is None:
            rows.delete()
        else:
            rows.update(**before)


def turns_rewrite(*, user, story: Story, texts: dict[int, str],
                  alternatives: dict[int, list[dict]] | None = None) -> dict[str, dict]:
    """The story's own turns (a full copy's) read ``texts`` (number -> prose) and, when given,
    ``alternatives``. Returns what each held before, ``{"prose", "alternatives"}`` by number as
    text, so the change can be undone."""
    turns = {turn.number: turn for turn in turns_own(story=story).filter(number__in=list(texts))}
    fields = ["prose", "storage_bytes"] if alternatives is None else ["prose", "alternatives", "storage_bytes"]
    before = {}
    for number, prose in texts.items():
        turn = turns[number]
        before[str(number)] = {"prose": turn.prose, "alternatives": turn.alternatives}
        turn.prose = prose
        if alternatives is not None:
            turn.alternatives = alternatives[number]
        quota_accounting.turn_rewritten(user=user, story=story, turn=turn)
        turn.save(update_fields=fields)
    return before


def turn_alternative_add(*, user, story: Story, number: int, prose: str, alternatives: Sequence[str]) -> None:
    """Turn ``number`` (the story's own, or its override) reads ``prose``; each text of
    ``alternatives`` it does not keep yet is added to its alternatives, as a reroll keeps its
    earlier versions."""
    holder = turn_written(story=story, number=number)
    kept = {alternative["prose"] for alternative in holder.alternatives}
    holder.prose = prose
    holder.alternatives = holder.alternatives + [
        {"prose": text, "created_at": timezone.now().isoformat()} for text in alternatives if text not in kept]
    if isinstance(holder, Turn):
        quota_accounting.turn_rewritten(user=user, story=story, turn=holder)
    holder.save()
