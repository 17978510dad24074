import json

import factory

from accounts.models import User
from narrative_pipeline.services import story_create

TEST_PASSWORD = "a-long-test-password-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"player{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def saved(user, create, extracted, **kwargs):
        if create:
            user.save()


class StoryFactory(factory.Factory):
    """Stories are made through the service, as the owner, so quotas and RLS apply."""

    class Meta:
        model = dict

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Story {n}")
    premise = factory.Faker("sentence")
    genre = "fantasy"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return story_create(**kwargs)

    _build = _create


def played_story(user, *, turns: int = 1, **story_fields):
    """A story with a cast, a chapter (healed once) and ``turns`` turns played by the offline
    writers' room (Dreamer inline): a row in every table of the engine and the chapters."""
    from accounts.rls import acting_as
    from chapters import healing, services
    from chapters.models import ChapterSuggestion
    from core.contracts import StoryState
    from narrative_pipeline import orchestrator
    from narrative_pipeline.models import StoryCollaborator

    story = StoryFactory(user=user, state={"location": "the harbour"}, characters=[
        {"name": "Wren", "is_player": True}, {"name": "Captain Hale", "description": "the harbour master"}],
        **story_fields)
    with acting_as(user):
        (chapter,) = services.chapters_import(story_id=story.pk, user_id=user.pk, chapters=[
            {"number": 1, "title": "The Lighthouse", "trigger_conditions": {"location": "lighthouse"},
             "suggested_beats": [{"beat": "The lamp is lit", "priority": "high"}]}])
        healing.relax(chapter, state=StoryState(location="the harbour"), turn_number=1)
        ChapterSuggestion.objects.create(user_id=user.pk, story=story, title="What comes next", created_turn=1)
    from narrative_pipeline import lore_files

    lore_files.import_file(user=user, story=story, filename="harbour.json", data=json.dumps({"entries": {"0": {
        "uid": 0, "key": ["Captain Hale", "ship"], "comment": "The missing ship",
        "content": "The Albatross sailed a week ago and never came back."}}}).encode())
    from narrative_pipeline.services import model_choices_set

    model_choices_set(user=user, agents={"dreamer": {"connection": "offline"}})
    friend = UserFactory()
    with acting_as(user):
        StoryCollaborator.objects.create(user_id=user.pk, story=story, collaborator_id=friend.pk,
                                         collaborator_username=friend.username, role="view")
    actions = ["I ask Captain Hale about the missing ship.", "I walk to the lighthouse.", "I take the lantern.",
               "I run along the cliff path, Captain Hale behind me."]
    for number in range(turns):
        turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=actions[number % len(actions)],
                                           idempotency_key=f"turn-{number}")
        orchestrator.turn_generate(user=user, turn=turn)
    from chapters.knowledge.services import knowledge_add

    with acting_as(user):  # a secret (issue #20), after the turns so their offline prose stays as it was
        knowledge_add(story_id=story.pk, user_id=user.pk, fact="Captain Hale sank the Albatross",
                      known_by=["Captain Hale"], reveal_when={"flag": "hale_confessed"})
    from narrative_pipeline.models import Character, CharacterSnapshot, Turn, UndoneTurn

    with acting_as(user):  # the Dreamer notes Hale only if the narrator's prose named him: make sure of one
        hale, first = Character.objects.get(story=story, name="Captain Hale"), Turn.objects.get(story=story, number=1)
        has_snapshot = CharacterSnapshot.objects.filter(character=hale).exists()
    if not has_snapshot:
        from narrative_pipeline import dreams
        from narrative_pipeline.contracts import CharacterChange

        dreams.character_snapshot_add(user_id=user.pk, turn=first, character=hale, change=CharacterChange(
            name=hale.name, turn_number=1, summary="Captain Hale keeps the missing ship to himself."))
    with acting_as(user):  # an undone turn kept for redo (past the next number, so no Redo is offered)
        UndoneTurn.objects.create(user_id=user.pk, story=story, number=turns + 2,
                                  turn={"number": turns + 2, "action": "I turn back."}, state_after=story.state)
    if turns:
        from narrative_pipeline.models import TurnReplay

        with acting_as(user):  # a replay of the first turn by another model, neither kept nor branched (issue #21)
            TurnReplay.objects.create(user_id=user.pk, story=story, turn=first, connection="offline",
                                      model="luna-offline-narrator", prose="The first turn, told by another model.")
    if turns >= 2:  # a branch with an edited turn (copy-on-write rows), published, liked and reported
        from marketplace import forks, services
        from narrative_pipeline import snapshots

        branch = forks.branch_create(user=user, story=story, at_turn=turns)
        snapshots.turn_text_set(user=user, story=branch.story, number=1, prose="Another telling of the first turn.")
        listing = services.listing_publish(user=user, story=story, licence="CC-BY")
        services.listing_like(user=user, listing=listing)
        services.report_create(user=user, listing=listing, reason="A test report.")
        # The story's turn 1 rewritten and branched again: syncing the first branch meets a conflict.
        from marketplace import sync

        with acting_as(user):
            Turn.objects.filter(story=story, number=1).update(prose="The first turn, as revised.")
        forks.branch_create(user=user, story=story, at_turn=turns)
        sync.fork_sync(user=user, fork_id=branch.pk)
    return story


def admin_import(client, story, filename: str, data: bytes, lore_format: str = ""):
    """Import a file through the admin's two steps (preview, then import); the last response."""
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    url = reverse("admin:story-chapters-upload", args=[story.pk])
    preview = client.post(url, {"file": SimpleUploadedFile(filename, data), "lore_format": lore_format})
    token = re.search(r'name="token" value="([^"]+)"', preview.content.decode())
    return client.post(url, {"token": token.group(1)}) if token else preview


def story_with_turns(user, turns: int, **story_fields):
    """A story with ``turns`` completed turns written directly (no writers' room): for storage tests."""
    from django.utils import timezone

    from accounts.rls import acting_as
    from narrative_pipeline.models import Turn

    story = StoryFactory(user=user, **story_fields)
    with acting_as(user):
        Turn.objects.bulk_create([
            Turn(user_id=user.pk, story=story, number=number, action=f"Action {number}.",
                 prose=f"Passage {number}: the tide turns, and the harbour wakes once more.",
                 idempotency_key=f"k{number}", status=Turn.Status.COMPLETED, completed_at=timezone.now(),
                 state_before=story.state)
            for number in range(1, turns + 1)])
    return story


# The Tide Book's world (``world_story``): two chapters, a lorebook of three entries and Orla.
WORLD_CHAPTERS = [
    {"number": 1, "title": "The Harbour", "summary": "Wren arrives.", "trigger_conditions": {"location": "harbour"}},
    {"number": 2, "title": "The Lighthouse", "summary": "The keeper's log.", "required_previous_chapters": [1],
     "trigger_conditions": {"location": "lighthouse"}},
]
WORLD_LORE = {"entries": {str(uid): {"uid": uid, "key": [key], "comment": key, "content": f"What is known of the {key}."}
                    for uid, key in enumerate(["lighthouse", "harbour", "albatross"])}}


def world_story(user, turns=4):
    """``story_with_turns`` with a world to publish and sync: chapters, lore and a character."""
    import json

    from accounts.rls import acting_as
    from chapters import services as chapter_services
    from narrative_pipeline import lore_files
    from narrative_pipeline.models import Character

    story = story_with_turns(user, turns, title="The Tide Book")
    with acting_as(user):
        Character.objects.create(user_id=user.pk, story=story, name="Orla", description="a diver")
        chapter_services.chapters_import(story_id=story.pk, user_id=user.pk, chapters=[dict(c) for c in WORLD_CHAPTERS])
    lore_files.import_file(user=user, story=story, filename="tide.json", data=json.dumps(WORLD_LORE).encode())
    return story
