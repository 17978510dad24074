"""The story's state (``core.contracts.StoryState``) as API input: its size limits, in one place."""

from __future__ import annotations

from rest_framework import serializers


class StoryStateInput(serializers.Serializer):
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    present_characters = serializers.ListField(child=serializers.CharField(max_length=120), max_length=30,
                                               required=False)
    inventory = serializers.ListField(child=serializers.CharField(max_length=120), max_length=100, required=False)
    flags = serializers.ListField(child=serializers.CharField(max_length=120), max_length=200, required=False)
