from rest_framework import serializers

from .models import Story


class StoryInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    premise = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    genre = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class StoryOutput(serializers.ModelSerializer):
    class Meta:
        model = Story
        fields = ["id", "title", "premise", "genre", "created_at", "updated_at"]
