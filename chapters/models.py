"""Chapters of a story. The app knows stories only by string foreign keys (DESIGN §5 layering)."""

from django.db import models
from pgvector.django import VectorField

from accounts.models import UserOwnedModel

EMBEDDING_DIMENSIONS = 384


def default_critical() -> list:
    return ["character_present"]


class StoryChapter(UserOwnedModel):
    class Visibility(models.TextChoices):
        SHOWN = "shown"
        TITLE = "title"
        HIDDEN = "hidden"

    class Source(models.TextChoices):
        MANUAL = "manual"
        IMPORTED = "imported"
        MARKETPLACE = "marketplace"
        DREAMER = "dreamer"  # an alternate path written by the Dreamer

    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="chapters")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    summary = models.TextField(blank=True, help_text="The intended narrative, in a few sentences.")
    required_previous_chapters = models.JSONField(default=list, blank=True)
    blocked_by = models.JSONField(default=list, blank=True)
    trigger_conditions = models.JSONField(default=dict, blank=True)
    critical = models.JSONField(default=default_critical, blank=True)
    narrative_instructions = models.TextField(blank=True)
    suggested_beats = models.JSONField(default=list, blank=True)
    allow_divergence = models.BooleanField(default=True)
    min_similarity_threshold = models.FloatField(default=0.4)
    expected_embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.SHOWN)
    start_early = models.BooleanField(default=False, help_text="Players may start it before its conditions are met.")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    source_data = models.JSONField(default=dict, blank=True, help_text="The source format's own fields, verbatim.")
    alternate_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="alternates")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["story", "number"]
        constraints = [models.UniqueConstraint(fields=["story", "number"], name="chapter_number_unique_per_story")]

    def __str__(self):
        return f"{self.number}. {self.title}"


class ChapterProgress(UserOwnedModel):
    class Status(models.TextChoices):
        UPCOMING = "upcoming"  # the chapter the story is heading to; its conditions are not met yet
        ACTIVE = "active"
        COMPLETED = "completed"

    class Method(models.TextChoices):
        NATURAL = "natural"
        ADAPTED = "adapted"
        DIVERGED_ALTERNATE = "diverged_alternate"

    chapter = models.OneToOneField(StoryChapter, on_delete=models.CASCADE, related_name="progress")
    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="chapter_progress")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPCOMING)
    upcoming_turn = models.PositiveIntegerField(help_text="When the story started heading to this chapter.")
    activated_turn = models.PositiveIntegerField(null=True, blank=True)
    completed_turn = models.PositiveIntegerField(null=True, blank=True)
    completion_method = models.CharField(max_length=20, choices=Method.choices, blank=True)
    divergence_score = models.FloatField(default=0)
    adaptation_count = models.PositiveIntegerField(default=0)
    beats_addressed = models.JSONField(default=list, blank=True)
    healing_tier = models.CharField(max_length=10, blank=True, help_text="The tier last sent to the Dreamer.")
    updated_at = models.DateTimeField(auto_now=True)


class ChapterVersion(UserOwnedModel):
    class CreatedBy(models.TextChoices):
        DREAMER = "dreamer"
        MANUAL = "manual"
        IMPORT = "import"

    chapter = models.ForeignKey(StoryChapter, on_delete=models.CASCADE, related_name="versions")
    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="chapter_versions")
    number = models.PositiveIntegerField()
    created_by = models.CharField(max_length=10, choices=CreatedBy.choices)
    title = models.CharField(max_length=200)
    trigger_conditions = models.JSONField(default=dict)
    narrative_instructions = models.TextField(blank=True)
    suggested_beats = models.JSONField(default=list)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chapter", "number"]
        constraints = [models.UniqueConstraint(fields=["chapter", "number"], name="chapter_version_unique")]


class ChapterDivergenceLog(UserOwnedModel):
    chapter = models.ForeignKey(StoryChapter, on_delete=models.CASCADE, related_name="divergence_log")
    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="divergence_log")
    turn_number = models.PositiveIntegerField()
    score = models.FloatField()
    breakdown = models.JSONField(default=dict)
    reason = models.TextField(blank=True)
    strategy = models.CharField(max_length=10)  # relax | adapt | alternate
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chapter", "created_at"]


class ChapterSuggestion(UserOwnedModel):
    """A next chapter the Dreamer proposes from the story so far, for the author or player to accept."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        DISMISSED = "dismissed"

    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="chapter_suggestions")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    narrative_instructions = models.TextField(blank=True)
    suggested_beats = models.JSONField(default=list, blank=True)
    trigger_conditions = models.JSONField(default=dict, blank=True)
    created_turn = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    accepted_as = models.ForeignKey(StoryChapter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
