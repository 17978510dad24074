"""A co-author's reroll and redo queue the Dreamer (issue #19): the task is queued as the co-author (the outbox
holds a row to its writer) and does the work as the story's owner only after checking the owner's edit grant;
a row naming a story its writer may not change is dropped."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import OutboxTask
from accounts.rls import acting_as
from narrative_pipeline.models import TurnSummary
from narrative_pipeline.services import collaborator_add
from narrative_pipeline.tasks import dream_turn

from ..conftest import as_app_role
from ..factories import StoryFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="The Harbour", state={"location": "the harbour"}, characters=[
        {"name": "Wren", "is_player": True}, {"name": "Captain Hale"}])


def play(api, story, action="I look at the boats."):
    response = api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": uuid.uuid4().hex},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def co_author(alice, story, role):
    user = UserFactory()
    collaborator_add(owner=alice, story=story, username=user.username, role=role)
    return user


def run_queued_by(user) -> int:
    """Play the worker for the Dreamer tasks ``user`` queued (the outbox is read as its owner, like the drain)."""
    rows = list(OutboxTask.objects.filter(user=user, task_name=dream_turn.name))
    for row in rows:
        dream_turn.run(*row.args)
    return len(rows)


def summaries(alice, story) -> list[tuple[int, str]]:
    with acting_as(alice):
        return [(number, str(user_id)) for number, user_id in
                TurnSummary.objects.filter(story=story).values_list("number", "user_id")]


def test_a_co_authors_reroll_completes_and_the_dreamer_summarizes_it_as_the_owner(api_as, alice, story):
    played = play(api_as(alice), story)
    editor = co_author(alice, story, "edit")
    rerolled = api_as(editor).post(f"/api/stories/{story.pk}/turns/1/reroll/")
    assert rerolled.status_code == 200, rerolled.content
    assert rerolled.json()["status"] == "completed" and len(rerolled.json()["alternatives"]) == 1
    assert played["prose"] == rerolled.json()["alternatives"][0]["prose"]
    assert run_queued_by(editor) == 1
    assert summaries(alice, story) == [(1, str(alice.pk))]


def test_a_co_authors_redo_completes_and_the_dreamer_summarizes_it_as_the_owner(api_as, alice, story):
    play(api_as(alice), story, "One.")
    editor = co_author(alice, story, "edit")
    editing = api_as(editor)
    assert editing.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
    redone = editing.post(f"/api/stories/{story.pk}/turns/redo/")
    assert redone.status_code == 200, redone.content
    assert redone.json()["action"] == "One."
    assert run_queued_by(editor) == 1
    assert summaries(alice, story) == [(1, str(alice.pk))]


@pytest.mark.parametrize("role", [None, "view"])
def test_a_queued_task_for_a_story_its_writer_may_not_change_does_nothing(api_as, alice, story, role):
    play(api_as(alice), story)
    other = co_author(alice, story, role) if role else UserFactory()
    with acting_as(alice):
        turn_id = str(story.turns.get(number=1).pk)
    with acting_as(other):  # SQL run as that user may queue its own work, naming any turn
        OutboxTask.objects.create(user=other, task_name=dream_turn.name, args=[str(other.pk), turn_id])
    assert run_queued_by(other) == 1
    assert summaries(alice, story) == []


def test_a_co_author_cannot_queue_a_task_as_the_owner(alice, story):
    editor = co_author(alice, story, "edit")
    with connection.cursor() as cursor, pytest.raises(DatabaseError, match="row-level security"), \
            transaction.atomic():
        as_app_role(cursor, editor.pk)
        cursor.execute("INSERT INTO accounts_outboxtask (user_id, task_name, args, created_at, attempts) "
                       "VALUES (%s, %s, %s::jsonb, now(), 0)",
                       [alice.pk, dream_turn.name, f'["{alice.pk}", "x"]'])
