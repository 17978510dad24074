"""Writes to stories. Each runs as the acting user under RLS and checks the quotas it uses."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from accounts.quotas import quota_check
from accounts.rls import acting_as
from accounts.task_outbox import queue_after_commit
from chapters.knowledge import rules as knowledge_rules
from core.contracts import StoryState
from core.permissions import may_change

from . import quota_accounting, selectors
from .llm.connections import choices_validate
from .models import Character, ModelChoices, Story, StoryCollaborator, Turn, empty_state
from .starter_worlds import STARTER_WORLDS
from .tasks import dream_turn

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
        story.storage_bytes = size
        story.save()
        quota_check(user, stories=1, storage_bytes=size)
        for character in characters or []:
            character_add(user=user, story=story, **character)
    return story


def story_update(*, user, story: Story, state: dict | None = None, llm_overrides: dict | None = None,
                 **fields) -> Story:
    """Change text fields and, key by key, the state and the per-agent model choices (an agent given
    ``null`` or ``{}`` goes back to the player's own choice)."""
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story.pk)  # the story, then the usage row
        before = story.text_bytes()
        for name, value in fields.items():
            if name not in EDITABLE_FIELDS:
                raise ValidationError({name: ["This field cannot be changed."]})
            setattr(story, name, value)
        if state is not None:
            story.state = state_merged(story.state, state)
        if llm_overrides is not None:
            story.llm_overrides = choices_merged(story.llm_overrides, llm_overrides)
        delta = story.text_bytes() - before
        story.storage_bytes += delta
        story.save()
        quota_check(user, storage_bytes=delta)
    return story


def choices_merged(current: dict, changes) -> dict:
    """Per-agent model choices with ``changes`` applied: given agents replaced, ``null`` or ``{}`` removed."""
    try:
        chosen = choices_validate(changes)
    except ValidationError as error:
        raise ValidationError({"llm_overrides": error.messages}) from None
    cleared = {agent for agent, choice in changes.items() if choice in (None, {})}
    return {agent: choice for agent, choice in {**(current or {}), **chosen}.items() if agent not in cleared}


def model_choices_set(*, user, agents) -> dict:
    """The account's own model per agent (replacing every earlier choice); ``{}`` goes back to the site's."""
    try:
        chosen = choices_validate(agents)
    except ValidationError as error:
        raise ValidationError({"agents": error.messages}) from None
    with acting_as(user):
        ModelChoices.objects.update_or_create(user_id=user.pk, defaults={"agents": chosen})
    return chosen


def story_delete(*, user, story: Story) -> None:
    with acting_as(user):
        Story.objects.filter(pk=story.pk).delete()  # the usage counters follow (the database's trigger)


def character_names_check(*, story: Story, names: list[str], field: str) -> None:
    """Refuse a name one of the story's characters has, or that comes twice in ``names`` (case and outer
    spaces aside): two characters of one name are one character to the writers' room."""
    taken = selectors.character_names(story=story)
    for name in names:
        if name.strip().casefold() in taken:
            raise ValidationError({field: [f"The story already has a character named {name!r}; "
                                           "rename one of them first."]})
        taken.add(name.strip().casefold())


def character_add(*, user, story: Story, name: str, description: str = "", personality: str = "",
                  is_player: bool = False, factions: list[str] | None = None, known_by: list[str] | None = None,
                  reveal_when: dict | None = None) -> Character:
    """A cast member; ``known_by``/``reveal_when`` keep its description a secret of those who know it (#20)."""
    checked = {}
    for field, check, value in (("known_by", knowledge_rules.audience_validate, known_by),
                                ("reveal_when", knowledge_rules.reveal_validate, reveal_when),
                                ("factions", knowledge_rules.factions_validate, factions)):
        try:
            checked[field] = check(value)
        except knowledge_rules.KnowledgeError as error:
            raise ValidationError({field: [str(error)]}) from error
    known_by, reveal_when, factions = checked["known_by"], checked["reveal_when"], checked["factions"]
    with acting_as(user):
        character_names_check(story=story, names=[name], field="name")
        size = len(name.encode()) + len(description.encode()) + len(personality.encode())
        quota_accounting.story_add(user=user, story=story, delta=size)
        return Character.objects.create(user_id=story.user_id, story=story, name=name.strip(),
                                        description=description, personality=personality, is_player=is_player,
                                        factions=factions, known_by=known_by, reveal_when=reveal_when)


def story_create_from_world(*, user, world: str) -> Story:
    """A story from one of the built-in starter worlds, its opening already written as turn 1."""
    if world not in STARTER_WORLDS:
        raise ValidationError({"world": [f"There is no starter world {world!r}."]})
    fields = {key: value for key, value in STARTER_WORLDS[world].items() if key != "opening"}
    story = story_create(user=user, **fields)
    turn_opening(user=user, story=story, prose=STARTER_WORLDS[world]["opening"])
    return story


def turn_opening(*, user, story: Story, prose: str) -> Turn:
    """Turn 1 written by an author rather than the writers' room (a starter world, an import)."""
    with acting_as(user):
        turn = Turn(user_id=story.user_id, story=story, number=1, action="(The story begins.)", prose=prose,
                    idempotency_key="opening", status=Turn.Status.COMPLETED, completed_at=timezone.now(),
                    state_before=story.state)
        quota_accounting.story_add(user=user, story=story, delta=quota_accounting.turn_text_bytes(turn))
        turn.storage_bytes = quota_accounting.turn_text_bytes(turn)
        turn.save()
        queue_after_commit(dream_turn, str(user.pk), str(turn.pk))
    return turn


def collaborator_add(*, owner, story: Story, username: str, role: str):
    """Let another user into one story: ``view`` reads it, ``edit`` also changes it (chapters, cast).

    django-guardian's object permissions follow the collaborator row (a database trigger)."""
    if role not in StoryCollaborator.Role.values:
        raise ValidationError({"role": ["The role is view or edit."]})
    with acting_as(owner):
        if story.user_id != owner.pk:
            raise ValidationError({"story": ["Only the story's owner can share it."]})
        with connection.cursor() as cursor:
            cursor.execute("SELECT luna_user_id_by_username(%s)", [username.strip()])
            collaborator_id = cursor.fetchone()[0]
        if collaborator_id is None:
            raise ValidationError({"username": [f"There is no active account named {username!r}."]})
        if collaborator_id == owner.pk:
            raise ValidationError({"username": ["You own this story already."]})
        grant, _ = StoryCollaborator.objects.update_or_create(
            user_id=owner.pk, story=story, collaborator_id=collaborator_id,
            defaults={"role": role, "collaborator_username": username.strip()})
    return grant


def collaborator_remove(*, owner, grant) -> None:
    with acting_as(owner):
        grant.delete()


def can_change_story(user, story: Story) -> bool:
    """The owner, or a co-author with edit rights (django-guardian's object permission)."""
    return may_change(user, story)
