"""Marketplace writes: publishing versions, likes, downloads, reports, hiding. Each runs as the
acting user under RLS; counts move only through the actor's own activity rows (a trigger)."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Func, Value

from accounts.rls import acting_as
from chapters.models import StoryChapter
from core.errors import CONFLICT, DomainError
from narrative_pipeline import snapshots
from narrative_pipeline.models import Character, SnapshotSeries, Story

from .models import ASSET_ITEMS, Activity, AssetKind, ForkRecord, Licence, Listing, Rating, Report

MAX_TAGS, MAX_TAG_CHARS = 20, 40
ND_LICENCES = (Licence.CC_BY_ND, Licence.ALL_RIGHTS_RESERVED)


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


def _licence_for(story: Story, licence: str, kind: str) -> tuple[str, ForkRecord | None]:
    """The licence a story (or its chapters, a character) may be published under, given what it
    was forked from and the chapter sets and characters taken into it (DESIGN §5); and the record
    of what it derives from, for lineage."""
    if licence not in Licence.values:
        raise ValidationError({"licence": [f"The licence is one of {', '.join(Licence.values)}."]})
    records = list(ForkRecord.objects.filter(story=story).exclude(licence=""))
    for record in records:
        if record.licence in ND_LICENCES:
            raise PermissionDenied(f"“{record.source_title}” is {record.get_licence_display()}: a story using it can be played, "
                                   "not published.")
    share_alike = share_alike_source(records)
    if share_alike is not None and licence != Licence.CC_BY_SA:
        raise ValidationError({"licence": [f"“{share_alike.source_title}” is CC BY-SA 4.0: a story using it is "
                                           "published under CC BY-SA 4.0 too."]})
    return licence, next((record for record in records if record.kind == kind), None)


def share_alike_source(records) -> ForkRecord | None:
    """The first of a story's fork records that is CC-BY-SA: then the story is published under CC-BY-SA too."""
    return next((record for record in records if record.licence == Licence.CC_BY_SA), None)


def licence_offered(records) -> str:
    """The licence the publish form offers first for a story with these fork records: the one it must take."""
    return Licence.CC_BY if share_alike_source(records) is None else Licence.CC_BY_SA


def search_index_update(*, listings) -> None:
    """Weighted full-text vectors: title above description and tags above genre."""
    tags = Func("tags", Value(" "), function="array_to_string", output_field=CharField())
    listings.update(search=(
        SearchVector("title", weight="A", config="english") + SearchVector("description", weight="B", config="english")
        + SearchVector(tags, weight="B", config="english") + SearchVector("genre", weight="C", config="english")))


def listing_publish(*, user, story: Story, kind: str = AssetKind.STORY, character: str = "", title: str = "",
            description: str = "", genre: str = "", tags=None, licence: str = Licence.CC_BY,
            rating: str = Rating.GENERAL, changelog: str = "") -> Listing:
    """Publish the user's own story (``kind`` story), its chapter set (``chapters``) or one of its
    characters (``character``, named by ``character``), or a new version of it: an immutable
    snapshot storing only what changed since the last one. Returns the listing; its series'
    ``latest_version`` is the new version."""
    tags = clean_tags(tags)
    if kind not in AssetKind.values:
        raise ValidationError({"kind": [f"The kind is one of {', '.join(AssetKind.values)}."]})
    if rating not in Rating.values:
        raise ValidationError({"rating": [f"The rating is one of {', '.join(Rating.values)}."]})
    character = character.strip() if kind == AssetKind.CHARACTER and isinstance(character, str) else ""
    with acting_as(user), transaction.atomic():
        story = Story.objects.select_for_update().filter(pk=story.pk, user_id=user.pk).first()
        if story is None:
            raise PermissionDenied("Only a story's owner can publish it.")
        default_title = _asset_checked(story, kind, character)
        licence, source = _licence_for(story, licence, kind)
        # Published before (even if unpublished since): the same listing gets the next version.
        listing = Listing.objects.filter(series__source_story=story, author_id=user.pk, kind=kind,
                                                character_name=character).first()
        fields = {"title": (title or default_title)[:200], "description": description, "genre": genre or story.genre,
                  "tags": tags, "licence": licence, "rating": rating}
        items = {"kinds": ASSET_ITEMS[kind], "key": character or None} if kind != AssetKind.STORY else {}
        if listing is None:
            snapshot = snapshots.snapshot_create(user=user, story=story, changelog=changelog or "First version.",
                                                 public=True, **items)
            listing = Listing.objects.create(
                series_id=snapshot.series_id, author_id=user.pk, author_name=user.username, kind=kind,
                character_name=character, derived_from=source.community if source else None,
                derived_from_version=source.version if source else None, **fields)
        else:
            snapshots.snapshot_create(user=user, story=story, series=listing.series, changelog=changelog, **items)
            for name, value in fields.items():
                setattr(listing, name, value)
            listing.save()
            SnapshotSeries.objects.filter(pk=listing.series_id).update(is_public=True)
        search_index_update(listings=Listing.objects.filter(pk=listing.pk))
        listing.refresh_from_db()
    return listing


def _asset_checked(story: Story, kind: str, character: str) -> str:
    """The asset's default title, once the story has what is published."""
    if kind == AssetKind.CHAPTERS:
        if not StoryChapter.objects.filter(story=story).exists():
            raise ValidationError({"kind": ["This story has no chapters to publish."]})
        return f"{story.title}: the chapters"
    if kind == AssetKind.CHARACTER:
        if not character:
            raise ValidationError({"character": ["Name the character to publish."]})
        if not Character.objects.filter(story=story, name=character).exists():
            raise ValidationError({"character": [f"This story has no character named {character!r}."]})
        return character
    return story.title


def listing_unpublish(*, user, listing: Listing) -> None:
    """The author takes the story out of the marketplace; forks of it keep reading it."""
    with acting_as(user):
        if SnapshotSeries.objects.filter(pk=listing.series_id, author_id=user.pk).update(is_public=False) != 1:
            raise PermissionDenied("Only its author can unpublish a story.")


def listing_like(*, user, listing: Listing) -> None:
    try:
        with acting_as(user), transaction.atomic():
            Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.LIKE)
    except IntegrityError as error:
        raise DomainError(CONFLICT, "You already like this story.") from error


def download_count(*, user, listing: Listing) -> None:
    """Count a download once per user."""
    with acting_as(user), transaction.atomic():
        if not Activity.objects.filter(user_id=user.pk, community=listing, kind=Activity.Kind.DOWNLOAD).exists():
            try:
                with transaction.atomic():
                    Activity.objects.create(user_id=user.pk, community=listing, kind=Activity.Kind.DOWNLOAD)
            except IntegrityError:
                pass  # the same user downloading twice at once: counted once


def report_create(*, user, listing: Listing, reason: str) -> Report:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError({"reason": ["Say what is wrong with this story."]})
    with acting_as(user):
        return Report.objects.create(user_id=user.pk, community=listing, reason=reason[:2_000])


def listing_moderate(*, listing: Listing, hidden: bool) -> None:
    """A moderator hides (or restores) a published story: it leaves browse and cannot be newly
    forked; existing forks keep reading it. Runs as the moderator's role (``acting_as(user, moderator=True)``)."""
    if SnapshotSeries.objects.filter(pk=listing.series_id).update(is_hidden=hidden) != 1:
        raise PermissionDenied("Only moderators can hide or restore a story.")
    Report.objects.filter(community=listing, status=Report.Status.OPEN if hidden else Report.Status.HIDDEN).update(
        status=Report.Status.HIDDEN if hidden else Report.Status.OPEN)


def reports_dismiss(*, reports) -> int:
    return reports.filter(status=Report.Status.OPEN).update(status=Report.Status.DISMISSED)
