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
        NUDGED = "nudged"  # completed after the healing ladder's nudge, the chapter as the author wrote it
        RELAXED = "relaxed"
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
    beats_told_at = models.JSONField(default=dict, db_default={}, blank=True,
                                     help_text="Each ticked beat and the turn whose passage told it (an undo unticks it).")
    healing_rung = models.CharField(max_length=10, blank=True,
                                    help_text="The healing ladder's rung in force: nudge, relax, adapt or alternate.")
    healing_turn = models.PositiveIntegerField(null=True, blank=True, help_text="The turn that rung was applied.")
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
    strategy = models.CharField(max_length=10)  # the ladder's rung: nudge | relax | adapt | alternate
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


class LoreSource(UserOwnedModel):
    """A lore or world file exactly as it was imported: exporting unchanged content gives these bytes back."""

    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="lore_sources")
    lore_format = models.CharField(max_length=20)
    filename = models.CharField(max_length=255, blank=True)
    text = models.TextField(help_text="The document (a PNG card's JSON), as uploaded.")
    image = models.BinaryField(null=True, blank=True, help_text="A PNG card's image, to export the card back into.")
    story_fields = models.JSONField(default=list, blank=True,
                                    help_text="The story fields the file filled; the rest it keeps as its own.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class Lorebook(UserOwnedModel):
    """A book of lore entries: attached to a story, or kept by its owner for reuse (no story)."""

    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="lorebooks")
    source = models.ForeignKey(LoreSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="lorebooks")
    name = models.TextField()
    description = models.TextField(blank=True)
    scan_depth = models.PositiveIntegerField(default=2, help_text="How many recent turns are scanned for keys.")
    token_budget = models.PositiveIntegerField(default=400, help_text="At most this many tokens of lore per turn.")
    recursive_scanning = models.BooleanField(default=False, help_text="Entries' content can trigger other entries.")
    max_recursion_depth = models.PositiveIntegerField(default=3)
    enabled = models.BooleanField(default=True)
    source_format = models.CharField(max_length=20, blank=True)
    source_fields = models.TextField(blank=True, default="",
                                     help_text="The book's own fields in its source format, as JSON text in their "
                                               "original order (jsonb would reorder them).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.name


class LoreEntry(UserOwnedModel):
    class Logic(models.TextChoices):
        AND_ANY = "AND_ANY"
        NOT_ALL = "NOT_ALL"
        NOT_ANY = "NOT_ANY"
        AND_ALL = "AND_ALL"

    lorebook = models.ForeignKey(Lorebook, on_delete=models.CASCADE, related_name="entries")
    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="lore_entries")
    position = models.PositiveIntegerField(help_text="Where the entry stands in its book's file.")
    uid = models.TextField(blank=True, help_text="The entry's id in its source file.")
    keys = models.JSONField(default=list, blank=True, help_text="Plain words or /regex/flags.")
    secondary_keys = models.JSONField(default=list, blank=True)
    selective_logic = models.CharField(max_length=7, choices=Logic.choices, default=Logic.AND_ANY)
    content = models.TextField(blank=True)
    comment = models.TextField(blank=True, help_text="The entry's title.")
    constant = models.BooleanField(default=False, help_text="Always on.")
    order = models.IntegerField(default=100, help_text="Higher is kept first when the budget is short.")
    enabled = models.BooleanField(default=True)
    probability = models.PositiveSmallIntegerField(default=100)
    case_sensitive = models.BooleanField(default=False)
    match_whole_words = models.BooleanField(default=False)
    source_format = models.CharField(max_length=20, blank=True)
    source_fields = models.TextField(blank=True, default="",
                                     help_text="The entry's own fields in its source format, as JSON text.")
    # Who knows this entry (issue #20, ``chapters.knowledge``): empty means everyone.
    known_by = models.JSONField(default=list, blank=True,
                                help_text='Character names, "faction:<tag>", "player"; empty means everyone.')
    reveal_when = models.JSONField(default=dict, blank=True, help_text="Conditions that make it common knowledge.")

    class Meta:
        ordering = ["lorebook", "position"]
        verbose_name_plural = "lore entries"

    def __str__(self):
        return self.comment or ", ".join(k for k in self.keys if k) or f"entry {self.position}"


class Knowledge(UserOwnedModel):
    """A fact of the story and who knows it (issue #20): the Preprocessor briefs each character only on what
    that character knows, and withholds the rest (``chapters.knowledge``)."""

    class Source(models.TextChoices):
        LORE_ENTRY = "lore_entry"
        CHARACTER = "character"
        CHAPTER = "chapter"
        TURN = "turn"  # learned in a turn's prose (the Dreamer)
        FLAG = "flag"
        MANUAL = "manual"

    story = models.ForeignKey("narrative_pipeline.Story", on_delete=models.CASCADE, related_name="knowledge")
    fact = models.TextField()
    known_by = models.JSONField(default=list, blank=True,
                                help_text='Character names, "faction:<tag>", "player"; empty or "everyone": all.')
    reveal_when = models.JSONField(default=dict, blank=True,
                                   help_text="Chapter conditions (and chapter_completed) that make it common knowledge.")
    revealed_at_turn = models.PositiveIntegerField(null=True, blank=True)
    revealed_by = models.CharField(max_length=12, blank=True, help_text="condition, chapter, passage (a beat its turn told) or manual.")
    evidence_turn = models.PositiveIntegerField(null=True, blank=True, help_text="The turn whose prose taught it.")
    learned_at = models.JSONField(default=dict, db_default={}, blank=True,
                                  help_text="Who learned it from the prose, and in which turn (an undo forgets it).")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    source_ref = models.CharField(max_length=200, blank=True, help_text="The lore entry, character or flag it is of.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["story", "id"]
        verbose_name_plural = "knowledge"
        indexes = [models.Index(fields=["story", "source", "source_ref"], name="knowledge_story_source")]

    def __str__(self):
        return self.fact[:80]
