"""Prompt caching (issue #21): cached prompt tokens read from the server as OpenAI, vLLM, OpenRouter and
llama.cpp report them, llama.cpp asked to keep its cache (and the field dropped where it is refused), cached
tokens charged at the connection's cached price, and "saved by cache" on the costs page and in the writers' room."""

import json
from decimal import Decimal

import pytest
from django.core.cache import cache

from accounts.rls import acting_as
from narrative_pipeline import orchestrator
from narrative_pipeline.llm import LLMRequest
from narrative_pipeline.llm.connections import Connection
from narrative_pipeline.llm.openai_compatible import OpenAICompatibleProvider
from narrative_pipeline.models import AgentCall
from narrative_pipeline.selectors import story_costs

from .. import fake_openai as fake
from ..factories import StoryFactory

REQUEST = LLMRequest(agent="writer", messages=[{"role": "user", "content": "Write."}])
PLAN = json.dumps({"beats": [{"beat": "The tide turns", "priority": "high"}]})


@pytest.fixture
def server():
    cache.clear()  # refused options are remembered per server address, and ports are reused
    with fake.FakeOpenAI() as running:
        yield running


def provider(server):
    return OpenAICompatibleProvider("test-model", base_url=server.base_url, api_key="", timeout=2, max_retries=0)


@pytest.mark.parametrize(("reply", "cached"), [
    (fake.ok("Rain.", prompt_tokens=2_000, usage={"prompt_tokens_details": {"cached_tokens": 1_536}}), 1_536),
    (fake.ok("Rain.", usage={"prompt_tokens_details": {"cached_tokens": None}}), 0),
    (fake.ok("Rain.", usage={"prompt_tokens_details": None}), 0),
    (fake.ok("Rain."), 0),
    (fake.ok("Rain.", extra={"timings": {"cache_n": 812, "prompt_n": 40}}), 812),  # llama.cpp's server
    (fake.ok("Rain.", extra={"tokens_cached": 96}), 96),  # older llama.cpp servers
], ids=["openai", "null-count", "null-details", "absent", "llama.cpp-timings", "llama.cpp-tokens-cached"])
def test_a_completion_carries_the_cached_tokens_its_server_reports(server, reply, cached):
    server.script(reply)
    assert provider(server).complete(REQUEST).cached_tokens == cached


@pytest.mark.parametrize(("last", "cached"), [
    ({"choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 3,
                               "prompt_tokens_details": {"cached_tokens": 768}}}, 768),
    ({"choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 3, "prompt_tokens_details": None}}, 0),
    ({"choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 3}}, 0),
    ({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
      "timings": {"cache_n": 640, "prompt_n": 12, "predicted_n": 3}}, 640),  # llama.cpp: timings on the last chunk
], ids=["openai", "null-details", "absent", "llama.cpp-timings"])
def test_a_stream_carries_the_cached_tokens_of_its_last_chunk(server, last, cached):
    server.script(fake.sse([fake.chunk({"content": "Rain "}), fake.chunk({"content": "falls."}), last]))
    finished = list(provider(server).stream(REQUEST))[-1]
    assert (finished.text, finished.cached_tokens) == ("Rain falls.", cached)


def test_llama_cpp_is_asked_to_keep_the_prompt_cached(server):
    server.script(fake.ok("Rain."), fake.stream(["Rain."]))
    provider(server).complete(REQUEST)
    list(provider(server).stream(REQUEST))
    assert [request["body"]["cache_prompt"] for request in server.requests] == [True, True]


def test_a_server_refusing_cache_prompt_is_asked_again_without_it_and_not_asked_with_it_again(server):
    server.refuses = {"cache_prompt"}  # OpenAI: "Unrecognized request argument supplied: cache_prompt"
    server.script(fake.ok("Rain."), fake.ok("Snow."))
    assert provider(server).complete(REQUEST).text == "Rain."
    assert provider(server).complete(REQUEST).text == "Snow."
    assert ["cache_prompt" in request["body"] for request in server.requests] == [True, False, False]


def test_cached_tokens_are_charged_at_the_cached_price_and_the_saving_is_the_difference():
    prices = {"m": {"input": 2.0, "cached_input": 0.5, "output": 8.0}, "plain": {"input": 2.0, "output": 8.0}}
    connection = Connection("paid", "Paid", "openai", ("m", "plain"), prices=prices)
    assert connection.cost_usd("m", 1_000_000, 0, 600_000) == Decimal("1.1")  # 0.4 M at 2 + 0.6 M at 0.5
    assert connection.cache_saved_usd("m", 1_000_000, 600_000) == Decimal("0.9")
    # Without a cached price the operator assumed no saving: cached tokens cost what any input costs.
    assert connection.cost_usd("plain", 1_000_000, 0, 600_000) == 2
    assert connection.cache_saved_usd("plain", 1_000_000, 600_000) == 0
    # A server cannot report more cached tokens than the prompt had.
    assert connection.cost_usd("m", 100, 0, 1_000) == Decimal("0.00005")


def test_a_turns_cached_tokens_are_recorded_and_shown_as_saved_on_the_costs_page_and_in_the_writers_room(
        alice, openai_server, settings, client):
    cache.clear()
    settings.LLM_PRICES = {"fake-model": {"input": 2.0, "cached_input": 0.2, "output": 0}}
    story = StoryFactory(user=alice)
    openai_server.script(
        fake.ok(PLAN, prompt_tokens=1_000_000, completion_tokens=0,
                usage={"prompt_tokens_details": {"cached_tokens": 500_000}}),
        fake.sse([fake.chunk({"content": "The tide turns."}),
                  {"choices": [], "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0},
                   "timings": {"cache_n": 250_000}}]))
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I wait.", idempotency_key="a")
    orchestrator.turn_generate(user=alice, turn=turn)
    with acting_as(alice):
        calls = {call.agent: call for call in AgentCall.objects.filter(story=story, provider="default")}
        costs = story_costs(story=story)
    assert (calls["strategist"].cached_tokens, calls["strategist"].cost_usd) == (500_000, Decimal("1.1"))
    assert calls["strategist"].cache_saved_usd == Decimal("0.9")
    assert (calls["writer"].cached_tokens, calls["writer"].cache_saved_usd) == (250_000, Decimal("0.45"))
    assert costs["total"]["cached_tokens"] == 750_000 and Decimal(costs["total"]["cache_saved_usd"]) == Decimal("1.35")
    assert costs["agents"]["writer"]["cached_tokens"] == 250_000
    client.force_login(alice)
    page = client.get(f"/stories/{story.pk}/costs/").content.decode()
    assert "Saved by cache: <strong>$1.350000</strong> · 750000 of the tokens in" in page
    room = client.get(f"/stories/{story.pk}/turns/{turn.number}/").content.decode()
    assert "<td>500000</td>" in room and "<td>250000</td>" in room


def test_the_costs_api_carries_the_cached_tokens_and_the_saving(alice, api_as):
    story = StoryFactory(user=alice)
    with acting_as(alice):
        AgentCall.objects.create(user_id=alice.pk, story=story, agent="writer", provider="default", model="m",
                                 prompt_tokens=100, cached_tokens=80, cache_saved_usd=Decimal("0.000120"))
    body = api_as(alice).get(f"/api/stories/{story.pk}/costs/").json()
    assert body["agents"]["writer"]["cached_tokens"] == 80 and body["total"]["cache_saved_usd"] == "0.000120"
