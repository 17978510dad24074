from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chapters.knowledge import rules as knowledge_rules
from core.serializers import StoryStateInput

from . import selectors
from .contracts import MAX_ACTION_CHARS
from .models import Character, Story, StoryArc, StoryTurn


class StateInput(StoryStateInput):
    """A story's state as written: unknown keys are refused (they would be kept and never read)."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and (unknown := set(data) - set(self.fields)):
            raise serializers.ValidationError(f"Unknown state key(s): {', '.join(sorted(unknown))}.")
        return super().to_internal_value(data)


class CharacterInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=4_000, required=False, allow_blank=True, default="")
    personality = serializers.CharField(max_length=2_000, required=False, allow_blank=True, default="")
    is_player = serializers.BooleanField(required=False, default=False)
    # Who knows what (issue #20): checked by the knowledge rules, a 400 naming the field.
    factions = serializers.JSONField(required=False, help_text='Tags such as "smugglers".')
    known_by = serializers.JSONField(required=False, help_text='Who knows its description: names, "faction:<tag>", '
                                                               '"player"; empty: everyone.')
    reveal_when = serializers.JSONField(required=False, help_text="Chapter conditions that make it common knowledge.")

    def validate_factions(self, value):
        return _knowledge_checked(knowledge_rules.factions_validate, value)

    def validate_known_by(self, value):
        return _knowledge_checked(knowledge_rules.audience_validate, value)

    def validate_reveal_when(self, value):
        return _knowledge_checked(knowledge_rules.reveal_validate, value)


def _knowledge_checked(check, value):
    try:
        return check(value)
    except knowledge_rules.KnowledgeError as error:
        raise serializers.ValidationError(str(error)) from error


class StoryInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    premise = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    genre = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    setting = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    memory = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    authors_note = serializers.CharField(max_length=4_000, required=False, allow_blank=True, default="")
    state = StateInput(required=False)
    characters = CharacterInput(many=True, required=False, max_length=50)

    def validate_characters(self, characters):
        names = [c["name"].strip().casefold() for c in characters]
        if len(names) != len(set(names)):
            raise serializers.ValidationError("Two characters have the same name.")
        return characters


class StoryPatch(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    premise = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    genre = serializers.CharField(max_length=60, required=False, allow_blank=True)
    setting = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    memory = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    authors_note = serializers.CharField(max_length=4_000, required=False, allow_blank=True)
    state = StateInput(required=False)
    # {"writer": {"connection": "…", "model": "…"}, "dreamer": null}: checked against the offered models.
    llm_overrides = serializers.DictField(required=False, allow_empty=True)


class CharacterOutput(serializers.ModelSerializer):
    class Meta:
        model = Character
        fields = ["id", "name", "description", "personality", "is_player", "factions", "known_by", "reveal_when"]


class StoryOutput(serializers.ModelSerializer):
    turn_count = serializers.IntegerField(read_only=True, default=0)
    characters = CharacterOutput(many=True, read_only=True)

    class Meta:
        model = Story
        fields = ["id", "title", "premise", "genre", "setting", "memory", "authors_note", "state", "characters",
                  "llm_overrides", "turn_count", "storage_bytes", "storage_mode", "base_turn", "created_at",
                  "updated_at"]


class TurnInput(serializers.Serializer):
    action = serializers.CharField(max_length=MAX_ACTION_CHARS, trim_whitespace=True)
    idempotency_key = serializers.CharField(max_length=100)


class EditActionInput(serializers.Serializer):
    action = serializers.CharField(max_length=MAX_ACTION_CHARS, trim_whitespace=True)


class TurnOutput(serializers.ModelSerializer):
    class Meta:
        model = StoryTurn
        fields = ["id", "number", "action", "prose", "status", "error", "alternatives", "retrieved_turns",
                  "created_at", "completed_at"]


class TurnToldOutput(serializers.Serializer):
    revealed = serializers.ListField(child=serializers.CharField(), help_text="Facts revealed in this turn.")
    learned = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                    help_text="[character, fact] for each fact this turn's passage taught.")


class TurnDetailOutput(TurnOutput):
    """A turn with what the writers' room saw (the briefing) and planned (the template), and what it told:
    ``told`` is read from the story's facts as they are now (a reveal the Dreamer made after the turn was
    saved included), where the briefing keeps what the Preprocessor knew when it planned."""

    told = serializers.SerializerMethodField()

    class Meta(TurnOutput.Meta):
        fields = TurnOutput.Meta.fields + ["briefing", "template", "state_before", "told"]

    @extend_schema_field(TurnToldOutput)
    def get_told(self, turn) -> dict:
        told = selectors.turn_knowledge_told(turn=turn)
        return {"revealed": told["revealed"], "learned": [list(pair) for pair in told["learned"]]}


class ArcOutput(serializers.ModelSerializer):
    class Meta:
        model = StoryArc
        fields = ["first_turn", "last_turn", "summary", "created_at"]


class ModelChoiceField(serializers.Serializer):
    connection = serializers.CharField()
    model = serializers.CharField()


class ConnectionOutput(serializers.Serializer):
    """What a player may know of a connection: never its address or key."""

    name = serializers.CharField()
    label = serializers.CharField()
    models = serializers.ListField(child=serializers.CharField())


class ModelsOutput(serializers.Serializer):
    agents = serializers.DictField(child=ModelChoiceField(), help_text="Your own choices (the default of your stories).")
    effective = serializers.DictField(child=ModelChoiceField(), help_text="What each agent uses for a new story.")
    inherited = serializers.DictField(child=ModelChoiceField(),
                                      help_text="What each agent would use with no choice of mine: the site's.")
    connections = ConnectionOutput(many=True)


class ModelsInput(serializers.Serializer):
    agents = serializers.DictField(help_text='{"writer": {"connection": "…", "model": "…"}}; {} for the site\'s.')


# -- #21 budgets --


class BudgetOutput(serializers.Serializer):
    cap_usd = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True,
                                       help_text="null: no cap")
    spent_usd = serializers.DecimalField(max_digits=14, decimal_places=6)
    reserved_usd = serializers.DecimalField(max_digits=14, decimal_places=6, help_text="held by turns running now")
    remaining_usd = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)
    warning_level = serializers.IntegerField(help_text="0, 50, 80 or 100: the share of the cap used")


class BudgetInput(serializers.Serializer):
    cap_usd = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, allow_null=True,
                                       help_text="USD; null: the story has no cap of its own (the month's: the "
                                                 "tier's). A monthly cap may only be lowered below the tier's.")
