"""Routing per agent: cost per turn by agent for a default routing (a small model for the Strategist and the
Dreamer, a strong one for the Writer) against one strong model for all four, over the same 20-turn story.

The whole writers' room runs (Preprocessor, Strategist, Writer, then the Dreamer between turns) against a fake
OpenAI-compatible server that answers every agent and reports as usage the tokens it was sent and wrote
(``approximate_tokens``: 4 characters a token), as a real server reports its own count. The costs are what
``AgentCall`` records at the connection's prices. The Preprocessor makes no model call (retrieval and the
embeddings run locally), so it costs nothing under either routing.
"""

import json
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.test import override_settings

from accounts.rls import acting_as
from bench import bench_database
from core import task_queue
from narrative_pipeline import orchestrator
from narrative_pipeline.agents.prompts import DREAMER_SYSTEM, STRATEGIST_SYSTEM
from narrative_pipeline.llm import AGENTS, approximate_tokens
from narrative_pipeline.models import AgentCall, Turn
from narrative_pipeline.services import story_create
from tests import fake_openai as fake

TITLE = "Routing per agent: cost per turn, small models around a strong Writer vs one strong model"
TURNS = 20
# List prices per million tokens of a small and a strong hosted model (USD, input / output).
PRICES = {"small": {"input": 0.15, "output": 0.60}, "strong": {"input": 2.50, "output": 10.00}}
ROUTINGS = {
    "default routing (small Strategist and Dreamer, strong Writer)": {"strategist": "small", "writer": "strong",
                                                                       "dreamer": "small"},
    "one strong model for all four": {"strategist": "strong", "writer": "strong", "dreamer": "strong"},
}
ACTIONS = ["I ask Captain Hale about the missing ship.", "I walk to the lighthouse.", "I take the brass lantern.",
           "I search the tide pools for clues.", "I tell Orla what I found.", "I run along the cliff path."]
PLAN = {"beats": [{"description": "The fog thickens over the harbour", "priority": "high"},
                  {"description": "Hale answers with a half-truth", "priority": "medium"}],
        "tone": "uneasy", "pacing": "measured", "target_length": 180}
PASSAGE = ("Fog rolls in off the water and swallows the quay lamps one by one. Captain Hale turns the question "
           "over as if it were a coin he means to keep, then answers with a story about a storm that nobody else "
           "remembers. Somewhere past the breakwater the drowned bell sounds once, low and patient. ") * 4
DREAM = {"carried": [], "learned": [], "title": "The Bell Tower", "summary": "Wren presses Hale about the ship.",
         "narrative_instructions": "Bring Wren to the bell tower at low tide.", "suggested_beats": []}


class SizedReplies:
    """The fake server's replies, each made for the request it answers (appended just before it is taken):
    the agent's answer, with usage counted from what was sent and what is written."""

    def __init__(self, server: fake.FakeOpenAI):
        self.server = server

    def __bool__(self):
        return True

    def popleft(self) -> dict:
        body = self.server.requests[-1]["body"]
        sent = approximate_tokens("\n".join(str(message.get("content", "")) for message in body["messages"]))
        system = body["messages"][0]["content"]
        if system == STRATEGIST_SYSTEM:
            text = json.dumps(PLAN)
        elif system == DREAMER_SYSTEM:
            text = json.dumps(DREAM) if body.get("response_format") else DREAM["summary"]
        else:
            return fake.stream([PASSAGE], prompt_tokens=sent, completion_tokens=approximate_tokens(PASSAGE))
        return fake.ok(text, prompt_tokens=sent, completion_tokens=approximate_tokens(text))


def _play(routing: dict[str, str], base_url: str, index: int) -> dict[str, dict]:
    agents = {agent: {"connection": "bench", "model": model} for agent, model in routing.items()}
    connections = {"bench": {"label": "Bench", "base_url": base_url, "models": list(PRICES), "prices": PRICES}}
    with override_settings(LLM_AGENTS=agents, LLM_CONNECTIONS=connections, LLM_MAX_RETRIES=0):
        user = get_user_model().objects.create_user(f"bench{index}", f"bench{index}@example.com",
                                                    "bench-password-1234", storage_limit_mb=10_000)
        story = story_create(user=user, title="The Drowned Bell", genre="mystery", state={"location": "the harbour"},
                             memory="The bell of the drowned chapel rings before every death.", characters=[
                                 {"name": "Wren", "is_player": True},
                                 {"name": "Captain Hale", "description": "harbour master, hiding something"},
                                 {"name": "Orla", "description": "a diver who lost her brother"}])
        with task_queue.held():
            for number in range(1, TURNS + 1):
                turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk,
                                                   action=ACTIONS[number % len(ACTIONS)],
                                                   idempotency_key=f"bench-{number}")
                turn = orchestrator.turn_generate(user=user, turn=turn)
                assert turn.status == Turn.Status.COMPLETED, turn.error
                task_queue.run_held()  # the Dreamer between turns, as the worker would
        with acting_as(user):
            rows = (AgentCall.objects.filter(story=story).values("agent")
                    .annotate(calls=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
                              cost=Sum("cost_usd")))
            return {row["agent"]: row for row in rows}


def run() -> str:
    measured = {}
    with fake.FakeOpenAI() as server, bench_database("routing"):
        server.replies = SizedReplies(server)
        for index, (name, routing) in enumerate(ROUTINGS.items()):
            measured[name] = _play(routing, server.base_url, index)
    lines = [f"{TURNS} turns of one story per routing, the same actions; prices per million tokens: small "
             f"${PRICES['small']['input']} in / ${PRICES['small']['output']} out, strong "
             f"${PRICES['strong']['input']} in / ${PRICES['strong']['output']} out.", "",
             "| routing | agent | model | calls / turn | tokens in / turn | tokens out / turn | USD / turn |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for name, rows in measured.items():
        for agent in AGENTS:
            row = rows.get(agent, {"calls": 0, "prompt": 0, "completion": 0, "cost": Decimal(0)})
            model = ROUTINGS[name].get(agent, "local (no model call: its tokens are the briefing it builds)")
            totals[name] += row["cost"] or 0
            lines.append(f"| {name} | {agent} | {model} | {row['calls'] / TURNS:.1f} | {(row['prompt'] or 0) // TURNS:,} "
                         f"| {(row['completion'] or 0) // TURNS:,} | {(row['cost'] or 0) / TURNS:.5f} |")
        lines.append(f"| {name} | **all** | | | | | **{totals[name] / TURNS:.5f}** |")
    default, strong = totals.values()
    lines += ["", f"The default routing costs **{default / strong:.0%}** of one strong model for all four "
              f"(${default / TURNS:.5f} vs ${strong / TURNS:.5f} a turn): the Writer's share is the same under both, "
              "and the Strategist's and the Dreamer's calls, most of the tokens sent, move to the small model."]
    return "\n".join(lines)
