"""The marketplace: listings of published story versions (the core's snapshot series), who forked
what, likes and downloads, counts derived from them, and reports for moderators (DESIGN §2, §5)."""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from accounts.models import UserOwnedModel


class Licence(models.TextChoices):
    """The licences a listing may take; each label is the licence's name as Creative Commons writes it,
    the one place every page, form and the admin take it from."""

    CC_BY = "CC-BY", "CC BY 4.0"
    CC_BY_SA = "CC-BY-SA", "CC BY-SA 4.0"
    CC_BY_NC = "CC-BY-NC", "CC BY-NC 4.0"
    CC_BY_ND = "CC-BY-ND", "CC BY-ND 4.0"
    ALL_RIGHTS_RESERVED = "all-rights-reserved", "All rights reserved"


class Rating(models.TextChoices):
    GENERAL = "general"
    TEEN = "teen"
    MATURE = "mature"


class AssetKind(models.TextChoices):
    """What a listing publishes: a whole story, a story's chapter set, or one character."""

    STORY = "story"
    CHAPTERS = "chapters"
    CHARACTER = "character"


# The snapshot items each kind of asset holds (and syncs).
ASSET_ITEMS = {AssetKind.STORY: ("turn", "chapter", "lorebook", "loreentry", "character", "knowledge", "portrait"),
               AssetKind.CHAPTERS: ("chapter",), AssetKind.CHARACTER: ("character", "portrait")}


class Listing(models.Model):
    """A published story, chapter set or character: the listing of a snapshot series (a chapter
    set's or a character's versions hold only those items). Readable wherever its series is (RLS)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    series = models.OneToOneField("narrative_pipeline.SnapshotSeries", on_delete=models.PROTECT,
                                  related_name="listing")
    author = models.ForeignKey("accounts.User", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+")
    author_name = models.CharField(max_length=150, blank=True, help_text="Shown for attribution.")
    kind = models.CharField(max_length=10, choices=AssetKind.choices, default=AssetKind.STORY)
    character_name = models.CharField(max_length=120, blank=True, help_text="The character a character asset is.")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    genre = models.CharField(max_length=60, blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    licence = models.CharField(max_length=20, choices=Licence.choices)
    rating = models.CharField(max_length=10, choices=Rating.choices, default=Rating.GENERAL)
    # Lineage: the listing this one's story was forked from, and which version.
    derived_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="derivatives")
    derived_from_version = models.PositiveIntegerField(null=True, blank=True)
    search = SearchVectorField(null=True, editable=False)
    published_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "marketplace_communitystory"  # its name before it was called Listing: no data moved
        indexes = [GinIndex(fields=["search"], name="community_search"),
                   GinIndex(fields=["tags"], name="community_tags"),
                   GinIndex(name="community_title_trigram", fields=["title"], opclasses=["gin_trgm_ops"])]

    def __str__(self):
        return self.title

    @property
    def attribution(self) -> str:
        """The author's name, kept for attribution; the versions outlive a deleted account."""
        return self.author_name if self.author_id else "a deleted account"


class AssetCounter(models.Model):
    """Likes, forks and downloads of a listing: written only by a database trigger on ``Activity``
    (each user writes their own activity rows, never the author's), so the counts are exact."""

    community = models.OneToOneField(Listing, on_delete=models.CASCADE, primary_key=True,
                                     related_name="counter")
    likes = models.PositiveIntegerField(default=0)
    forks = models.PositiveIntegerField(default=0)
    downloads = models.PositiveIntegerField(default=0)
    trend_score = models.FloatField(default=0, help_text="Activity decayed with a three-day time constant.")
    trend_at = models.DateTimeField(null=True)

    def __str__(self):
        return f"{self.likes} likes, {self.forks} forks, {self.downloads} downloads"


class Activity(UserOwnedModel):
    class Kind(models.TextChoices):
        LIKE = "like"
        FORK = "fork"
        DOWNLOAD = "download"

    community = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "activities"
        constraints = [models.UniqueConstraint(fields=["user", "community", "kind"],
                                               condition=models.Q(kind__in=["like", "download"]),
                                               name="like_and_download_once_per_user")]

    def __str__(self):
        return f"{self.kind} of {self.community_id}"


class ForkRecord(UserOwnedModel):
    """The forker's record of a story based on a published (or their own) version, or of a chapter
    set or character taken into their story: lineage, the version last synced. The storage itself
    (``Story.storage_mode``, overrides) is the core's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="fork_records")
    kind = models.CharField(max_length=10, choices=AssetKind.choices, default=AssetKind.STORY)
    chapter_offset = models.PositiveIntegerField(
        default=0, help_text="A chapter set's chapter n is the story's chapter n + this.")
    community = models.ForeignKey(Listing, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", help_text="Empty for a branch of one's own story.")
    series = models.ForeignKey("narrative_pipeline.SnapshotSeries", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(help_text="The version forked (later: last synced).")
    at_turn = models.PositiveIntegerField()
    source_title = models.CharField(max_length=200)
    source_author = models.CharField(max_length=150, blank=True)
    licence = models.CharField(max_length=20, choices=Licence.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "marketplace_storyfork"  # its name before it was called ForkRecord: no data moved
        constraints = [models.UniqueConstraint(fields=["story"], condition=models.Q(kind="story"),
                                               name="one_story_fork_record_per_story")]

    def __str__(self):
        return f"fork of {self.source_title} v{self.version}"


class Report(UserOwnedModel):
    class Status(models.TextChoices):
        OPEN = "open"
        HIDDEN = "hidden"  # a moderator hid the asset
        DISMISSED = "dismissed"

    community = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="reports")
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"report on {self.community_id}"


class SyncRun(UserOwnedModel):
    """One sync of a fork with its source's newer version: what it did, and what undo restores.
    A large one is ``queued`` for the worker, which makes it ``done`` (or ``failed``, nothing changed)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        FAILED = "failed"
        UNDONE = "undone"

    fork = models.ForeignKey(ForkRecord, on_delete=models.CASCADE, related_name="sync_runs")
    from_version = models.PositiveIntegerField()
    to_version = models.PositiveIntegerField()
    applied = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(default=0)
    conflict_count = models.PositiveIntegerField(default=0)
    continued = models.PositiveIntegerField(default=0, help_text="Turns the source added after the fork point.")
    # For undo, what the run changed as it was: {"overrides": {number: {"action", "prose",
    # "alternatives"} or null}, "turns": {number: {"prose", "alternatives"}} (a full copy's own turns),
    # "world": [[kind, key, payload or null], ...]}.
    previous = models.JSONField(default=dict)
    # What it did, item by item, as its results name them: [{"kind", "key", "change", "label"}], change being
    # update, add, removed (the author removed it, the fork kept it) or conflict (``sync_plan.plan_items``).
    items = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    error = models.TextField(blank=True, help_text="Why a background sync failed.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"sync v{self.from_version} -> v{self.to_version}"


class SyncConflict(UserOwnedModel):
    """A turn, chapter, lore book or entry, or character both the source and the fork changed,
    differently, for the player to resolve. A world item's three sides are kept as data."""

    class Choice(models.TextChoices):
        SOURCE = "source"
        MINE = "mine"
        BOTH = "both"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="conflicts")
    fork = models.ForeignKey(ForkRecord, on_delete=models.CASCADE, related_name="conflicts")
    kind = models.CharField(max_length=10, default="turn", help_text="A snapshot item's kind.")
    key = models.CharField(max_length=200, default="", help_text="The item's key: a turn's or chapter's number, an entry's "
                                                     "book/position, a character's name.")
    turn_number = models.PositiveIntegerField(null=True, blank=True)
    base_text = models.TextField(blank=True)
    source_text = models.TextField(blank=True)
    fork_text = models.TextField(blank=True)
    base_data = models.JSONField(null=True, blank=True)
    source_data = models.JSONField(null=True, blank=True)
    fork_data = models.JSONField(null=True, blank=True)
    choice = models.CharField(max_length=6, choices=Choice.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"conflict on {self.kind} {self.key}"
