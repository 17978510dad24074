"""The server-sent events endpoint, read by a real HTTP client against the live server."""

import json
import time

import httpx
import pytest

from accounts.rls import acting_as
from narrative_pipeline.models import Turn

from .. import fake_openai as fake
from ..factories import TEST_PASSWORD, StoryFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def events(response) -> list[tuple[str, dict]]:
    parsed, event = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            parsed.append((event, json.loads(line[6:])))
    return parsed


@pytest.fixture
def player(live_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    client = httpx.Client(base_url=live_server.url, timeout=20)
    token = client.post("/api/auth/token/", json={"username": user.username, "password": TEST_PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {token['access']}"
    yield user, story, client
    client.close()


def test_the_passage_streams_in_then_the_finished_turn(player):
    user, story, client = player
    with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                       json={"action": "I climb the tower.", "idempotency_key": "s1"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        received = events(response)
    kinds = [kind for kind, _ in received]
    assert kinds[0] == "turn" and kinds[-1] == "done" and kinds.count("text") > 5
    pending, finished = received[0][1], received[-1][1]
    assert pending["status"] == "pending" and finished["status"] == "completed"
    assert "".join(data["text"] for kind, data in received if kind == "text").strip() == finished["prose"]


def test_bad_input_is_json_400_before_any_stream(player):
    user, story, client = player
    response = client.post(f"/api/stories/{story.pk}/turns/stream/", json={"action": "", "idempotency_key": "s2"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_client_that_disconnects_mid_stream_loses_nothing(player, openai_server):
    user, story, client = player
    openai_server.script(fake.ok('{"beats": [{"description": "Bells"}]}'),
                         fake.stream([f"word{n} " for n in range(20)], pause=0.05))
    with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                       json={"action": "I ring the bell.", "idempotency_key": "s3"}) as response:
        for line in response.iter_lines():
            if line.startswith("event: text"):
                break  # the reader goes away after the first piece
    deadline = time.monotonic() + 15
    while True:
        with acting_as(user):
            turn = Turn.objects.get(story=story, idempotency_key="s3")
        if turn.status != Turn.Status.PENDING or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert turn.status == Turn.Status.COMPLETED and turn.prose.startswith("word0 word1")
    assert turn.action == "I ring the bell."
