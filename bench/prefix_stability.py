"""Prefix stability (issue #21): how much of each agent's prompt a provider's prompt cache can reuse.

A 200-turn story (a starter world with an authored chapter) is played through the real orchestrator with the
offline narrator, the Dreamer running between turns; every request's messages are recorded with its turn. For
each agent and task, a turn's first call is compared with the previous turn's: the longest common prefix of the
two serialized prompts over the prompt's length, in characters (tokens follow characters closely enough here),
is what vLLM's prefix caching, llama.cpp's ``cache_prompt`` or OpenAI's prompt caching can skip; the rest is what
a turn pays for at the full input price."""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings

from accounts.rls import acting_as
from bench import bench_database
from chapters import services as chapter_services
from core import task_queue
from narrative_pipeline import orchestrator
from narrative_pipeline.llm import LLMRequest
from narrative_pipeline.llm.offline import OfflineProvider
from narrative_pipeline.models import Turn
from narrative_pipeline.services import story_create_from_world

TITLE = "Prefix stability: prompts a provider's cache can reuse"
TURNS = int(os.environ.get("PREFIX_BENCH_TURNS", "200"))
GOAL = 0.80
ACTIONS = ["I ask Captain Hale about the missing ship.", "I walk to the lighthouse.", "I take the brass lantern.",
           "I search the tide pools for clues.", "I tell Orla what I found.", "I run along the cliff path.",
           "I listen to the foghorn and count the beats.", "I drop the lantern and climb down to the cove."]
CHAPTER = {"number": 1, "title": "The Bell Beneath the Bay", "summary": "Wren learns why the drowned bell rings.",
           "narrative_instructions": "The bell rings before every death on the island. Let the harbour's fear grow "
           "turn by turn; Hale hides a debt to the smugglers who sank the chapel's salvage, and Orla dives for "
           "her brother's body. Keep the sea present in every scene: weather, tide, the colour of the water.",
           "trigger_conditions": {"location": "harbour"},
           "suggested_beats": [{"beat": "The bell rings at an hour it never rang before", "priority": "high"},
                               {"beat": "Orla finds a bronze clapper on the sea floor", "priority": "high"},
                               {"beat": "Hale is seen rowing out at night", "priority": "medium"}]}


# The same world as an author would furnish it (a card's worth of cast and memory, within the briefing's caps).
AUTHORED_MEMORY = (
    "Gullhaven keeps three rules: no boat leaves after the bell, no one dives alone, no one speaks of the chapel's "
    "salvage. The salvage was a chest of church silver raised in secret forty years ago by Hale's father and the "
    "Marrow brothers, who sold it to smugglers from the mainland; the chapel's bell went down with the hull that "
    "carried it. Since then the town has paid the smugglers in silence. Wren's predecessor at the lighthouse, "
    "old Tamsin, kept a logbook of every night the bell rang; it is hidden behind the lamp room's loose brick. "
    "The storms cut the island off from November to March; the ferry will not come until the thaw.")
AUTHORED_CAST = [
    {"name": "Wren", "is_player": True, "description": "the new lighthouse keeper, sent from the mainland after "
     "Tamsin's death; sharp-eyed, restless, a former coastguard signaller who reads lights and flags at a glance",
     "personality": "curious, stubborn, quick to trust the sea and slow to trust people"},
    {"name": "Captain Hale", "description": "the harbour master, sixty, broad and grey, who runs the quay and the "
     "town council; his father raised the chapel's silver, and he has kept the secret and paid its price all his "
     "life", "personality": "gruff, protective of the town, guilty, honest in everything but the one thing"},
    {"name": "Orla", "description": "a diver who lost her brother Colm to the bay two winters ago; she dives the "
     "drowned chapel alone, against the town's rule, looking for him or for whatever took him",
     "personality": "fearless, bitter, funny when she forgets to be angry"},
    {"name": "Father Ansel", "description": "the priest of the new chapel on the hill, who keeps the parish "
     "records and the key to the bell tower that has no bell", "personality": "gentle, evasive, afraid"},
    {"name": "Mags Marrow", "description": "the innkeeper of the Salt Anchor, last of the Marrow family, who hears "
     "every rumour on the island and sells the ones worth selling", "personality": "warm, shrewd, mercenary"},
]


def serialized(messages: list[dict]) -> str:
    """The prompt as a chat template lays it out: role and content, message after message."""
    return "".join(f"<|{message['role']}|>\n{message['content']}\n" for message in messages)


def common_prefix(first: str, second: str) -> int:
    length = min(len(first), len(second))
    for index in range(length):
        if first[index] != second[index]:
            return index
    return length


@contextmanager
def recorded() -> Iterator[list[tuple[int, LLMRequest]]]:
    """Every request the offline narrator answers, in order, with the turn it served (the list's last turn mark)."""
    requests: list[tuple[int, LLMRequest]] = [(0, None)]
    complete, stream = OfflineProvider.complete, OfflineProvider.stream

    def recording_complete(self, request):
        requests.append((requests[-1][0], request))
        return complete(self, request)

    def recording_stream(self, request):
        requests.append((requests[-1][0], request))
        return stream(self, request)

    OfflineProvider.complete, OfflineProvider.stream = recording_complete, recording_stream
    try:
        yield requests
    finally:
        OfflineProvider.complete, OfflineProvider.stream = complete, stream


def prompt_tokens(requests: list[tuple[int, LLMRequest]]) -> dict[str, list[int]]:
    """Per agent, each call's prompt in approximate tokens (characters / 4)."""
    found: dict[str, list[int]] = defaultdict(list)
    for _, request in requests:
        if request is not None:
            found[request.agent].append(len(serialized(request.messages)) // 4)
    return found


def shares(requests: list[tuple[int, LLMRequest]]) -> dict[str, list[float]]:
    """Per agent, the share of each turn's prompt identical to the previous turn's prefix (same agent and task,
    the first call of each turn: a retry within a turn would repeat its own prompt)."""
    previous: dict[tuple[str, str], tuple[int, str]] = {}
    found: dict[str, list[float]] = defaultdict(list)
    for turn, request in requests:
        if request is None:
            continue
        key = (request.agent, str(request.payload.get("task")) + ("-repair" if request.payload.get("repair") else ""))
        if key in previous and previous[key][0] == turn:
            continue
        prompt = serialized(request.messages)
        if key in previous:
            found[request.agent].append(common_prefix(previous[key][1], prompt) / len(prompt))
        previous[key] = (turn, prompt)
    return found


def play(turns: int = TURNS, *, authored: bool = False, variant: str = "") -> list[tuple[int, LLMRequest]]:
    """The starter world's story, or (``authored``) the same with its cast and memory written out."""
    name = f"bench-{authored}{variant}"
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "bench-password-1234",
                                                storage_limit_mb=10_000)
    story = story_create_from_world(user=user, world="drowned-bell")
    with acting_as(user):
        chapter_services.chapters_import(story_id=story.pk, user_id=user.pk, chapters=[dict(CHAPTER)])
        if authored:
            story.memory = AUTHORED_MEMORY
            story.save(update_fields=["memory"])
            story.characters.all().delete()
            for member in AUTHORED_CAST:
                story.characters.create(user_id=user.pk, **member)
    with recorded() as requests, task_queue.held():
        for number in range(2, turns + 2):
            requests.append((number, None))
            turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=ACTIONS[number % len(ACTIONS)],
                                               idempotency_key=f"bench-{number}")
            turn = orchestrator.turn_generate(user=user, turn=turn)
            assert turn.status == Turn.Status.COMPLETED, turn.error
            task_queue.run_held()
    return requests


def table(requests: list[tuple[int, LLMRequest]]) -> str:
    rows, sizes = [], prompt_tokens(requests)
    for agent, found in sorted(shares(requests).items()):
        met = "" if agent not in ("strategist", "writer") else (" ✓" if statistics.mean(found) >= GOAL else " ✗")
        size = statistics.mean(sizes[agent])
        rows.append(f"| {agent} | {len(found)} | **{statistics.mean(found):.0%}**{met} | {statistics.median(found):.0%} "
                    f"| {min(found):.0%} | {size:,.0f} | {size * (1 - statistics.mean(found)):,.0f} |")
    return """| agent | turns compared | mean share reused | median | lowest | mean prompt (tokens ≈ chars/4) \
| not reused (tokens a turn) |
|---|---|---|---|---|---|---|
""" + "\n".join(rows)


# Smaller blocks than the defaults (20, 40): fewer turns quoted and summaries listed, a shorter prompt reused less
# (cheaper where cached input is billed at half price).
SMALLER_BLOCKS = {"BRIEFING_RECENT_BLOCK_TURNS": 15, "BRIEFING_SUMMARY_BATCH_TURNS": 30}


def run() -> str:
    with bench_database("prefix"):
        starter = play()
        authored = play(authored=True)
        with override_settings(**SMALLER_BLOCKS):
            starter_smaller = play(variant="starter")
            authored_smaller = play(authored=True, variant="authored")
    return f"""
{TURNS} turns each, offline narrator, the Dreamer between turns. Share of each turn's prompt (characters of the
serialized messages) identical to the previous turn's prompt of the same agent and task: the part a provider's
prefix cache can reuse. Goal ≥ {GOAL:.0%} for the Strategist and the Writer.

At the defaults (`BRIEFING_RECENT_BLOCK_TURNS={settings.BRIEFING_RECENT_BLOCK_TURNS}`, \
`BRIEFING_SUMMARY_BATCH_TURNS={settings.BRIEFING_SUMMARY_BATCH_TURNS}`), the starter world "The Drowned Bell" as
shipped (a three-line cast) with one authored chapter:

{table(starter)}

The same world as an author furnishes it (five characters described in a few lines each, a paragraph of memory):

{table(authored)}

With smaller blocks ({", ".join(f"`{name}={value}`" for name, value in SMALLER_BLOCKS.items())}), the starter world
and the authored world:

{table(starter_smaller)}

{table(authored_smaller)}
"""
