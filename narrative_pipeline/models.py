import uuid

from django.db import models
from pgvector.django import HnswIndex, VectorField

from accounts.models import UserOwnedModel

EMBEDDING_DIMENSIONS = 384  # all-MiniLM-L6-v2


def empty_state() -> dict:
    return {"location": "", "present_characters": [], "inventory": [], "flags": []}


class StorageMode(models.TextChoices):
    PLAIN = "plain"  # not based on a snapshot
    REFERENCE = "reference"  # reads every turn up to its base from the snapshot, overrides none
    DELTA = "delta"  # an override row per edited turn
    FULL_COPY = "full_copy"  # most turns edited: all of them copied into its own rows


class Story(UserOwnedModel):
    """A player's story: premise, memory and author's note, the current state, and its cast."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    premise = models.TextField(blank=True)
    genre = models.CharField(max_length=60, blank=True)
    setting = models.TextField(blank=True)
    memory = models.TextField(blank=True, help_text="Always in the briefing: what must never be forgotten.")
    authors_note = models.TextField(blank=True, help_text="Guidance for style and direction, always in the briefing.")
    state = models.JSONField(default=empty_state)
    # Per agent: {"writer": {"provider": "openai", "model": "llama3.1"}}; empty takes the settings.
    llm_overrides = models.JSONField(default=dict, blank=True)
    # The most its model calls may cost in all (USD); blank: only the owner's monthly budget (budgets.py).
    budget_usd = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    storage_bytes = models.BigIntegerField(default=0)
    # Copy-on-write: a story based on a snapshot reads its turns up to ``base_turn`` from the
    # snapshot (plus its own overrides) and owns only what it changed and what came after.
    storage_mode = models.CharField(max_length=10, choices=StorageMode.choices, default=StorageMode.PLAIN)
    base_series = models.ForeignKey("SnapshotSeries", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="based_stories")
    base_version = models.PositiveIntegerField(null=True, blank=True)
    base_turn = models.PositiveIntegerField(default=0, help_text="Turns up to this one come from the snapshot.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name_plural = "stories"
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self):
        return self.title

    def text_bytes(self) -> int:
        """What the story's own text takes in storage, for the quota."""
        return sum(len(value.encode()) for value in (self.title, self.premise, self.genre, self.setting,
                                                      self.memory, self.authors_note))


class Character(UserOwnedModel):
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    personality = models.TextField(blank=True)
    is_player = models.BooleanField(default=False)
    # What a character card carries besides (Character Card V2/V3).
    scenario = models.TextField(blank=True)
    first_message = models.TextField(blank=True)
    example_messages = models.TextField(blank=True)
    alternate_greetings = models.JSONField(default=list, blank=True)
    system_prompt = models.TextField(blank=True)
    post_history_instructions = models.TextField(blank=True)
    source_format = models.CharField(max_length=20, blank=True)
    source_fields = models.TextField(blank=True, default="",
                                     help_text="The card's own fields, as JSON text in their original order.")
    # The PNG card the character was imported from: its image is the character's portrait.
    portrait_source = models.ForeignKey("chapters.LoreSource", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="portrait_characters")
    # Who knows what (issue #20, ``chapters.knowledge``): the factions this character belongs to, and who knows
    # its description and personality (empty: everyone) until ``reveal_when`` holds.
    factions = models.JSONField(default=list, blank=True, help_text='Tags such as "smugglers".')
    known_by = models.JSONField(default=list, blank=True,
                                help_text='Who knows its description: names, "faction:<tag>", "player"; empty: all.')
    reveal_when = models.JSONField(default=dict, blank=True, help_text="Conditions that make it common knowledge.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_player", "name"]
        constraints = [models.UniqueConstraint(fields=["story", "name"], name="character_name_unique_per_story")]

    def __str__(self):
        return self.name


class Turn(UserOwnedModel):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="turns")
    number = models.PositiveIntegerField()
    action = models.TextField()
    prose = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # Earlier passages of this turn, kept when it is rerolled: [{"prose": …, "created_at": …}].
    alternatives = models.JSONField(default=list, blank=True)
    # What the writers' room saw and planned.
    briefing = models.JSONField(null=True, blank=True)
    template = models.JSONField(null=True, blank=True)
    retrieved_turns = models.JSONField(default=list, blank=True)
    # The story's state before this turn, for reroll and undo.
    state_before = models.JSONField(default=empty_state)
    storage_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["story", "number"]
        constraints = [
            models.UniqueConstraint(fields=["story", "number"], name="turn_number_unique_per_story"),
            models.UniqueConstraint(fields=["story", "idempotency_key"], name="turn_key_unique_per_story"),
        ]
        # The stuck-turn sweeper's scan (narrative_pipeline/stuck_turns.py): pending turns only, a handful.
        indexes = [models.Index(fields=["created_at"], condition=models.Q(status="pending"),
                                name="turn_pending_since")]

    def __str__(self):
        return f"turn {self.number}"


class UndoneTurn(UserOwnedModel):
    """A turn the player undid, kept so it can be redone until the story's next action.

    ``turn`` holds the turn row's fields as they were; ``state_after`` the story's state before the
    undo put it back, ``knowledge`` the facts the turn revealed or taught as they were and ``chapter_progress``
    the chapters whose beats its passage told; a redo restores them. Undoing several turns keeps each; a redo brings back the lowest-numbered (the one that follows the
    story's last turn)."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="undone_turns")
    number = models.PositiveIntegerField()
    turn = models.JSONField()
    state_after = models.JSONField(default=empty_state)
    knowledge = models.JSONField(default=list, db_default=[], blank=True)  # the story's facts as the turn left them (a redo)
    chapter_progress = models.JSONField(default=list, db_default=[], blank=True)  # the beats it ticked, as it left them
    undone_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["story", "number"]
        constraints = [models.UniqueConstraint(fields=["story", "number"], name="undone_turn_once_per_number")]


class TurnSummary(UserOwnedModel):
    turn = models.OneToOneField(Turn, on_delete=models.CASCADE, related_name="summary")
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="turn_summaries")
    number = models.PositiveIntegerField()
    summary = models.TextField()
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["story", "number"]
        indexes = [
            models.Index(fields=["story", "number"]),
            HnswIndex(name="turn_summary_embedding_hnsw", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["vector_cosine_ops"]),
        ]


class StoryArc(UserOwnedModel):
    """The story so far as of ``last_turn``: each arc folds the previous one into its summary."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="arcs")
    first_turn = models.PositiveIntegerField()
    last_turn = models.PositiveIntegerField()
    summary = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["story", "first_turn"]
        constraints = [models.UniqueConstraint(fields=["story", "first_turn"], name="arc_unique_per_story_start")]


class CharacterSnapshot(UserOwnedModel):
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="character_snapshots")
    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="snapshots")
    turn_number = models.PositiveIntegerField()
    summary = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["character", "turn_number"]


class AgentCall(UserOwnedModel):
    class Status(models.TextChoices):
        OK = "ok"
        ERROR = "error"
        STOPPED = "stopped"  # the player stopped the Writer mid-passage; its tokens so far are counted

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="agent_calls")
    turn = models.ForeignKey(Turn, on_delete=models.SET_NULL, null=True, blank=True, related_name="agent_calls")
    agent = models.CharField(max_length=20)
    provider = models.CharField(max_length=40)  # the connection's name (llm/connections.py), or "local"
    model = models.CharField(max_length=120)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # Of the prompt tokens, those the server read from its prompt cache (when it says), and what that saved at
    # the connection's prices then (``cached_input`` below ``input``).
    # Database defaults as well: a call inserted by raw SQL (the RLS and budget attack tests) leaves these out.
    cached_tokens = models.PositiveIntegerField(default=0, db_default=0)
    cache_saved_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0, db_default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    error = models.TextField(blank=True)
    # What a reasoning model thought before answering, never shown to players: the writers' room shows it.
    reasoning = models.TextField(blank=True)
    # Where the model came from (``llm.connections.choice_source``): the story's choice, the account's, the
    # operator's, or a replay.
    routing = models.CharField(max_length=10, blank=True, default="", db_default="")
    # A replay's calls: counted in the story's costs, kept out of the turn's own (the turn did not use them).
    replay = models.ForeignKey("TurnReplay", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["story", "agent"])]


class TurnReplay(UserOwnedModel):
    """A completed turn's stored briefing and plan written again by another model (issue #21), shown
    beside its passage and changing nothing until the player keeps it or branches from it."""

    class Outcome(models.TextChoices):
        OPEN = ""
        KEPT = "kept"
        BRANCHED = "branched"

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="replays")
    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="replays")
    connection = models.CharField(max_length=40)
    model = models.CharField(max_length=120)
    prose = models.TextField(blank=True)
    error = models.TextField(blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["turn", "created_at"]


class StoryCollaborator(UserOwnedModel):
    """A co-author let into one story by its owner (``user``): ``view`` reads it, ``edit`` also changes it."""

    class Role(models.TextChoices):
        VIEW = "view"
        EDIT = "edit"

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="collaborators")
    collaborator = models.ForeignKey("accounts.User", on_delete=models.DO_NOTHING, related_name="+",
                                     db_column="collaborator_id")
    # The name as it was when shared: a co-author may not read another user's account.
    collaborator_username = models.CharField(max_length=150)
    role = models.CharField(max_length=4, choices=Role.choices, default=Role.VIEW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["story", "collaborator"], name="collaborator_once_per_story")]
        indexes = [models.Index(fields=["collaborator", "story"])]


class SnapshotSeries(models.Model):
    """The numbered, immutable versions of one story as published (or branched from).

    Readable by everyone while public and not hidden, and always by its author and by the owners
    of stories based on it (``SeriesHolder``, RLS). The author becomes null when their account goes; the versions
    stay, so stories based on them keep working (DESIGN §5).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey("accounts.User", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+")
    source_story = models.ForeignKey(Story, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="snapshot_series")
    is_public = models.BooleanField(default=False)
    is_hidden = models.BooleanField(default=False, help_text="Hidden by a moderator or unpublished by its author.")
    latest_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "snapshot series"

    def __str__(self):
        return f"series {self.pk} (v{self.latest_version})"


class SeriesHolder(models.Model):
    """A story's right to read the series it is based on, even after the series is hidden or made
    private. Written only by the database (a trigger on stories checks that the series could be read
    when the story took it as its base): never by a request, so no user can forge one (DESIGN §2)."""

    # DO_NOTHING: the database cascades (the app role may not delete these rows itself).
    story = models.OneToOneField(Story, on_delete=models.DO_NOTHING, primary_key=True, related_name="+")
    series = models.ForeignKey(SnapshotSeries, on_delete=models.DO_NOTHING, related_name="+")
    user = models.ForeignKey("accounts.User", on_delete=models.DO_NOTHING, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["series", "user"])]

    def __str__(self):
        return f"story {self.story_id} holds series {self.series_id}"


class StorySnapshot(models.Model):
    """One version: the story's own fields whole, its turns, chapters, lore and cast as the
    ``SnapshotItem`` rows that changed since the version before (read back with ``snapshots``)."""

    series = models.ForeignKey(SnapshotSeries, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    premise = models.TextField(blank=True)
    genre = models.CharField(max_length=60, blank=True)
    setting = models.TextField(blank=True)
    memory = models.TextField(blank=True)
    authors_note = models.TextField(blank=True)
    state = models.JSONField(default=empty_state)
    story_so_far = models.TextField(blank=True, help_text="The latest arc summary, for stories based on it.")
    turn_count = models.PositiveIntegerField(default=0)
    changelog = models.TextField(blank=True)
    stored_bytes = models.BigIntegerField(default=0, help_text="What this version's own rows take.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "version"]
        constraints = [models.UniqueConstraint(fields=["series", "version"], name="snapshot_version_unique")]

    def __str__(self):
        return f"{self.title} v{self.version}"


class SnapshotItem(models.Model):
    """A turn, chapter, lore book, lore entry or character as of a version: written only when it
    changed (or was removed) since the version before, so versions cost what they change."""

    class Kind(models.TextChoices):
        TURN = "turn"
        CHAPTER = "chapter"
        LOREBOOK = "lorebook"
        LOREENTRY = "loreentry"
        CHARACTER = "character"
        KNOWLEDGE = "knowledge"  # a fact and who knows it (issue #20, ``knowledge_copies``)
        PORTRAIT = "portrait"  # a character's portrait: the card file it came from, image and all

    series = models.ForeignKey(SnapshotSeries, on_delete=models.CASCADE, related_name="items")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=300)
    number = models.PositiveIntegerField(default=0, help_text="Order within its kind (a turn's number).")
    payload = models.JSONField(default=dict)
    removed = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "kind", "key", "version"],
                                               name="snapshot_item_once_per_version")]
        indexes = [models.Index(fields=["series", "kind", "number", "-version"], name="snapshot_item_read")]

    def __str__(self):
        return f"{self.kind} {self.key} v{self.version}"


class TurnOverride(UserOwnedModel):
    """A story's own text for a turn it reads from its snapshot (copy-on-write)."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="turn_overrides")
    number = models.PositiveIntegerField()
    action = models.TextField()
    prose = models.TextField()
    alternatives = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["story", "number"], name="turn_override_once_per_turn")]


class StoryTurn(models.Model):
    """A story's turns as every reader sees them (a database view): its own turns, and for a story
    based on a snapshot, the snapshot's turns up to its base with its overrides applied."""

    class Origin(models.TextChoices):
        OWN = "own"
        SOURCE = "source"
        OVERRIDE = "override"

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey("accounts.User", on_delete=models.DO_NOTHING, related_name="+")
    story = models.ForeignKey(Story, on_delete=models.DO_NOTHING, related_name="+")
    number = models.PositiveIntegerField()
    action = models.TextField()
    prose = models.TextField()
    status = models.CharField(max_length=10, choices=Turn.Status.choices)
    error = models.TextField()
    alternatives = models.JSONField()
    briefing = models.JSONField(null=True)
    template = models.JSONField(null=True)
    retrieved_turns = models.JSONField()
    state_before = models.JSONField(null=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True)
    origin = models.CharField(max_length=8, choices=Origin.choices)

    class Meta:
        managed = False
        db_table = "narrative_pipeline_storyturn"
        ordering = ["story", "number"]

    def __str__(self):
        return f"turn {self.number}"


class ModelConnection(models.Model):
    """A model server the operator offers, defined in the admin (see ``llm/connections.py``).

    Request roles read every column but ``api_key_sealed`` and write none (migration 0009); the sealed
    key is read through ``luna_connection_key()``. Never shown to players: only the name, label and models.
    """

    name = models.SlugField(max_length=40, unique=True,
                            help_text="How stories and accounts refer to it; not offline or default.")
    label = models.CharField(max_length=80, help_text="What players see, e.g. “OpenRouter”.")
    # Not a URLField: its validator refuses hosts such as http://ollama:11434 (a container's name).
    base_url = models.CharField(max_length=300, help_text="The OpenAI-compatible API's base, ending in /v1.")
    api_key_sealed = models.TextField(blank=True, default="")
    offered_models = models.JSONField(default=list, blank=True, help_text="The models players may choose on it.")
    prices = models.JSONField(default=dict, blank=True,
                              help_text='USD per million tokens, {"model": {"input": 0.15, "output": 0.6}}.')
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.label or self.name


class ModelChoices(UserOwnedModel):
    """A user's own choice of connection and model per agent: the default for every story they play."""

    agents = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user"], name="one_model_choices_per_user")]


# -- Budgets (budgets.py): counters written only by the database (migration 0018), read by their owner --------


class MonthlySpend(UserOwnedModel):
    """What an account's stories spent on models in one calendar month (UTC), and what running turns hold
    reserved: raised by a trigger on ``AgentCall`` and by ``luna_budget_reserve()``, never by a request."""

    month = models.DateField()
    spent_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    reserved_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "month"], name="monthly_spend_once")]


class StorySpend(UserOwnedModel):
    """What one story spent on models in all, and what its running turns hold reserved."""

    story = models.OneToOneField(Story, on_delete=models.DO_NOTHING, primary_key=True, related_name="spend")
    spent_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    reserved_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)


class BudgetReservation(UserOwnedModel):
    """A running turn's estimate, held on both counters until the turn settles (or an hour passes)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    story = models.ForeignKey(Story, on_delete=models.DO_NOTHING, related_name="+")
    month = models.DateField()
    amount_usd = models.DecimalField(max_digits=14, decimal_places=6)
    created_at = models.DateTimeField(auto_now_add=True)
