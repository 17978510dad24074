"""Who knows what (issue #20): the secret scenarios (bench/data/secret_scenarios.json) played through the real
orchestrator with the offline narrator (``narrative_pipeline.secret_suite``). The claims: 0 briefings in which a
character's planning context holds a fact that character does not know, every reveal on the turn its condition
first holds, and no secret in any passage before its reveal."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model

from bench import bench_database
from narrative_pipeline.secret_suite import scenarios_load, suite_run

TITLE = "Who knows what: secret scenarios"


def run() -> str:
    scenarios = scenarios_load()
    started = time.perf_counter()
    with bench_database("secrets"):
        user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-1234",
                                                    max_stories=1_000, storage_limit_mb=10_000)
        result = suite_run(user, scenarios)
    seconds = time.perf_counter() - started
    secrets = sum(len(s["secrets"]) + sum(1 for m in s["cast"] if m.get("known_by")) for s in scenarios)
    problems = "\n".join(f"- {line}" for line in [*result.briefing_leaks, *result.reveal_errors,
                                                   *result.passage_leaks][:20]) or "none"
    return f"""
{result.scenarios} scenarios (authored data: {secrets} secrets in all, 2 to 4 each, on lore entries, character
descriptions, plain facts and chapter beats; 4 characters each; {result.turns} scripted turns), offline narrator, in {seconds:.1f} s.

| measure | result |
|---|---|
| briefings checked (character blocks) | {result.briefings} ({result.blocks}) |
| briefings where a character is told a fact it does not know | **{len(result.briefing_leaks)}** |
| reveals on the turn their condition first holds (never-due included) | **{result.reveals_on_time} / {result.reveals_due}** |
| passages stating a secret before its reveal | **{len(result.passage_leaks)}** of {result.passages_checked} with a secret kept |
| passages telling a secret after its reveal (the check can see one) | {result.told_after_reveal} |
| failed turns | {result.failed_turns} |

Problems: {problems}
"""
