"""Redis down during a turn: the turn commits and the player sees it at once; its Dreamer work waits in
the outbox (accounts/task_outbox.py) and runs when Redis is back. The outbox under RLS, attacked as SQL."""

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from accounts import task_outbox
from accounts.models import OutboxTask
from accounts.rls import acting_as
from narrative_pipeline.models import Turn, TurnSummary
from narrative_pipeline.tasks import dream_turn

from ..conftest import as_app_role
from ..factories import StoryFactory, UserFactory

NOW = timedelta(0)


@pytest.mark.django_db(transaction=True)  # the commit and its on_commit send happen for real
def test_a_turn_played_while_redis_is_down_is_saved_shown_and_dreamt_when_redis_is_back(broker_down, api_as):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    api, turn_ids = api_as(user), []
    for action in ("I knock.", "I knock again."):  # the first loads the embedding model
        started = time.monotonic()
        response = api.post(f"/api/stories/{story.pk}/turns/", {
            "action": action, "idempotency_key": uuid.uuid4().hex}, content_type="application/json")
        took = time.monotonic() - started
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "completed"
        turn_ids.append(response.json()["id"])
    assert took < 3  # measured before the outbox: a 500 after 19 s
    waiting = OutboxTask.objects.order_by("pk")
    assert [(row.task_name, row.args, row.attempts) for row in waiting] == [
        (dream_turn.name, [str(user.pk), turn_id], 1) for turn_id in turn_ids]
    assert task_outbox.outbox_drain(older_than=NOW) == 0  # still down: kept, not lost
    assert OutboxTask.objects.count() == 2

    broker_down.back()
    assert task_outbox.outbox_drain(older_than=NOW) == 2
    assert not OutboxTask.objects.exists()
    with acting_as(user):
        assert [Turn.objects.get(pk=turn_id).status for turn_id in turn_ids] == [Turn.Status.COMPLETED] * 2
        assert TurnSummary.objects.filter(turn_id__in=turn_ids).count() == 2


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_and_started_again_gets_the_turns_tasks_from_the_outbox(broker_on, api_as, settings):
    """A real Redis stopped and started, the web process's broker connections kept as they were."""
    from ..conftest import TEST_QUEUE

    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    api = api_as(user)

    def play(action: str) -> str:
        response = api.post(f"/api/stories/{story.pk}/turns/", {
            "action": action, "idempotency_key": uuid.uuid4().hex}, content_type="application/json")
        assert response.status_code == 201 and response.json()["status"] == "completed", response.content
        return response.json()["id"]

    def queued() -> list[list]:
        """The args of the Dreamer tasks in the queue, oldest first (kombu's messages: base64 JSON bodies)."""
        return [json.loads(base64.b64decode(json.loads(message)["body"]))[0]
                for message in reversed(broker_on.client.lrange(TEST_QUEUE, 0, -1))]

    sent = play("I knock.")
    assert queued() == [[str(user.pk), sent]] and not OutboxTask.objects.exists()
    broker_on.stop()
    kept = play("I knock again.")
    assert [row.args for row in OutboxTask.objects.all()] == [[str(user.pk), kept]]
    broker_on.start()
    assert task_outbox.outbox_drain(older_than=NOW) == 1
    assert queued() == [[str(user.pk), sent], [str(user.pk), kept]]  # the first kept by the append-only file
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_with_redis_up_a_task_is_sent_after_commit_and_leaves_no_row(alice_story_committed):
    user, turn = alice_story_committed
    with acting_as(user):
        assert TurnSummary.objects.filter(turn=turn).count() == 1
    assert not OutboxTask.objects.exists()


@pytest.fixture
def alice_story_committed():
    from ..factories import played_story

    user = UserFactory()
    story = played_story(user, turns=1)
    with acting_as(user):
        return user, Turn.objects.get(story=story, number=1)


def test_a_rolled_back_transaction_queues_nothing(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), \
            acting_as(alice):
        task_outbox.queue_after_commit(dream_turn, str(alice.pk), str(uuid.uuid4()))
        raise RuntimeError("the turn failed")
    assert callbacks == [] and not OutboxTask.objects.exists()


def test_the_drain_leaves_rows_still_being_sent_after_their_commit(alice, broker_down):
    with acting_as(alice):
        task_outbox.queue_after_commit(dream_turn, str(alice.pk), str(uuid.uuid4()))
    broker_down.back()
    assert task_outbox.outbox_drain() == 0  # younger than OUTBOX_GRACE_SECONDS
    assert OutboxTask.objects.count() == 1


class TestTheOutboxUnderRLS:
    """SQL run as the app role for one user (an injection) cannot see, change or forge anyone's queued work."""

    @pytest.fixture
    def bobs_row(self, bob):
        with acting_as(bob):
            task_outbox.queue_after_commit(dream_turn, str(bob.pk), "bobs-turn")
        return OutboxTask.objects.get(user=bob)

    def test_a_user_sees_only_their_own_rows(self, raw_cursor, alice, bob, bobs_row):
        with acting_as(alice):
            task_outbox.queue_after_commit(dream_turn, str(alice.pk), "alices-turn")
        as_app_role(raw_cursor, alice.pk)
        raw_cursor.execute("SELECT args ->> 1 FROM accounts_outboxtask")
        assert raw_cursor.fetchall() == [("alices-turn",)]

    def test_no_user_sees_nothing(self, raw_cursor, bobs_row):
        as_app_role(raw_cursor, None)
        raw_cursor.execute("SELECT count(*) FROM accounts_outboxtask")
        assert raw_cursor.fetchone() == (0,)

    @pytest.mark.parametrize("statement", [
        "UPDATE accounts_outboxtask SET args = '[]'",
        "DELETE FROM accounts_outboxtask",
    ])
    def test_queued_work_cannot_be_changed_or_dropped(self, raw_cursor, alice, bobs_row, statement):
        as_app_role(raw_cursor, bobs_row.user_id)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            raw_cursor.execute(statement)

    def test_work_cannot_be_queued_for_another_user(self, raw_cursor, alice, bob):
        as_app_role(raw_cursor, alice.pk)
        for owner, first_arg in ((bob.pk, bob.pk), (alice.pk, bob.pk)):  # bob's row; alice's row acting for bob
            with pytest.raises(DatabaseError, match="row-level security|outbox_task_args_start_with_owner"), \
                    transaction.atomic():
                raw_cursor.execute(
                    "INSERT INTO accounts_outboxtask (user_id, task_name, args, created_at, attempts) "
                    "VALUES (%s, %s, %s::jsonb, now(), 0)", [owner, dream_turn.name, f'["{first_arg}", "x"]'])
        assert connection.in_atomic_block


def test_a_row_naming_no_task_is_dropped_with_an_error(alice, broker_down, caplog):
    with acting_as(alice):
        row = OutboxTask.objects.create(user=alice, task_name="os.system", args=[str(alice.pk), "rm -rf /"])
    broker_down.back()
    assert task_outbox.outbox_drain(older_than=NOW) == 0
    assert not OutboxTask.objects.filter(pk=row.pk).exists()
    assert "names no registered task" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_and_a_password_reset_while_redis_is_down_send_their_mail_when_it_is_back(broker_down, client,
                                                                                            mailoutbox):
    response = client.post("/api/auth/register/", {
        "username": "stormy", "email": "stormy@example.com", "password": "moonlit-harbour-77",
    }, content_type="application/json")
    assert response.status_code == 202
    forgetful = UserFactory(username="forgetful")
    assert client.post("/accounts/password_reset/", {"email": forgetful.email}).status_code == 302
    assert [row.task_name for row in OutboxTask.objects.order_by("pk")] == ["accounts.tasks.email_send"] * 2
    assert mailoutbox == []

    broker_down.back()
    assert task_outbox.outbox_drain(older_than=NOW) == 2
    assert [message.to for message in mailoutbox] == [["stormy@example.com"], [forgetful.email]]
