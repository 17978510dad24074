"""Who may change a story through the API: its owner and its co-authors with edit rights.

A view-only co-author can read a shared story, and row-level security refuses their writes, but a
refused write is a 500 (an insert) or a silent no-op (an update or delete of rows RLS hides from the
write). So every route under a story refuses their writes up front, with a 403 that says why.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.rls import acting_as

from .models import Story
from .services import can_change_story


class StoryWritePermission(BasePermission):
    """Writes to a route with a ``story_id`` need the right to change that story. A story the user
    cannot see at all is left to the view, which answers 404 (another user's story does not exist)."""

    message = "You may read this story but not change it."
    code = "read_only"

    def has_permission(self, request, view) -> bool:
        story_id = view.kwargs.get("story_id")
        if request.method in SAFE_METHODS or story_id is None or not request.user.is_authenticated:
            return True
        with acting_as(request.user):  # views that keep their own short transactions are not inside one yet
            story = Story.objects.filter(pk=story_id).first()
            return story is None or can_change_story(request.user, story)
