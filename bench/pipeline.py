"""The storytelling engine: per-turn overhead of our code and the database (offline provider),
briefing size and compression as a story grows, and embedding throughput."""

import statistics
import time

from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.rls import acting_as
from bench import bench_database
from core import embeddings, task_queue
from narrative_pipeline import orchestrator
from narrative_pipeline.contracts import StrategistBriefing
from narrative_pipeline.models import Turn
from narrative_pipeline.services import story_create

TITLE = "Storytelling engine: turn overhead, briefing size, embeddings"
TURNS = 1_010
WINDOWS = {"turn 10": range(10, 20), "turn 1,000": range(1_000, 1_010)}
BRIEFING_AT = (20, 200, 1_000)
ACTIONS = ["I ask Captain Hale about the missing ship.", "I walk to the lighthouse.", "I take the brass lantern.",
           "I search the tide pools for clues.", "I tell Orla what I found.", "I run along the cliff path.",
           "I listen to the foghorn and count the beats.", "I drop the lantern and climb down to the cove."]


def _history_tokens(user, story, before: int) -> int:
    """What sending the whole story would cost: every earlier action and passage, plus the memory."""
    with acting_as(user):
        texts = Turn.objects.filter(story=story, number__lt=before).values_list("action", "prose")
        return (sum(len(action) + len(prose) for action, prose in texts) + len(story.memory) + len(story.premise)) // 4


def _play(user, story):
    with task_queue.held():
        return _play_holding_dreams(user, story)


def _play_holding_dreams(user, story):
    timings, briefings = {}, {}
    for number in range(1, TURNS + 1):
        started = time.perf_counter()
        turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=ACTIONS[number % len(ACTIONS)],
                                           idempotency_key=f"bench-{number}")
        turn = orchestrator.turn_generate(user=user, turn=turn)
        timings[number] = time.perf_counter() - started
        assert turn.status == Turn.Status.COMPLETED, turn.error
        if number in BRIEFING_AT:
            briefings[number] = StrategistBriefing.model_validate(turn.briefing).size()
        # The Dreamer runs between turns, outside the timing, as the worker would beside the web process.
        task_queue.run_held()
    return timings, briefings


def _embedding_throughput() -> tuple[float, float]:
    texts = [f"{ACTIONS[n % len(ACTIONS)]} Turn {n} of a long night at the harbour." for n in range(256)]
    embeddings.embed(texts[:8])  # load the model first
    started = time.perf_counter()
    embeddings.embed(texts)
    batched = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text in texts[:64]:
        embeddings.embed_one(text)
    single = 64 / (time.perf_counter() - started)
    return batched, single


def run() -> str:
    with bench_database("pipeline"):
        user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-1234",
                                                    storage_limit_mb=10_000)
        story = story_create(user=user, title="The Drowned Bell", genre="mystery", state={"location": "the harbour"},
                             memory="The bell of the drowned chapel rings before every death.", characters=[
                                 {"name": "Wren", "is_player": True},
                                 {"name": "Captain Hale", "description": "harbour master, hiding something"},
                                 {"name": "Orla", "description": "a diver who lost her brother"}])
        timings, briefings = _play(user, story)
        history = {number: _history_tokens(user, story, number) for number in BRIEFING_AT}
    batched, single = _embedding_throughput()
    overhead = {name: statistics.median(timings[n] for n in numbers) * 1000 for name, numbers in WINDOWS.items()}
    ratio = overhead["turn 1,000"] / overhead["turn 10"]
    rows = "\n".join(
        f"| {number:,} | {briefings[number]:,} | {history[number]:,} | {100 * (1 - briefings[number] / history[number]):.1f}% |"
        for number in BRIEFING_AT)
    return f"""
One story played for {TURNS:,} turns with the offline provider (so this measures our code and
the database: context building with pgvector retrieval, planning, writing, two short
transactions), the Dreamer run between turns outside the timing.

| per-turn overhead (median of 10 turns) | ms |
| --- | ---: |
| turns 10–19 | {overhead["turn 10"]:.1f} |
| turns 1,000–1,009 | {overhead["turn 1,000"]:.1f} |
| **ratio** (goal ≤ 1.5×) | **{ratio:.2f}×** |

| turn | briefing tokens | full history tokens | compression |
| ---: | ---: | ---: | ---: |
{rows}

Tokens are characters ÷ 4. The briefing keeps fixed budgets per section (recent prose, the
story so far plus the most relevant older turns, cast), so it stops growing after the first
batch of turn summaries; within a batch it rises and falls with the quoted window and the
summaries listed since the arc (see "Prefix stability"); the original LUNA-Narrates reported 96% compression.

| embeddings (all-MiniLM-L6-v2, CPU, {settings.EMBEDDING_THREADS} thread) | texts/s |
| --- | ---: |
| batched (batch size {settings.EMBEDDING_BATCH_SIZE}) | {batched:.0f} |
| one at a time | {single:.0f} |
"""
