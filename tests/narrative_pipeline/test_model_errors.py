"""A model server's error body is for the operator's log (redacted), never for the player."""

import logging
import uuid

import httpx
import pytest

from accounts.rls import acting_as
from narrative_pipeline.llm import LLMError, LLMRequest
from narrative_pipeline.llm.openai_compatible import OpenAICompatibleProvider, redact
from narrative_pipeline.models import AgentCall, Turn

from .. import fake_openai as fake
from ..factories import TEST_PASSWORD, StoryFactory, UserFactory

LEAKED_KEY = "sk-live-abc123def456ghi789jkl"
# What an upstream server was seen to answer: its message quotes (part of) the key it was given.
LEAKY_BODY = {"error": {"message": f"Incorrect API key provided: {LEAKED_KEY}. Authorization: Bearer {LEAKED_KEY}",
                        "type": "invalid_request_error", "api_key": "sk-proj-9f8e7d6c5b4a"}}
PLAYER_MESSAGE = ("The story model's server answered with an error (HTTP 401). The operator has been told; "
                  "try again later.")
REQUEST = LLMRequest(agent="writer", messages=[{"role": "user", "content": "Write."}])


def leaky(code: int = 401) -> dict:
    return fake.error(code, LEAKY_BODY)


@pytest.fixture
def server():
    with fake.FakeOpenAI() as running:
        yield running


def provider(server, **options):
    return OpenAICompatibleProvider("test-model", base_url=server.base_url, api_key="sk-operator-secret-key",
                                    **{"timeout": 2, "max_retries": 0, "backoff": 0, **options})


def operator_log(caplog) -> str:
    return "\n".join(record.getMessage() for record in caplog.records if record.name == "luna.llm")


def assert_logged_for_the_operator_only(caplog, status: int = 401) -> None:
    log = operator_log(caplog)
    assert f"answered HTTP {status}" in log and "Incorrect API key provided" in log and "[redacted]" in log
    assert "abc123" not in log and "9f8e7d" not in log and "sk-operator-secret-key" not in log


class TestTheProvider:
    def test_an_error_answer_raises_a_plain_message_and_logs_the_body_redacted(self, server, caplog):
        server.script(leaky())
        with caplog.at_level(logging.WARNING, logger="luna.llm"), pytest.raises(LLMError) as raised:
            provider(server).complete(REQUEST)
        assert str(raised.value) == PLAYER_MESSAGE
        assert_logged_for_the_operator_only(caplog)

    def test_a_streamed_request_does_the_same(self, server, caplog):
        server.script(leaky())
        with caplog.at_level(logging.WARNING, logger="luna.llm"), pytest.raises(LLMError) as raised:
            list(provider(server).stream(REQUEST))
        assert str(raised.value) == PLAYER_MESSAGE
        assert_logged_for_the_operator_only(caplog)

    def test_retried_errors_are_logged_each_time_and_shown_by_status_only(self, server, caplog):
        server.script(leaky(503), leaky(503))
        with caplog.at_level(logging.WARNING, logger="luna.llm"), pytest.raises(LLMError) as raised:
            provider(server, max_retries=1).complete(REQUEST)
        assert str(raised.value) == ("The story model's server answered with an error (HTTP 503), 2 times. "
                                     "The operator has been told; try again later.")
        assert operator_log(caplog).count("answered HTTP 503") == 2
        assert_logged_for_the_operator_only(caplog, status=503)


@pytest.mark.parametrize(("upstream", "kept"), [
    ("Incorrect API key provided: sk-live-abc1****wxyz.", "Incorrect API key provided: [redacted]."),
    ('{"api_key": "hunter2-secret"}', '{"api_key": "[redacted]"}'),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", "Authorization: [redacted] [redacted]"),
    ("token=abcdef password: letmein", "token=[redacted] password: [redacted]"),
    ("at https://user:pw@llm.internal/v1", "at https://[redacted]@llm.internal/v1"),
    ("request 4f9c2d7e1a3b5c8d9e0f1a2b3c4d5e6f failed", "request [redacted] failed"),
    ("The model `gpt-4o` does not exist", "The model `gpt-4o` does not exist"),
])
def test_what_looks_like_a_secret_is_redacted(upstream, kept):
    assert redact(upstream) == kept


def test_the_configured_key_is_redacted_whatever_its_shape():
    assert redact("you sent plainkey", secrets=("plainkey",)) == "you sent [redacted]"


@pytest.mark.django_db
class TestPlayers:
    @pytest.fixture
    def story(self, alice):
        return StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])

    def test_the_api_and_the_pages_show_the_plain_message(self, api_as, as_alice, alice, story, openai_server,
                                                          caplog):
        openai_server.script(leaky())
        with caplog.at_level(logging.INFO):
            turn = api_as(alice).post(f"/api/stories/{story.pk}/turns/", {
                "action": "I knock.", "idempotency_key": "k1"}, content_type="application/json")
        assert turn.json()["status"] == "failed" and turn.json()["error"] == PLAYER_MESSAGE
        assert LEAKED_KEY not in turn.content.decode()
        with acting_as(alice):
            assert [call.error for call in AgentCall.objects.filter(story=story, status="error")] == [PLAYER_MESSAGE]
        for url in (f"/stories/{story.pk}/", f"/stories/{story.pk}/turns/1/", f"/api/stories/{story.pk}/turns/1/"):
            page = as_alice.get(url).content.decode()
            assert "HTTP 401" in page and "abc123" not in page
        assert_logged_for_the_operator_only(caplog)
        assert "abc123" not in caplog.text

    def test_the_play_form_shows_the_plain_message(self, as_alice, story, openai_server):
        openai_server.script(leaky())
        page = as_alice.post(f"/stories/{story.pk}/play/", {"action": "I knock.", "idempotency_key": "k2"},
                             follow=True).content.decode()
        assert "could not be written: The story model&#x27;s server answered with an error (HTTP 401)" in page
        assert "abc123" not in page


@pytest.mark.django_db(transaction=True)
def test_the_stream_shows_the_plain_message(live_server, openai_server, caplog):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    openai_server.script(leaky())
    with httpx.Client(base_url=live_server.url, timeout=20) as client, caplog.at_level(logging.WARNING):
        token = client.post("/api/auth/token/", json={"username": user.username, "password": TEST_PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access']}"
        with client.stream("POST", f"/api/stories/{story.pk}/turns/stream/",
                           json={"action": "I knock.", "idempotency_key": uuid.uuid4().hex}) as response:
            body = "".join(response.iter_lines())
    assert "HTTP 401" in body and "abc123" not in body
    with acting_as(user):
        assert Turn.objects.get(story=story).error == PLAYER_MESSAGE
    assert "abc123" not in caplog.text
