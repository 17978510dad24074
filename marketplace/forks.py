"""Forks and branches: the marketplace's records and workflow over the core's copy-on-write stories.

A fork is the user's own story based on a published version (``snapshots.story_from_snapshot``:
no turn copied); a branch is the same from one's own story at a turn. The fork record keeps the
lineage and licence; the storage mode belongs to the story.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.rls import acting_as
from narrative_pipeline import snapshots
from narrative_pipeline.models import SnapshotSeries, Story, StorySnapshot

from .models import Activity, CommunityStory, StoryFork


def fork(*, user, listing_id, at_turn: int | None = None) -> StoryFork:
    """The user's fork of a published story's latest version, at its end or at ``at_turn``."""
    with acting_as(user), transaction.atomic():
        listing = CommunityStory.objects.select_related("series").filter(pk=listing_id).first()
        if listing is None:
            raise CommunityStory.DoesNotExist("There is no such published story.")
        series = listing.series
        if series.is_hidden:
            raise PermissionDenied("This story was hidden by the moderators and cannot be forked.")
        if not series.is_public and listing.author_id != user.pk:
            raise PermissionDenied("This story is no longer published and cannot be forked.")
        snapshot = StorySnapshot.objects.get(series=series, version=series.latest_version)
        story = snapshots.story_from_snapshot(user=user, snapshot=snapshot, at_turn=at_turn)
        record = StoryFork.objects.create(
            user_id=user.pk, story=story, community=listing, series=series, version=snapshot.version,
            at_turn=story.base_turn, source_title=listing.title, source_author=listing.attribution,
            licence=listing.licence)
        Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.FORK)
    return record


def branch(*, user, story: Story, at_turn: int) -> StoryFork:
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
        parent = StoryFork.objects.filter(story=story).first()  # a branch of a fork keeps its licence
        return StoryFork.objects.create(
            user_id=user.pk, story=branched, community=parent.community if parent else None,
            series=snapshot.series, version=snapshot.version, at_turn=at_turn, source_title=story.title,
            source_author=user.username, licence=parent.licence if parent else "")


def lineage(listing: CommunityStory) -> list[dict]:
    """Where a published story comes from, nearest first: each step's title, author and version."""
    chain, seen, current = [], {listing.pk}, listing
    while current.derived_from_id and current.derived_from_id not in seen:
        parent = CommunityStory.objects.filter(pk=current.derived_from_id).first()
        if parent is None:  # no longer readable (hidden and not ours): the chain stops there
            chain.append({"id": None, "title": "(no longer published)", "author": "", "version": None})
            break
        chain.append({"id": str(parent.pk), "title": parent.title, "author": parent.attribution,
                      "version": current.derived_from_version})
        seen.add(parent.pk)
        current = parent
    return chain
