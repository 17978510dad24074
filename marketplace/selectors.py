"""Marketplace reads: browse and search, an asset's page, versions with what changed."""

from __future__ import annotations

import difflib
import json

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.core.exceptions import ValidationError
from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, Value
from django.db.models.functions import Coalesce, Exp, Extract, Now

from narrative_pipeline.models import SnapshotItem, StorySnapshot

from .models import CommunityStory, Licence, Rating

SORTS = ("relevance", "popular", "recent", "trending", "most_forked")
TRIGRAM_THRESHOLD = 0.3
MAX_QUERY_CHARS = 200
TREND_SECONDS = 259_200.0  # the counters' decay time constant: three days


def browse(*, q: str = "", genre: str = "", tags: list[str] | None = None, tags_mode: str = "any",
           licence: str = "", rating: str = "", sort: str = ""):
    """Published, visible stories matching the filters, with their counts, in the order asked.

    ``q`` is full-text (title weighted above description and tags) or, for typos, trigram
    similarity of the title. Any text is safe: it is a parameter, never SQL or a pattern.
    """
    if sort and sort not in SORTS:
        raise ValidationError({"sort": [f"Sort by one of {', '.join(SORTS)}."]})
    if tags_mode not in ("any", "all"):
        raise ValidationError({"tags_mode": ["tags_mode is any or all."]})
    if licence and licence not in Licence.values:
        raise ValidationError({"licence": [f"The licence is one of {', '.join(Licence.values)}."]})
    if rating and rating not in Rating.values:
        raise ValidationError({"rating": [f"The rating is one of {', '.join(Rating.values)}."]})
    rows = (CommunityStory.objects.filter(series__is_public=True, series__is_hidden=False)
            .select_related("series", "counter")
            .annotate(likes=Coalesce(F("counter__likes"), 0), forks=Coalesce(F("counter__forks"), 0),
                      downloads=Coalesce(F("counter__downloads"), 0),
                      version=F("series__latest_version")))
    if genre:
        rows = rows.filter(genre__iexact=genre)
    if tags:
        tags = [tag.lower() for tag in tags][:20]
        rows = rows.filter(tags__contains=tags) if tags_mode == "all" else rows.filter(tags__overlap=tags)
    if licence:
        rows = rows.filter(licence=licence)
    if rating:
        rows = rows.filter(rating=rating)
    q = (q or "").strip()[:MAX_QUERY_CHARS]
    if q:
        query = SearchQuery(q, search_type="websearch", config="english")
        rows = rows.annotate(rank=SearchRank(F("search"), query), similarity=TrigramSimilarity("title", q)).filter(
            Q(search=query) | Q(similarity__gt=TRIGRAM_THRESHOLD))
    sort = sort or ("relevance" if q else "recent")
    if sort == "relevance" and q:
        return rows.order_by(-(F("rank") + F("similarity")), "-published_at")
    if sort == "popular":
        return rows.order_by(-(F("likes") + F("forks")), "-updated_at")
    if sort == "most_forked":
        return rows.order_by("-forks", "-updated_at")
    if sort == "trending":
        decay = Exp(-Extract(Now() - F("counter__trend_at"), "epoch") / Value(TREND_SECONDS))
        trend = ExpressionWrapper(Coalesce(F("counter__trend_score") * decay, Value(0.0)), output_field=FloatField())
        return rows.annotate(trend=trend).order_by("-trend", "-updated_at")
    return rows.order_by("-updated_at")


def listing_get(listing_id) -> CommunityStory:
    """A listing the user may read (public, theirs, or one they hold a fork of); else DoesNotExist."""
    return (CommunityStory.objects.select_related("series", "counter")
            .annotate(likes=Coalesce(F("counter__likes"), 0), forks=Coalesce(F("counter__forks"), 0),
                      downloads=Coalesce(F("counter__downloads"), 0), version=F("series__latest_version"))
            .get(pk=listing_id))


def versions(listing: CommunityStory) -> list[dict]:
    """Each version, newest first, with its changelog, how many turns, chapters, lore entries and
    characters it changed, and (after the first) the diffs of what it changed."""
    changed = {(row["version"], row["kind"]): row["n"] for row in SnapshotItem.objects.filter(
        series_id=listing.series_id).values("version", "kind").annotate(n=Count("id"))}
    return [{"version": snapshot.version, "changelog": snapshot.changelog, "created_at": snapshot.created_at,
             "turn_count": snapshot.turn_count, "title": snapshot.title,
             "changed": {kind: changed.get((snapshot.version, kind), 0) for kind in SnapshotItem.Kind.values},
             "diffs": version_diffs(listing, snapshot.version) if snapshot.version > 1 else []}
            for snapshot in StorySnapshot.objects.filter(series_id=listing.series_id).order_by("-version")]


def version_diffs(listing: CommunityStory, version: int, limit: int = 20) -> list[dict]:
    """What ``version`` changed against the one before: a unified diff per item (the first ``limit``)."""
    from narrative_pipeline.snapshots import series_items

    rows = list(SnapshotItem.objects.filter(series_id=listing.series_id, version=version)
                .order_by("kind", "number", "key")[:limit])
    before = series_items(listing.series_id, version - 1)
    diffs = []
    for row in rows:
        old = before.get((row.kind, row.key))
        old_text, new_text = _text(old[1] if old else None), "" if row.removed else _text(row.payload)
        diff = "\n".join(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), f"v{version - 1}",
                                              f"v{version}", lineterm=""))
        diffs.append({"kind": row.kind, "key": row.key,
                      "change": "removed" if row.removed else "changed" if old else "added", "diff": diff})
    return diffs


def _text(payload) -> str:
    if payload is None:
        return ""
    if "prose" in payload:
        return f"> {payload.get('action', '')}\n{payload['prose']}"
    return json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True)


def opening(listing: CommunityStory, turns: int = 3) -> list[dict]:
    """The first turns of the latest version, for the preview."""
    from narrative_pipeline.snapshots import series_items

    items = series_items(listing.series_id, listing.series.latest_version, SnapshotItem.Kind.TURN)
    first = sorted(items.values(), key=lambda item: item[0])[:turns]
    return [{"number": number, "action": payload["action"], "prose": payload["prose"]} for number, payload in first]


def author_others(listing: CommunityStory):
    if listing.author_id is None:
        return CommunityStory.objects.none()
    return (CommunityStory.objects.filter(author_id=listing.author_id, series__is_public=True,
                                          series__is_hidden=False).exclude(pk=listing.pk).order_by("-updated_at"))
