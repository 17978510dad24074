"""Forks and branches: the marketplace's records and workflow over the core's copy-on-write stories.

A fork is the user's own story based on a published version (``snapshots.story_from_snapshot``:
no turn copied); a branch is the same from one's own story at a turn. A published chapter set or
character is taken into one of the user's stories (or a new one): its items become the story's,
after the story's own chapters. The fork record keeps the lineage, the licence and the version
last synced; the storage mode belongs to the story.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.models import StoryChapter
from narrative_pipeline import services as story_services
from narrative_pipeline import snapshots
from narrative_pipeline.models import SnapshotItem, SnapshotSeries, Story, StorySnapshot

from .models import ASSET_ITEMS, Activity, AssetKind, ForkRecord, Listing


def _forkable(*, user, listing_id, kind: str) -> Listing:
    listing = Listing.objects.select_related("series").filter(pk=listing_id, kind=kind).first()
    if listing is None:
        raise Listing.DoesNotExist(f"There is no such published {AssetKind(kind).label.lower()}.")
    if listing.series.is_hidden:
        raise PermissionDenied("This was hidden by the moderators and cannot be forked.")
    if not listing.series.is_public and listing.author_id != user.pk:
        raise PermissionDenied("This is no longer published and cannot be forked.")
    return listing


def fork_create(*, user, listing_id, at_turn: int | None = None) -> ForkRecord:
    """The user's fork of a published story's latest version, at its end or at ``at_turn``."""
    with acting_as(user), transaction.atomic():
        listing = _forkable(user=user, listing_id=listing_id, kind=AssetKind.STORY)
        series = listing.series
        snapshot = StorySnapshot.objects.get(series=series, version=series.latest_version)
        story = snapshots.story_from_snapshot(user=user, snapshot=snapshot, at_turn=at_turn)
        record = ForkRecord.objects.create(
            user_id=user.pk, story=story, community=listing, series=series, version=snapshot.version,
            at_turn=story.base_turn, source_title=listing.title, source_author=listing.attribution,
            licence=listing.licence)
        Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.FORK)
    return record


def asset_take(*, user, listing_id, kind: str, story_id=None) -> ForkRecord:
    """The latest version of a published chapter set or character, forked into the user's story
    ``story_id`` (or a new story named after it), with lineage and sync like a story's fork."""
    with acting_as(user), transaction.atomic():
        listing = _forkable(user=user, listing_id=listing_id, kind=kind)
        if story_id is None:
            story = story_services.story_create(user=user, title=listing.title)
        else:
            story = Story.objects.select_for_update().filter(pk=story_id, user_id=user.pk).first()
            if story is None:
                raise Story.DoesNotExist("You have no such story.")
        last = StoryChapter.objects.filter(story=story).aggregate(last=Max("number"))["last"] or 0
        record = ForkRecord(
            user_id=user.pk, story=story, kind=kind, community=listing, series=listing.series,
            version=listing.series.latest_version, at_turn=0, chapter_offset=last if kind == AssetKind.CHAPTERS else 0,
            source_title=listing.title, source_author=listing.attribution, licence=listing.licence)
        items = asset_world(record, record.version)
        story_services.character_names_check(
            story=story, names=[name for kind_of, name in items if kind_of == SnapshotItem.Kind.CHARACTER],
            field="story_id")
        snapshots.world_apply(user=user, story=story, changes=items)
        record.save()
        Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.FORK)
    return record


def asset_world(record: ForkRecord, version: int) -> dict[tuple[str, str], dict]:
    """The world items of the record's version, as its story holds them: a chapter set's chapters
    numbered after the story's own (with the prerequisites and blockers that name them)."""
    kinds = [kind for kind in ASSET_ITEMS[record.kind] if kind != SnapshotItem.Kind.TURN]
    items = {item: payload for item, (_, payload) in snapshots.series_items(record.series_id, version,
                                                                            kinds=kinds).items()}
    chapters = [payload for (kind, _), payload in items.items() if kind == SnapshotItem.Kind.CHAPTER]
    if not record.chapter_offset or not chapters:
        return items
    world = {item: payload for item, payload in items.items() if item[0] != SnapshotItem.Kind.CHAPTER}
    for chapter in chapter_services.chapters_renumbered(chapters, record.chapter_offset):
        world[(SnapshotItem.Kind.CHAPTER, str(chapter["number"]))] = chapter
    return world


def branch_create(*, user, story: Story, at_turn: int) -> ForkRecord:
    """A new story of the user's that shares ``story``'s turns up to ``at_turn`` and goes its own way.

    The story's private series gets a version (only what changed since its last branch is stored).
    """
    with acting_as(user), transaction.atomic():
        if not Story.objects.filter(pk=story.pk, user_id=user.pk).exists():
            raise PermissionDenied("Only a story's owner can branch it.")
        series = SnapshotSeries.objects.filter(source_story=story, is_public=False, author_id=user.pk,
                                               listing__isnull=True).first()
        snapshot = snapshots.snapshot_create(user=user, story=story, series=series, changelog=f"Branch at {at_turn}.")
        title = f"{story.title} (from turn {at_turn})"
        branched = snapshots.story_from_snapshot(user=user, snapshot=snapshot, at_turn=at_turn, title=title)
        parent = ForkRecord.objects.filter(story=story, kind=AssetKind.STORY).first()  # a branch keeps its licence
        return ForkRecord.objects.create(
            user_id=user.pk, story=branched, community=parent.community if parent else None,
            series=snapshot.series, version=snapshot.version, at_turn=at_turn, source_title=story.title,
            source_author=user.username, licence=parent.licence if parent else "")
