"""The OpenAI-compatible provider against a fake server on 127.0.0.1 (real HTTP, no mocks)."""

import json

import pytest

from narrative_pipeline.llm import Completion, LLMError, LLMRequest
from narrative_pipeline.llm.connections import Connection
from narrative_pipeline.llm.openai_compatible import OpenAICompatibleProvider

from .. import fake_openai as fake

REQUEST = LLMRequest(agent="writer", messages=[{"role": "user", "content": "Write."}])


@pytest.fixture
def server():
    with fake.FakeOpenAI() as running:
        yield running


def provider(server, **options):
    return OpenAICompatibleProvider("test-model", base_url=server.base_url, api_key="sk-test",
                                    **{"timeout": 2, "max_retries": 2, "backoff": 0.01, **options})


def test_completion_with_usage_and_key(server):
    server.script(fake.ok("Rain falls.", prompt_tokens=30, completion_tokens=4))
    completion = provider(server).complete(REQUEST)
    assert completion == Completion(text="Rain falls.", prompt_tokens=30, completion_tokens=4, provider="openai",
                                    model="test-model")
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["body"]["model"] == "test-model" and sent["body"]["messages"] == REQUEST.messages


def test_json_mode_asks_for_a_json_object(server):
    server.script(fake.ok('{"beats": []}'))
    provider(server).complete(LLMRequest(agent="strategist", messages=[], json_mode=True))
    assert server.requests[0]["body"]["response_format"] == {"type": "json_object"}


def test_retries_429_and_5xx_then_succeeds(server):
    server.script(fake.status(429), fake.status(503), fake.ok("Third time."))
    assert provider(server).complete(REQUEST).text == "Third time."
    assert len(server.requests) == 3


def test_gives_up_with_a_clear_message(server):
    server.script(fake.status(500), fake.status(502), fake.status(500))
    with pytest.raises(LLMError, match=r"answered with an error \(HTTP 500\), 3 times"):
        provider(server).complete(REQUEST)


def test_a_client_error_is_not_retried(server):
    server.script(fake.status(401))
    with pytest.raises(LLMError, match="answered with an error \\(HTTP 401\\)\\. The operator has been told"):
        provider(server).complete(REQUEST)
    assert len(server.requests) == 1


def test_timeout(server):
    server.script(fake.hang(1.0), fake.hang(1.0))
    with pytest.raises(LLMError, match="did not answer within 0.3 s"):
        provider(server, timeout=0.3, max_retries=1).complete(REQUEST)


def test_non_json_answer(server):
    server.script(fake.BAD_JSON)
    with pytest.raises(LLMError, match="not a chat completion"):
        provider(server).complete(REQUEST)


def test_empty_completion(server):
    server.script(fake.EMPTY)
    with pytest.raises(LLMError, match="empty completion"):
        provider(server).complete(REQUEST)


def test_unreachable_server():
    unreachable = OpenAICompatibleProvider("m", base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=1, backoff=0)
    with pytest.raises(LLMError, match="could not be reached, 2 times") as raised:
        unreachable.complete(REQUEST)
    assert "127.0.0.1" not in str(raised.value)  # the server's address is the operator's business


def test_streaming_pieces_then_the_completion(server):
    server.script(fake.stream(["The ", "tide ", "turns."], prompt_tokens=12, completion_tokens=3))
    pieces = list(provider(server).stream(REQUEST))
    assert pieces[:-1] == ["The ", "tide ", "turns."]
    assert pieces[-1] == Completion(text="The tide turns.", prompt_tokens=12, completion_tokens=3, provider="openai",
                                    model="test-model")
    assert server.requests[0]["body"]["stream"] is True


def test_streaming_retries_before_the_first_piece(server):
    server.script(fake.status(429), fake.stream(["Late ", "but ", "here."]))
    assert list(provider(server).stream(REQUEST))[-1].text == "Late but here."


def test_cost_from_the_connections_price_table():
    connection = Connection("paid", "Paid", "openai", ("priced",), prices={"priced": {"input": 2.0, "output": 8.0}})
    assert connection.cost_usd("priced", 1_000_000, 500_000) == 6
    assert connection.cost_usd("unpriced", 1000, 1000) == 0


def test_request_body_is_plain_json(server):
    server.script(fake.ok("ok"))
    provider(server).complete(LLMRequest(agent="writer", messages=[{"role": "user", "content": "«ü» 🐉"}]))
    assert json.dumps(server.requests[0]["body"])
