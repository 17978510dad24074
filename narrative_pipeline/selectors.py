"""Reads of stories. Callers run inside ``acting_as``; RLS restricts rows to the acting user."""

from django.shortcuts import get_object_or_404

from .models import Story


def story_list(*, user):
    return Story.objects.filter(user_id=user.pk)


def story_get(*, user, story_id) -> Story:
    """The user's story, or 404 (another user's story is invisible, so it is 404 as well)."""
    return get_object_or_404(story_list(user=user), pk=story_id)
