"""The player's lore for a WebUI: the story's entries (list, edit) and the key tester. Thin, like the pages
(``lore_views``): the same selectors and ``chapters.lore.services``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from chapters.lore import importers
from chapters.lore import services as chapter_lore
from chapters.models import LoreEntry

from . import selectors
from .contracts import MAX_ACTION_CHARS


class LoreEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    lorebook_id = serializers.IntegerField()
    comment = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField(allow_blank=True))
    content = serializers.CharField(allow_blank=True)
    shown = serializers.CharField(allow_blank=True, help_text="The content with {{char}}/{{user}} filled in.")
    enabled = serializers.BooleanField()
    constant = serializers.BooleanField()


class LoreEntryPatch(serializers.Serializer):
    comment = serializers.CharField(max_length=2_000, allow_blank=True, required=False)
    keys = serializers.ListField(child=serializers.CharField(max_length=1_000, allow_blank=True), max_length=200,
                                 required=False)
    content = serializers.CharField(max_length=100_000, allow_blank=True, required=False, trim_whitespace=False)
    enabled = serializers.BooleanField(required=False)


class LoreTestInput(serializers.Serializer):
    action = serializers.CharField(max_length=MAX_ACTION_CHARS)


class LoreHitOutput(serializers.Serializer):
    book = serializers.CharField()
    entry_id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class LoreTestOutput(serializers.Serializer):
    fired = LoreHitOutput(many=True)
    cut = LoreHitOutput(many=True, help_text="Matched, but cut by the book's token budget.")
    skipped = serializers.ListField(child=serializers.DictField(), help_text="Not checked in time, per book.")


def _flat(books: list[dict]) -> list[dict]:
    return [{**entry, "lorebook_id": book["id"]} for book in books for entry in book["entries"]]


class LoreEntryListApi(GenericAPIView):
    serializer_class = LoreEntryOutput
    pagination_class = None  # a story's entries are capped (chapters.lore.limits): one list, no pages

    @extend_schema(responses=LoreEntryOutput(many=True), summary="The story's lore entries, book by book")
    def get(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        return Response(LoreEntryOutput(_flat(selectors.story_lorebooks(story=story)), many=True).data)


class LoreEntryApi(GenericAPIView):
    serializer_class = LoreEntryPatch

    @extend_schema(request=LoreEntryPatch, responses=LoreEntryOutput,
                   summary="Edit an entry's title, keys, content, or turn it on or off")
    def patch(self, request, story_id, entry_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        entry = get_object_or_404(LoreEntry.objects.select_related("lorebook"), story=story, pk=entry_id)
        changes = LoreEntryPatch(data=request.data)
        changes.is_valid(raise_exception=True)
        try:
            chapter_lore.entry_update(entry=entry, changes=changes.validated_data)
        except (ValidationError, importers.FormatError) as error:
            raise serializers.ValidationError(getattr(error, "messages", None) or [str(error)]) from error
        shown = next(item for item in _flat(selectors.story_lorebooks(story=story)) if item["id"] == entry.pk)
        return Response(LoreEntryOutput(shown).data)


class LoreTestApi(GenericAPIView):
    serializer_class = LoreTestInput

    @extend_schema(request=LoreTestInput, responses=LoreTestOutput,
                   summary="Which entries an action would fire as the next turn, why, and which the budget cut")
    def post(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        data = LoreTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        tested = selectors.lore_tested(story=story, action=data.validated_data["action"])
        hit = LoreHitOutput
        return Response({"fired": hit(tested.fired, many=True).data, "cut": hit(tested.cut, many=True).data,
                         "skipped": [{"book": skip.book, "entries": skip.entries, "titles": skip.titles}
                                     for skip in tested.skipped]})
