"""The knowledge API (issue #20), under the story it belongs to: who knows which fact, for the player and the
author to read and change. It lives with the stories, which chapters (a layer below) do not import."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from chapters.knowledge import selectors, services
from chapters.knowledge.serializers import KnowledgeInput, KnowledgeOutput
from chapters.models import Knowledge

from . import selectors as story_selectors
from .models import Story


def _story(story_id) -> Story:
    """The acting user's story (RLS hides everyone else's, which is then a 404 too)."""
    return get_object_or_404(Story, pk=story_id)


class KnowledgeListApi(GenericAPIView):
    serializer_class = KnowledgeOutput

    @extend_schema(responses=KnowledgeOutput(many=True), summary="The story's facts and who knows them")
    def get(self, request, story_id):
        page = self.paginate_queryset(selectors.knowledge_list(story_id=_story(story_id).pk))
        return self.get_paginated_response(KnowledgeOutput(page, many=True).data)

    @extend_schema(request=KnowledgeInput, responses={201: KnowledgeOutput}, summary="Add a fact")
    def post(self, request, story_id):
        story = _story(story_id)
        data = KnowledgeInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {key: value for key, value in data.validated_data.items() if key != "revealed"}
        row = services.knowledge_add(story_id=story.pk, user_id=story.user_id, **fields)
        if data.validated_data.get("revealed"):
            row = services.knowledge_edit(knowledge=row, revealed=True,
                                          turn_number=story_selectors.turn_number_next(story=story))
        return Response(KnowledgeOutput(row).data, status=status.HTTP_201_CREATED)


class KnowledgeDetailApi(GenericAPIView):
    serializer_class = KnowledgeOutput

    def _row(self, story_id, knowledge_id) -> Knowledge:
        return get_object_or_404(Knowledge, story=_story(story_id), pk=knowledge_id)

    @extend_schema(responses=KnowledgeOutput, summary="One fact")
    def get(self, request, story_id, knowledge_id):
        return Response(KnowledgeOutput(self._row(story_id, knowledge_id)).data)

    @extend_schema(request=KnowledgeInput(partial=True), responses=KnowledgeOutput,
                   summary="Change a fact, who knows it, when it is revealed, or reveal it now")
    def patch(self, request, story_id, knowledge_id):
        row = self._row(story_id, knowledge_id)
        data = KnowledgeInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        row = services.knowledge_edit(knowledge=row, **data.validated_data,
                                      turn_number=story_selectors.turn_number_next(story=row.story))
        return Response(KnowledgeOutput(row).data)

    @extend_schema(responses={204: None}, summary="Delete a fact")
    def delete(self, request, story_id, knowledge_id):
        services.knowledge_delete(knowledge=self._row(story_id, knowledge_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
