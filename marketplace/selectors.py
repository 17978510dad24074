"""Marketplace reads: browse and search, an asset's page, versions with what changed, the user's listings and
fork records, a fork's syncs and conflicts."""

from __future__ import annotations

import base64
import json

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from chapters.models import StoryChapter
from core.compare import unified_diff
from narrative_pipeline.models import Character, SnapshotItem, SnapshotSeries, Story, StorySnapshot
from narrative_pipeline.snapshots import series_items

from .display import item_fields_compared
from .models import ASSET_ITEMS, AssetKind, ForkRecord, Licence, Listing, Rating, SyncConflict, SyncRun

SORTS = ("relevance", "popular", "recent", "trending", "most_forked")
MAX_QUERY_CHARS = 200


class PublicBrowse:
    """Published, visible stories matching the filters, in the order asked: a sliceable sequence
    (for ``Paginator`` and DRF pagination) whose pages the ``marketplace_browse`` database function
    picks and orders, so its full-text and trigram GIN indexes serve the search (DESIGN §6)."""

    FIRST = 100  # the first call fetches this many ids with the count: page one costs one call

    def __init__(self, *, kind: str, q: str, tags: list[str], all_tags: bool, genre: str, licence: str, rating: str,
                 sort: str):
        self.arguments = [kind, q, tags, all_tags, genre, licence, rating, sort]
        self._count, self._first = None, None

    def _page(self, limit: int, offset: int) -> tuple[list, int]:
        """(the ids of the page, how many match in all)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT listing_id, total FROM marketplace_browse(%s, %s, %s::varchar[], %s, %s, %s, %s, %s, "
                           "%s, %s)", [*self.arguments, limit, offset])
            rows = cursor.fetchall()
        return [row[0] for row in rows], rows[0][1] if rows else 0

    def count(self) -> int:
        if self._count is None:
            self._first, self._count = self._page(self.FIRST, 0)
        return self._count

    def _ids(self, start: int, stop: int) -> list:
        if stop <= start:
            return []
        if self._first is not None and stop <= self.FIRST:
            return self._first[start:stop]
        return self._page(stop - start, start)[0]

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[0:self.count()])

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index:index + 1][0]
        start = index.start or 0
        stop = self.count() if index.stop is None else index.stop
        ids = self._ids(start, stop)
        listings = {listing.pk: listing for listing in _with_counts(Listing.objects.filter(pk__in=ids))}
        return [listings[pk] for pk in ids if pk in listings]


def _with_counts(rows):
    return (rows.select_related("series", "counter")
            .annotate(likes=Coalesce(F("counter__likes"), 0), forks=Coalesce(F("counter__forks"), 0),
                      downloads=Coalesce(F("counter__downloads"), 0), version=F("series__latest_version")))


def browse(*, kind: str = AssetKind.STORY, q: str = "", genre: str = "", tags: list[str] | None = None,
           tags_mode: str = "any", licence: str = "", rating: str = "", sort: str = "") -> PublicBrowse:
    """Published stories, chapter sets or characters (``kind``). ``q`` is full-text (title weighted above description and tags) or, for typos, trigram
    similarity of the title. Any text is safe: it is a parameter, never SQL or a pattern."""
    if sort and sort not in SORTS:
        raise ValidationError({"sort": [f"Sort by one of {', '.join(SORTS)}."]})
    if tags_mode not in ("any", "all"):
        raise ValidationError({"tags_mode": ["tags_mode is any or all."]})
    if licence and licence not in Licence.values:
        raise ValidationError({"licence": [f"The licence is one of {', '.join(Licence.values)}."]})
    if rating and rating not in Rating.values:
        raise ValidationError({"rating": [f"The rating is one of {', '.join(Rating.values)}."]})
    q = (q or "").strip()[:MAX_QUERY_CHARS]
    return PublicBrowse(kind=kind, q=q, tags=[tag.lower() for tag in tags or []][:20], all_tags=tags_mode == "all",
                        genre=genre or "", licence=licence or "", rating=rating or "",
                        sort=sort or ("relevance" if q else "recent"))


def listing_get(listing_id, kind: str | None = None) -> Listing:
    """A listing (of ``kind``) the user may read (public, theirs, or one they hold a fork of); else
    DoesNotExist."""
    rows = _with_counts(Listing.objects)
    return (rows if kind is None else rows.filter(kind=kind)).get(pk=listing_id)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def listing_portrait(listing: Listing) -> bytes | None:
    """The picture a listing's cover shows: its character's portrait (a character asset), or the first portrait
    of the cast (a story), as the latest version published it; None without one. Only a PNG (what cards are),
    so it is served as ``image/png`` and nothing else. Read under RLS: whoever may read the listing."""
    portraits = series_items(listing.series_id, listing.series.latest_version, SnapshotItem.Kind.PORTRAIT)
    if listing.kind == AssetKind.CHARACTER:
        portraits = {item: value for item, value in portraits.items() if item[1] == listing.character_name}
    elif listing.kind != AssetKind.STORY:
        return None
    for _, payload in sorted(portraits.values(), key=lambda value: value[0]):
        image = base64.b64decode(payload.get("image") or "")
        if image.startswith(PNG_SIGNATURE):
            return image
    return None


def versions(listing: Listing) -> list[dict]:
    """Each version, newest first, with its changelog, how many turns, chapters, lore entries and
    characters it changed, and (after the first) the diffs of what it changed."""
    changed = {(row["version"], row["kind"]): row["n"] for row in SnapshotItem.objects.filter(
        series_id=listing.series_id).values("version", "kind").annotate(n=Count("id"))}
    return [{"version": snapshot.version, "changelog": snapshot.changelog, "created_at": snapshot.created_at,
             "turn_count": snapshot.turn_count, "title": snapshot.title,
             "changed": {kind: changed.get((snapshot.version, kind), 0) for kind in SnapshotItem.Kind.values},
             "diffs": version_diffs(listing, snapshot.version) if snapshot.version > 1 else []}
            for snapshot in StorySnapshot.objects.filter(series_id=listing.series_id).order_by("-version")]


def version_diffs(listing: Listing, version: int, limit: int = 20) -> list[dict]:
    """What ``version`` changed against the one before, per item (the first ``limit``): a unified diff, and
    the fields that changed as readable text before and after (``fields``, for a side-by-side diff)."""
    rows = list(SnapshotItem.objects.filter(series_id=listing.series_id, version=version)
                .order_by("kind", "number", "key")[:limit])
    before = series_items(listing.series_id, version - 1)
    diffs = []
    for row in rows:
        old = before.get((row.kind, row.key))
        old_payload, new_payload = old[1] if old else None, None if row.removed else row.payload
        diff = unified_diff(item_text(old_payload), item_text(new_payload), before_label=f"v{version - 1}",
                            after_label=f"v{version}")
        fields = [{"label": field.label, "before": field.before, "after": field.after}
                  for field in item_fields_compared(old_payload, new_payload) if field.has_changed()]
        diffs.append({"kind": row.kind, "key": row.key,
                      "change": "removed" if row.removed else "changed" if old else "added", "diff": diff,
                      "fields": fields})
    return diffs


def item_text(payload) -> str:
    """A snapshot item as text to read and compare: a turn's action and passage, else its fields."""
    if payload is None:
        return ""
    if "prose" in payload:
        return f"> {payload.get('action', '')}\n{payload['prose']}"
    if "image" in payload:  # a portrait: its file, not its bytes
        return f"Portrait from {payload.get('filename') or payload.get('lore_format')} ({len(payload['image']) * 3 // 4} bytes)"
    return json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True)


def opening(listing: Listing, turns: int = 3) -> list[dict]:
    """The first turns of the latest version, for the preview."""
    items = series_items(listing.series_id, listing.series.latest_version, SnapshotItem.Kind.TURN)
    first = sorted(items.values(), key=lambda item: item[0])[:turns]
    return [{"number": number, "action": payload["action"], "prose": payload["prose"]} for number, payload in first]


def contents(listing: Listing) -> list[dict]:
    """What a chapter set or character's latest version holds: each chapter's number, title and
    summary, or the character's card fields."""
    kinds = [kind for kind in ASSET_ITEMS[listing.kind] if kind != SnapshotItem.Kind.PORTRAIT]
    items = series_items(listing.series_id, listing.series.latest_version, kinds=kinds)
    ordered = [payload for _, payload in sorted(items.values(), key=lambda item: item[0])]
    if listing.kind == AssetKind.CHAPTERS:
        return [{"number": chapter["number"], "title": chapter["title"], "summary": chapter.get("summary", "")}
                for chapter in ordered]
    return [{field: character[field] for field in ("name", "description", "personality", "scenario", "first_message")}
            for character in ordered]


def author_others(listing: Listing):
    if listing.author_id is None:
        return Listing.objects.none()
    return (Listing.objects.filter(author_id=listing.author_id, series__is_public=True, series__is_hidden=False)
            .exclude(pk=listing.pk).order_by("-updated_at"))


def with_source_latest(forks_query):
    """Each fork record with ``source_latest``: its series' latest version (``None`` where the series
    is not readable), by a sub-query, so a fork is never dropped by a join. A fork is behind when
    ``source_latest`` is above its ``version``: the update badge."""
    return forks_query.annotate(source_latest=Subquery(
        SnapshotSeries.objects.filter(pk=OuterRef("series_id")).values("latest_version")[:1]))


def listing_own(*, user, story: Story, kind: str = AssetKind.STORY, character: str = "") -> Listing | None:
    """The story's current listing of ``kind`` (its chapters, one character), if its owner has it published
    (what ``services.listing_publish`` updates)."""
    return (Listing.objects.select_related("series")
            .filter(series__source_story=story, series__is_public=True, author_id=user.pk, kind=kind,
                    character_name=character if kind == AssetKind.CHARACTER else "").first())


def listings_of_author(*, user) -> QuerySet[Listing]:
    """The user's listings, published or not, newest first, with their counts and latest version."""
    return (Listing.objects.filter(author_id=user.pk).select_related("series", "counter")
            .annotate(likes=Coalesce(F("counter__likes"), 0), forks=Coalesce(F("counter__forks"), 0),
                      downloads=Coalesce(F("counter__downloads"), 0), version=F("series__latest_version"))
            .order_by("-updated_at"))


def fork_records_of_user(*, user) -> QuerySet[ForkRecord]:
    """Every fork record of the user, newest first, with ``source_latest``."""
    return with_source_latest(ForkRecord.objects.filter(user_id=user.pk)).order_by("-created_at")


def fork_records_of_story(story: Story) -> QuerySet[ForkRecord]:
    """What ``story`` was forked or branched from and the assets taken into it, oldest first."""
    return with_source_latest(ForkRecord.objects.filter(story=story)).order_by("created_at")


def fork_record_own(*, user, fork_id) -> ForkRecord | None:
    """The user's own fork record (under RLS another user's does not exist either), with ``source_latest``."""
    return (with_source_latest(ForkRecord.objects.filter(pk=fork_id, user_id=user.pk))
            .select_related("story", "community").first())


def sync_run_undoable(record: ForkRecord) -> SyncRun | None:
    """The fork's last sync that did something and is not undone: what *Undo* puts back (a sync that
    found nothing to do is nothing to undo)."""
    return (SyncRun.objects.filter(fork=record, status=SyncRun.Status.DONE).exclude(from_version=F("to_version"))
            .order_by("-created_at").first())


def sync_undo_ends_with(record: ForkRecord, run_id: int) -> bool:
    """Whether resolving a conflict of the sync ``run_id`` would end *Undo the last sync*: it is the sync undo
    puts back and none of its conflicts is resolved yet (resolutions stay, so undo stops at the first)."""
    run = sync_run_undoable(record)
    return run is not None and run.pk == run_id and not run.conflicts.exclude(choice="").exists()


def sync_conflict_own(record: ForkRecord, conflict_id: int) -> SyncConflict | None:
    return SyncConflict.objects.filter(pk=conflict_id, fork=record).first()


def sync_run_latest(record: ForkRecord) -> SyncRun | None:
    return record.sync_runs.order_by("-created_at").first()


def sync_conflicts(record: ForkRecord) -> QuerySet[SyncConflict]:
    """The fork's conflicts in the order of its story: by turn, then as found."""
    return SyncConflict.objects.filter(fork=record).select_related("run").order_by("turn_number", "id")


def story_character_names(story: Story) -> list[str]:
    return list(Character.objects.filter(story=story).values_list("name", flat=True))


def story_has_chapters(story: Story) -> bool:
    return StoryChapter.objects.filter(story=story).exists()


def story_has_characters(story: Story) -> bool:
    return Character.objects.filter(story=story).exists()


def listing_lineage(listing: Listing) -> list[dict]:
    """Where a published story comes from, nearest first: each step's title, author and version."""
    chain, seen, current = [], {listing.pk}, listing
    while current.derived_from_id and current.derived_from_id not in seen:
        parent = Listing.objects.filter(pk=current.derived_from_id).first()
        if parent is None:  # no longer readable (hidden and not ours): the chain stops there
            chain.append({"id": None, "title": "(no longer published)", "author": "", "version": None})
            break
        chain.append({"id": str(parent.pk), "title": parent.title, "author": parent.attribution,
                      "version": current.derived_from_version})
        seen.add(parent.pk)
        current = parent
    return chain


def fork_record_get(fork_id) -> ForkRecord:
    """A fork record the user may read (their own: under RLS another user's does not exist); else DoesNotExist."""
    return ForkRecord.objects.get(pk=fork_id)


def fork_conflicts(*, fork_id, state: str) -> QuerySet[SyncConflict]:
    """A fork's conflicts as found: ``open``, ``resolved`` or ``all``."""
    rows = SyncConflict.objects.filter(fork_id=fork_id)
    if state != "all":
        rows = rows.filter(choice="") if state == "open" else rows.exclude(choice="")
    return rows.order_by("id")
