"""Writes to stories. Each runs as the acting user under RLS and keeps the quota usage true."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from pydantic import ValidationError as PydanticValidationError

from accounts.quotas import quota_consume
from accounts.rls import acting_as

from . import storage
from .contracts import StoryState
from .models import Character, Story, empty_state

EDITABLE_FIELDS = ("title", "premise", "genre", "setting", "memory", "authors_note")


def state_merged(current: dict, changes: dict) -> dict:
    """The state with only the keys given changed; raises ``ValidationError`` naming a bad key."""
    unknown = set(changes) - set(StoryState.model_fields)
    if unknown:
        raise ValidationError({"state": [f"Unknown state key(s): {', '.join(sorted(unknown))}; "
                                         f"use {', '.join(StoryState.model_fields)}."]})
    try:
        return StoryState(**{**empty_state(), **current, **changes}).model_dump()
    except PydanticValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationError({"state": [f"{where}: {first['msg']}"]}) from error


def story_create(*, user, title: str, premise: str = "", genre: str = "", setting: str = "", memory: str = "",
                 authors_note: str = "", state: dict | None = None, characters: list[dict] | None = None) -> Story:
    story = Story(user_id=user.pk, title=title, premise=premise, genre=genre, setting=setting, memory=memory,
                  authors_note=authors_note, state=state_merged(empty_state(), state or {}))
    with acting_as(user):
        size = story.text_bytes()
        quota_consume(user, stories=1, storage_bytes=size)
        story.storage_bytes = size
        story.save()
        for character in characters or []:
            character_add(user=user, story=story, **character)
    return story


def story_update(*, user, story: Story, state: dict | None = None, **fields) -> Story:
    """Change text fields and, key by key, the state."""
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story.pk)  # the story, then the usage row
        before = story.text_bytes()
        for name, value in fields.items():
            if name not in EDITABLE_FIELDS:
                raise ValidationError({name: ["This field cannot be changed."]})
            setattr(story, name, value)
        if state is not None:
            story.state = state_merged(story.state, state)
        delta = story.text_bytes() - before
        quota_consume(user, storage_bytes=delta)
        story.storage_bytes += delta
        story.save()
    return story


def story_delete(*, user, story: Story) -> None:
    with acting_as(user):
        fresh = Story.objects.select_for_update().get(pk=story.pk)
        quota_consume(user, stories=-1, storage_bytes=-fresh.storage_bytes)
        fresh.delete()


def character_add(*, user, story: Story, name: str, description: str = "", personality: str = "",
                  is_player: bool = False) -> Character:
    with acting_as(user):
        size = len(name.encode()) + len(description.encode()) + len(personality.encode())
        storage.story_add(user=user, story=story, delta=size)
        return Character.objects.create(user_id=story.user_id, story=story, name=name.strip(),
                                        description=description, personality=personality, is_player=is_player)
