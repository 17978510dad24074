"""The chapter API, under the story it belongs to: it lives with the stories, which chapters (a layer
below) do not import."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from chapters import services
from chapters.models import ChapterDivergenceLog, ChapterVersion, StoryChapter
from chapters.serializers import (
    ChapterInput,
    ChapterOutput,
    DivergenceOutput,
    PreviewInput,
    VersionOutput,
)
from core.contracts import StoryState

from . import selectors as story_selectors
from .models import Story


def _story(story_id):
    """The acting user's story (RLS hides everyone else's, which is then a 404 too)."""
    story = Story.objects.filter(pk=story_id).first()
    if story is None:
        raise Http404
    return story


class ChapterListApi(GenericAPIView):
    serializer_class = ChapterOutput

    @extend_schema(responses=ChapterOutput(many=True), summary="The story's chapters, with their progress")
    def get(self, request, story_id):
        story = _story(story_id)
        page = self.paginate_queryset(StoryChapter.objects.filter(story=story).order_by("number"))
        return self.get_paginated_response(ChapterOutput(page, many=True).data)

    @extend_schema(request=ChapterInput, responses={201: ChapterOutput}, summary="Add a chapter")
    def post(self, request, story_id):
        story = _story(story_id)
        data = ChapterInput(data=request.data)
        data.is_valid(raise_exception=True)
        chapter = services.chapter_create(story_id=story.pk, user_id=story.user_id, **data.validated_data)
        return Response(ChapterOutput(chapter).data, status=status.HTTP_201_CREATED)


def _chapter(story_id, number) -> StoryChapter:
    return get_object_or_404(StoryChapter, story=_story(story_id), number=number)


class ChapterDetailApi(GenericAPIView):
    serializer_class = ChapterOutput

    @extend_schema(responses=ChapterOutput, summary="One chapter")
    def get(self, request, story_id, number):
        return Response(ChapterOutput(_chapter(story_id, number)).data)

    @extend_schema(request=ChapterInput(partial=True), responses=ChapterOutput,
                   summary="Change a chapter (what the Strategist reads becomes a new version)")
    def patch(self, request, story_id, number):
        chapter = _chapter(story_id, number)
        data = ChapterInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(ChapterOutput(services.chapter_update(chapter=chapter, **data.validated_data)).data)

    @extend_schema(responses={204: None}, summary="Delete a chapter")
    def delete(self, request, story_id, number):
        services.chapter_delete(chapter=_chapter(story_id, number))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChapterRecordsApi(GenericAPIView):
    """A chapter's records, oldest first: its versions or its divergence log. Read only: these routes
    answer 405 to writes (they once inherited the chapter's own PATCH and DELETE)."""

    model = None

    def get(self, request, story_id, number):
        chapter = _chapter(story_id, number)
        page = self.paginate_queryset(self.model.objects.filter(chapter=chapter).order_by("created_at", "pk"))
        return self.get_paginated_response(self.serializer_class(page, many=True).data)


@extend_schema_view(get=extend_schema(responses=VersionOutput(many=True), summary="The chapter's versions"))
class ChapterVersionsApi(ChapterRecordsApi):
    serializer_class, model = VersionOutput, ChapterVersion


@extend_schema_view(get=extend_schema(responses=DivergenceOutput(many=True), summary="The chapter's divergence log"))
class ChapterDivergenceApi(ChapterRecordsApi):
    serializer_class, model = DivergenceOutput, ChapterDivergenceLog


class ChapterStartApi(GenericAPIView):
    serializer_class = ChapterOutput

    @extend_schema(request=None, responses=ChapterOutput, summary="Start a chapter early (where its author allows)")
    def post(self, request, story_id, number):
        chapter = _chapter(story_id, number)
        services.chapter_start(chapter=chapter, turn_number=story_selectors.turn_number_next(story=chapter.story))
        return Response(ChapterOutput(chapter).data)


class ChapterPreviewApi(APIView):
    @extend_schema(request=PreviewInput, responses=OpenApiTypes.OBJECT, summary="What the chapters would do in a given state (the story's own "
                                                 "where keys are left out)")
    def post(self, request, story_id):
        story = _story(story_id)
        data = PreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data["state"])
        turn = given.pop("turn", story_selectors.turn_number_next(story=story))
        state = StoryState(**{**story.state, **given})
        views, _ = story_selectors.chapters_preview(story=story, state=state, turn_number=turn)
        return Response({"state": state.model_dump(), "turn": turn, "chapters": [{
            "number": view.chapter.number, "title": view.chapter.title, "version": view.version,
            "available": view.available, "active": view.active, "completed": view.completed,
            "activates": view.activates, "conditions": view.conditions, "divergence": view.divergence.as_dict(),
            "tier": view.tier} for view in views]})
