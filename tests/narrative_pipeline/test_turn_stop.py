"""The player's Stop on a streamed turn: the Writer stops calling the model, the turn completes with what the
player saw (or fails when nothing was written), the call is recorded as stopped, and nothing stays pending."""

import json
import threading

import httpx
import pytest

from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, Turn

from .. import fake_openai as fake
from ..factories import TEST_PASSWORD, StoryFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(live_server, user) -> httpx.Client:
    client = httpx.Client(base_url=live_server.url, timeout=20)
    token = client.post("/api/auth/token/", json={"username": user.username, "password": TEST_PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {token['access']}"
    return client


def sse(lines):
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


@pytest.fixture
def player(live_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    client = signed_in(live_server, user)
    yield user, story, client
    client.close()


def test_stop_mid_passage_keeps_what_was_shown_and_stops_calling_the_model(player, openai_server):
    user, story, client = player
    released = threading.Event()
    openai_server.script(fake.ok('{"beats": [{"description": "Bells"}]}'),
                         fake.stream(["The bell ", "rings ", "twice."], release=released))
    with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                       json={"action": "I ring the bell.", "idempotency_key": "stop-1"}) as response:
        events = sse(response.iter_lines())
        received = [next(events) for _ in range(4)]
        # The stages name who works, before the first piece of the passage.
        assert received == [("turn", received[0][1]), ("stage", {"stage": "planning", "agent": "Strategist"}),
                            ("stage", {"stage": "writing", "agent": "Writer"}), ("text", {"text": "The bell "})]
        assert client.post(f"/api/stories/{story.pk}/turns/{received[0][1]['number']}/stop/").status_code == 202
        released.set()  # the model would go on: what it sends after the Stop is neither shown nor kept
        received += list(events)
    kinds = [kind for kind, _ in received]
    assert kinds.count("text") == 1 and kinds[-1] == "done"
    done = received[-1][1]
    assert done["stopped"] is True and done["status"] == "completed" and done["prose"] == "The bell"
    with acting_as(user):
        turn = Turn.objects.get(story=story, idempotency_key="stop-1")
        writer = AgentCall.objects.get(turn=turn, agent="writer")
    assert turn.status == Turn.Status.COMPLETED and turn.prose == "The bell"
    assert writer.status == AgentCall.Status.STOPPED and writer.completion_tokens > 0
    assert len([r for r in openai_server.requests if r["path"].endswith("/chat/completions")]) == 2


def test_stop_while_planning_never_calls_the_writer_and_leaves_a_failed_turn(player, openai_server):
    user, story, client = player
    planned = threading.Event()
    openai_server.script(fake.held('{"beats": [{"description": "Bells"}]}', planned), fake.stream(["Never."]))
    with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                       json={"action": "I wait.", "idempotency_key": "stop-2"}) as response:
        events = sse(response.iter_lines())
        assert [kind for kind, _ in (next(events), next(events))] == ["turn", "stage"]
        assert client.post(f"/api/stories/{story.pk}/turns/1/stop/").status_code == 202
        planned.set()
        received = list(events)
    assert [kind for kind, _ in received] == ["done"]
    done = received[0][1]
    assert done["stopped"] is True and done["status"] == "failed"
    assert done["error"] == "You stopped this turn before the Writer began."
    with acting_as(user):
        assert Turn.objects.get(story=story).status == Turn.Status.FAILED  # not pending: undo or retry it
    assert len([r for r in openai_server.requests if r["path"].endswith("/chat/completions")]) == 1


def test_a_finished_turn_cannot_be_stopped_and_nobody_stops_another_players_turn(player, live_server):
    user, story, client = player
    with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                       json={"action": "I look.", "idempotency_key": "stop-3"}) as response:
        list(response.iter_lines())
    answer = client.post(f"/api/stories/{story.pk}/turns/1/stop/")
    assert answer.status_code == 409 and answer.json()["code"] == "turn_conflict"
    assert client.post(f"/api/stories/{story.pk}/turns/9/stop/").status_code == 404
    stranger = signed_in(live_server, UserFactory())
    assert stranger.post(f"/api/stories/{story.pk}/turns/1/stop/").status_code == 404
    stranger.close()


def test_a_stop_flag_left_from_an_earlier_stream_does_not_stop_the_next_writing(player, openai_server):
    """The flag is cleared when its stream ends: a retry of the same turn writes whole."""
    user, story, client = player
    planned = threading.Event()
    openai_server.script(fake.held('{"beats": [{"description": "Bells"}]}', planned))
    with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                       json={"action": "I wait.", "idempotency_key": "stop-4"}) as response:
        events = sse(response.iter_lines())
        next(events)
        client.post(f"/api/stories/{story.pk}/turns/1/stop/")
        planned.set()
        list(events)
    openai_server.script(fake.ok('{"beats": [{"description": "Bells"}]}'), fake.stream(["It ", "rings."]))
    retried = client.post(f"/api/stories/{story.pk}/turns/1/retry/").json()
    assert retried["status"] == "completed" and retried["prose"] == "It rings."
