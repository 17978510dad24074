"""Marketplace writes: publishing versions, likes, downloads, reports, hiding. Each runs as the
acting user under RLS; counts move only through the actor's own activity rows (a trigger)."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Func, Value

from accounts.rls import acting_as
from narrative_pipeline import snapshots
from narrative_pipeline.models import SnapshotSeries, Story

from .models import Activity, AssetKind, CommunityStory, Licence, Rating, Report, StoryFork

MAX_TAGS, MAX_TAG_CHARS = 20, 40
ND_LICENCES = (Licence.CC_BY_ND, Licence.ALL_RIGHTS_RESERVED)


class Conflict(Exception):
    """A repeat of something done once (a second like): HTTP 409."""


def clean_tags(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValidationError({"tags": ["Tags are a list of words."]})
    if len(tags) > MAX_TAGS:
        raise ValidationError({"tags": [f"At most {MAX_TAGS} tags; this list has {len(tags):,}."]})
    cleaned = []
    for tag in tags:
        tag = " ".join(tag.split()).lower()
        if not tag or len(tag) > MAX_TAG_CHARS:
            raise ValidationError({"tags": [f"Each tag is 1 to {MAX_TAG_CHARS} characters; {tag[:50]!r} is not."]})
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _licence_for(story: Story, licence: str) -> tuple[str, StoryFork | None]:
    """The licence a story may be published under, given what it was forked from and the chapter
    sets and characters taken into it (DESIGN §5); and its story fork record, for lineage."""
    if licence not in Licence.values:
        raise ValidationError({"licence": [f"The licence is one of {', '.join(Licence.values)}."]})
    records = list(StoryFork.objects.filter(story=story).exclude(licence=""))
    for record in records:
        if record.licence in ND_LICENCES:
            raise PermissionDenied(f"“{record.source_title}” is {record.licence}: a story using it can be played, "
                                   "not published.")
        if record.licence == Licence.CC_BY_SA and licence != Licence.CC_BY_SA:
            raise ValidationError({"licence": [f"“{record.source_title}” is CC-BY-SA: a story using it is published "
                                               "under CC-BY-SA too."]})
    return licence, next((record for record in records if record.kind == AssetKind.STORY), None)


def search_index(listings) -> None:
    """Weighted full-text vectors: title above description and tags above genre."""
    tags = Func("tags", Value(" "), function="array_to_string", output_field=CharField())
    listings.update(search=(
        SearchVector("title", weight="A", config="english") + SearchVector("description", weight="B", config="english")
        + SearchVector(tags, weight="B", config="english") + SearchVector("genre", weight="C", config="english")))


def publish(*, user, story: Story, title: str = "", description: str = "", genre: str = "", tags=None,
            licence: str = Licence.CC_BY, rating: str = Rating.GENERAL, changelog: str = "") -> CommunityStory:
    """Publish the user's own story, or a new version of it: an immutable snapshot storing only what
    changed since the last one. Returns the listing; its series' ``latest_version`` is the new version."""
    tags = clean_tags(tags)
    if rating not in Rating.values:
        raise ValidationError({"rating": [f"The rating is one of {', '.join(Rating.values)}."]})
    with acting_as(user), transaction.atomic():
        story = Story.objects.select_for_update().filter(pk=story.pk, user_id=user.pk).first()
        if story is None:
            raise PermissionDenied("Only a story's owner can publish it.")
        licence, fork = _licence_for(story, licence)
        # Published before (even if unpublished since): the same listing gets the next version.
        listing = CommunityStory.objects.filter(series__source_story=story, author_id=user.pk).first()
        fields = {"title": (title or story.title)[:200], "description": description, "genre": genre or story.genre,
                  "tags": tags, "licence": licence, "rating": rating}
        if listing is None:
            snapshot = snapshots.snapshot_create(user=user, story=story, changelog=changelog or "First version.",
                                                 public=True)
            listing = CommunityStory.objects.create(
                series_id=snapshot.series_id, author_id=user.pk, author_name=user.username,
                derived_from=fork.community if fork else None, derived_from_version=fork.version if fork else None,
                **fields)
        else:
            snapshots.snapshot_create(user=user, story=story, series=listing.series, changelog=changelog)
            for name, value in fields.items():
                setattr(listing, name, value)
            listing.save()
            SnapshotSeries.objects.filter(pk=listing.series_id).update(is_public=True)
        search_index(CommunityStory.objects.filter(pk=listing.pk))
        listing.refresh_from_db()
    return listing


def unpublish(*, user, listing: CommunityStory) -> None:
    """The author takes the story out of the marketplace; forks of it keep reading it."""
    with acting_as(user):
        if SnapshotSeries.objects.filter(pk=listing.series_id, author_id=user.pk).update(is_public=False) != 1:
            raise PermissionDenied("Only its author can unpublish a story.")


def like(*, user, listing: CommunityStory) -> None:
    try:
        with acting_as(user), transaction.atomic():
            Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.LIKE)
    except IntegrityError as error:
        raise Conflict("You already like this story.") from error


def downloaded(*, user, listing: CommunityStory) -> None:
    """Count a download once per user."""
    with acting_as(user), transaction.atomic():
        if not Activity.objects.filter(user_id=user.pk, community=listing, kind=Activity.Kind.DOWNLOAD).exists():
            try:
                with transaction.atomic():
                    Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.DOWNLOAD)
            except IntegrityError:
                pass  # the same user downloading twice at once: counted once


def report(*, user, listing: CommunityStory, reason: str) -> Report:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError({"reason": ["Say what is wrong with this story."]})
    with acting_as(user):
        return Report.objects.create(user_id=user.pk, community=listing, reason=reason[:2_000])


def moderate(*, listing: CommunityStory, hidden: bool) -> None:
    """A moderator hides (or restores) a published story: it leaves browse and cannot be newly
    forked; existing forks keep reading it. Runs inside the moderator's ``moderating()``."""
    if SnapshotSeries.objects.filter(pk=listing.series_id).update(is_hidden=hidden) != 1:
        raise PermissionDenied("Only moderators can hide or restore a story.")
    Report.objects.filter(community=listing, status=Report.Status.OPEN if hidden else Report.Status.HIDDEN).update(
        status=Report.Status.HIDDEN if hidden else Report.Status.OPEN)


def reports_dismiss(*, reports) -> int:
    return reports.filter(status=Report.Status.OPEN).update(status=Report.Status.DISMISSED)
