"""Story API. The storytelling-engine issue adds turns, state and the rest."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from . import selectors, services
from .serializers import StoryInput, StoryOutput


class StoryListApi(GenericAPIView):
    serializer_class = StoryOutput

    def get_queryset(self):
        return selectors.story_list(user=self.request.user)

    @extend_schema(responses=StoryOutput(many=True), summary="My stories")
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StoryOutput(page, many=True).data)

    @extend_schema(request=StoryInput, responses={201: StoryOutput}, summary="Create a story")
    def post(self, request):
        data = StoryInput(data=request.data)
        data.is_valid(raise_exception=True)
        story = services.story_create(user=request.user, **data.validated_data)
        return Response(StoryOutput(story).data, status=status.HTTP_201_CREATED)


class StoryDetailApi(GenericAPIView):
    serializer_class = StoryOutput

    @extend_schema(responses=StoryOutput, summary="One of my stories")
    def get(self, request, story_id):
        return Response(StoryOutput(selectors.story_get(user=request.user, story_id=story_id)).data)

    @extend_schema(responses={204: None}, summary="Delete one of my stories")
    def delete(self, request, story_id):
        story = selectors.story_get(user=request.user, story_id=story_id)
        services.story_delete(user=request.user, story=story)
        return Response(status=status.HTTP_204_NO_CONTENT)
