from rest_framework import serializers

from core.serializers import StoryStateInput

from .beats import BEAT_CHARS, DEFAULT_PRIORITY, MAX_BEATS, PRIORITIES
from .evaluation import current_version
from .models import ChapterDivergenceLog, ChapterProgress, ChapterVersion, StoryChapter


class BeatSerializer(serializers.Serializer):
    """A beat in the seed's shape; ``description`` is read as ``beat`` (the shape before)."""

    beat = serializers.CharField(max_length=BEAT_CHARS, required=False)
    description = serializers.CharField(max_length=BEAT_CHARS, required=False, write_only=True,
                                        help_text="Accepted for beat.")
    priority = serializers.ChoiceField(choices=PRIORITIES, default=DEFAULT_PRIORITY)

    def validate(self, data):
        text = data.get("beat", data.get("description"))
        if not text:
            raise serializers.ValidationError({"beat": "A beat needs its text."})
        return {"beat": text, "priority": data["priority"]}


class ChapterInput(serializers.Serializer):
    number = serializers.IntegerField(min_value=1, max_value=100_000)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4_000)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=4_000)
    required_previous_chapters = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                                       max_length=100)
    blocked_by = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)
    trigger_conditions = serializers.JSONField(required=False)
    critical = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=10)
    narrative_instructions = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    suggested_beats = BeatSerializer(many=True, required=False, max_length=MAX_BEATS)
    allow_divergence = serializers.BooleanField(required=False)
    min_similarity_threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
    visibility = serializers.ChoiceField(choices=StoryChapter.Visibility.choices, required=False)
    start_early = serializers.BooleanField(required=False)


class ProgressOutput(serializers.ModelSerializer):
    class Meta:
        model = ChapterProgress
        fields = ["status", "activated_turn", "completed_turn", "completion_method", "divergence_score",
                  "adaptation_count", "beats_addressed"]


class ChapterOutput(serializers.ModelSerializer):
    suggested_beats = BeatSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    alternate_of = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)

    class Meta:
        model = StoryChapter
        fields = ["number", "title", "description", "summary", "trigger_conditions", "required_previous_chapters",
                  "blocked_by", "critical", "suggested_beats", "narrative_instructions", "allow_divergence",
                  "min_similarity_threshold", "visibility", "start_early", "source", "alternate_of", "version",
                  "progress"]

    def get_progress(self, chapter) -> dict | None:
        row = ChapterProgress.objects.filter(chapter=chapter).first()
        return ProgressOutput(row).data if row else None

    def get_version(self, chapter) -> int:
        version = current_version(chapter)
        return version.number if version else 0


class VersionOutput(serializers.ModelSerializer):
    suggested_beats = BeatSerializer(many=True, read_only=True)

    class Meta:
        model = ChapterVersion
        fields = ["number", "created_by", "title", "trigger_conditions", "narrative_instructions", "suggested_beats",
                  "reason", "created_at"]


class DivergenceOutput(serializers.ModelSerializer):
    class Meta:
        model = ChapterDivergenceLog
        fields = ["turn_number", "score", "breakdown", "reason", "strategy", "changes", "created_at"]


class PreviewState(StoryStateInput):
    turn = serializers.IntegerField(required=False, min_value=0)


class PreviewInput(serializers.Serializer):
    state = PreviewState(required=False, default=dict)
