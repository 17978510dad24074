"""Chapters: per-turn evaluation with 5 vs 200 chapters, and heal latency through a real worker."""

import statistics
import time

from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.rls import acting_as
from bench import bench_database
from chapters import evaluation, services
from chapters.models import ChapterDivergenceLog, ChapterProgress
from core import embeddings
from core.contracts import StoryState
from luna_site.celery import app as celery_app
from narrative_pipeline import orchestrator
from narrative_pipeline.services import story_create

TITLE = "Chapters: evaluation per turn, heal latency"
SIZES, ROUNDS = (5, 200), 300


def _chapters(count: int) -> list[dict]:
    return [{"number": n, "title": f"Chapter {n}", "summary": f"The story reaches the {n}th milestone.",
             "required_previous_chapters": [n - 1] if n > 1 else [],
             "trigger_conditions": {"location": f"place {n}", "has_item": "lantern"},
             "suggested_beats": [{"description": f"Milestone {n} is reached", "priority": "high"}]}
            for n in range(1, count + 1)]


def _evaluation_ms(user, count: int) -> float:
    story = story_create(user=user, title=f"{count} chapters", state={"location": "the harbour"})
    state = StoryState(location="the harbour", inventory=["lantern"])
    vector = embeddings.embed_one("the harbour lantern")
    with acting_as(user):
        services.chapters_import(story_id=story.pk, user_id=user.pk, chapters=_chapters(count))
    samples = []
    for turn in range(1, ROUNDS + 1):
        with acting_as(user):
            started = time.perf_counter()
            evaluation.evaluate_turn(story_id=story.pk, user_id=user.pk, state=state, turn_number=turn,
                                     state_vector=vector)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[20:])


def _heal_latency(user, *, rung: str, items: list[str], flags: list[str]) -> tuple[str, float]:
    """Play until a turn queues the ladder's ``rung``; time from that turn's commit to its log row."""
    story = story_create(user=user, title="Healing", characters=[{"name": "Wren", "is_player": True}],
                         state={"location": "the market", "inventory": items, "flags": flags})
    with acting_as(user):
        services.chapters_import(story_id=story.pk, user_id=user.pk, chapters=[
            {"number": 1, "title": "The Chapel", "summary": "The bell is found in the chapel.",
             "trigger_conditions": {"location": "chapel", "has_item": "lantern", "flag": "night"},
             "min_similarity_threshold": 0.2,
             "suggested_beats": [{"beat": "The bell is found", "priority": "high"}]}])
    for number in range(1, 60):
        turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action="I wait and watch the crowd.",
                                           idempotency_key=f"heal-{number}")
        orchestrator.turn_generate(user=user, turn=turn)
        committed = time.perf_counter()
        with acting_as(user):
            # The ladder climbs a rung per grace; the nudge is written into the turn itself, not by the worker.
            queued = ChapterProgress.objects.filter(story=story, healing_rung=rung).exists()
        if not queued:
            continue
        while time.perf_counter() < committed + 30:
            with acting_as(user):
                log = ChapterDivergenceLog.objects.filter(story=story, strategy=rung).first()
            if log is not None:
                return log.strategy, (time.perf_counter() - committed) * 1000
            time.sleep(0.002)
        raise RuntimeError("the healing was queued but never done")
    raise RuntimeError(f"the chapter never climbed to {rung}")


def run() -> str:
    with bench_database("chapters"):
        user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-1234",
                                                    max_stories=100, storage_limit_mb=10_000)
        evaluation_ms = {count: _evaluation_ms(user, count) for count in SIZES}
        celery_app.conf.task_always_eager = False
        celery_app.conf.task_default_queue = "luna-bench"
        with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING"):
            relax = _heal_latency(user, rung="relax", items=["lantern"], flags=["night"])  # 1 of 3 conditions unmet
            adapt = _heal_latency(user, rung="adapt", items=[], flags=[])  # 3 of 3 unmet
    ratio = evaluation_ms[200] / evaluation_ms[5]
    return f"""
Per-turn chapter evaluation (the Preprocessor's call: progress, the chapter the story is heading to,
its conditions and divergence, the activation write), median of {ROUNDS - 20} turns:

| chapters in the story | ms per turn |
| ---: | ---: |
| 5 | {evaluation_ms[5]:.2f} |
| 200 | {evaluation_ms[200]:.2f} |
| **growth** (goal ≤ 1.5×) | **{ratio:.2f}×** |

Heal latency, from the commit of the turn that queues a rung of the healing ladder (nudge, then relax,
then adapt, each after a {settings.CHAPTER_GRACE_TURNS}-turn grace) to the new version and its log row, through
a real Celery worker on Redis with the offline Dreamer; the player's turn never waits for it:

| tier | ms |
| --- | ---: |
| {relax[0]} | {relax[1]:.0f} |
| {adapt[0]} | {adapt[1]:.0f} |
"""
