from rest_framework import serializers

from ..models import Knowledge
from . import rules


class KnowledgeInput(serializers.Serializer):
    fact = serializers.CharField(max_length=rules.MAX_FACT_CHARS)
    known_by = serializers.JSONField(required=False, help_text='Names, "faction:<tag>", "player" or "everyone".')
    reveal_when = serializers.JSONField(required=False, help_text="Chapter conditions, and chapter_completed.")
    revealed = serializers.BooleanField(required=False, help_text="Reveal it now (true) or hide it again (false).")

    def validate_fact(self, value):
        return self._checked(rules.fact_validate, value)

    def validate_known_by(self, value):
        return self._checked(rules.audience_validate, value)

    def validate_reveal_when(self, value):
        return self._checked(rules.reveal_validate, value)

    @staticmethod
    def _checked(check, value):
        try:
            return check(value)
        except rules.KnowledgeError as error:
            raise serializers.ValidationError(str(error)) from error


class KnowledgeOutput(serializers.ModelSerializer):
    secret = serializers.SerializerMethodField()

    class Meta:
        model = Knowledge
        fields = ["id", "fact", "known_by", "reveal_when", "revealed_at_turn", "revealed_by", "evidence_turn",
                  "source", "source_ref", "secret", "created_at", "updated_at"]

    def get_secret(self, row: Knowledge) -> bool:
        """Whether it is still a secret: not everyone knows it and it is not revealed."""
        return not rules.Fact(id=row.pk, text=row.fact, known_by=tuple(row.known_by),
                              revealed=row.revealed_at_turn is not None).common
