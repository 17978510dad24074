"""For management commands: the owner and story a command acts on, checked, with clear errors."""

import uuid

from django.core.management.base import CommandError

from accounts.models import User
from accounts.rls import acting_as

from ..models import Story


def owner_and_story(username: str, story: str):
    owner = User.objects.filter(username=username).first()
    if owner is None:
        raise CommandError(f"No user named {username!r}.")
    try:
        story_id = uuid.UUID(story)
    except ValueError as error:
        raise CommandError(f"{story!r} is not a story id.") from error
    with acting_as(owner):
        found = Story.objects.filter(pk=story_id).first()
    if found is None:
        raise CommandError(f"{username} has no story {story}.")
    return owner, found
