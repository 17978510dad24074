"""Budget exactness (issue #21): 20 turns at once, on 20 stories of one account, against a monthly cap placed
at the edge (a fraction of a turn's estimate past a whole number of them), through the real orchestrator and
PostgreSQL, the Strategist and Writer on a priced fake server (tests/fake_priced_openai.py) that bills each
call its whole ``max_tokens``. The claims: spending never passes the cap by more than one turn's reserved
estimate, and no turn starts (makes its first model call) once what was spent had reached the cap."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from accounts.rls import acting_as
from bench import bench_database
from narrative_pipeline import budgets, orchestrator, services
from narrative_pipeline.contracts import StrategistBriefing
from narrative_pipeline.models import AgentCall, MonthlySpend
from tests.fake_priced_openai import PricedOpenAI

TITLE = "Budget exactness: concurrent turns at the cap"
TURNS_AT_ONCE = 20
# Where the cap sits, in turn estimates above what was spent before the round.
EDGES = (Decimal("0.5"), Decimal("1.5"), Decimal("3.5"), Decimal("7.25"))
PRICES = {"fake-model": {"input": 100, "output": 100}}


def _story(user, title):
    return services.story_create(user=user, title=title, premise="A lamp in the dark.", genre="mystery",
                                 characters=[{"name": "Wren", "is_player": True}])


def turns_at_once(user, turns) -> list[str]:
    """Generates ``turns`` in threads released together at a barrier; each one's status, or "refused" when its
    budget refused it (also test_budgets.py)."""
    start, outcomes = threading.Barrier(len(turns)), []

    def play(turn):
        try:
            start.wait()
            outcomes.append(orchestrator.turn_generate(user=user, turn=turn).status)
        except budgets.BudgetExceeded:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=play, args=(turn,)) for turn in turns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _round(user, edge: Decimal, index: int) -> dict:
    stories = [_story(user, f"Edge {index}.{n}") for n in range(TURNS_AT_ONCE)]
    turns = [orchestrator.turn_submit(user=user, story_id=story.pk, action="I light the lamp.",
                                      idempotency_key="edge")[0] for story in stories]
    probe_story = _story(user, f"Probe {index}")
    probe = orchestrator.turn_generate(user=user, turn=orchestrator.turn_submit(
        user=user, story_id=probe_story.pk, action="I light the lamp.", idempotency_key="probe")[0])
    estimate = budgets.turn_estimate_usd(user=user, story=probe_story, briefing=StrategistBriefing(**probe.briefing))
    with acting_as(user):
        spent_before = MonthlySpend.objects.get(user_id=user.pk).spent_usd
    cap = (spent_before + estimate * edge).quantize(Decimal("0.01"))
    with override_settings(LUNA_MONTHLY_BUDGET_USD={"free": cap, "pro": cap, "premium": cap}):
        started = time.perf_counter()
        outcomes = turns_at_once(user, turns)
        seconds = time.perf_counter() - started
    with acting_as(user):
        month = MonthlySpend.objects.get(user_id=user.pk)
        calls = list(AgentCall.objects.filter(turn_id__in=[t.pk for t in turns], cost_usd__gt=0)
                     .order_by("created_at", "id").values_list("turn_id", "cost_usd"))
    # A turn started past the cap: its first paid call came when the spend recorded before it had reached the cap.
    running, first_call_at = spent_before, {}
    for turn_id, cost in calls:
        first_call_at.setdefault(turn_id, running)
        running += cost
    return {"edge": edge, "estimate": estimate, "cap": cap, "spent": month.spent_usd,
            "overspend": max(month.spent_usd - cap, Decimal(0)), "reserved_left": month.reserved_usd,
            "completed": outcomes.count("completed"), "refused": outcomes.count("refused"),
            "past_cap": sum(1 for before in first_call_at.values() if before >= cap), "seconds": seconds}


def run() -> str:
    with PricedOpenAI() as server, bench_database("budgets"), override_settings(
            LLM_BASE_URL=server.base_url, LLM_MAX_RETRIES=0, LLM_PRICES=PRICES,
            LLM_AGENTS={"strategist": {"provider": "openai", "model": "fake-model"},
                        "writer": {"provider": "openai", "model": "fake-model"}}):
        user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-1234",
                                                    tier="premium", max_stories=1_000, storage_limit_mb=10_000)
        rounds = [_round(user, edge, index) for index, edge in enumerate(EDGES)]
    rows = "\n".join(
        f"| {r['edge']} | ${r['estimate']:.4f} | ${r['cap']:.2f} | {r['completed']} | {r['refused']} | "
        f"${r['overspend']:.4f} | **{r['past_cap']}** | ${r['reserved_left']:.4f} | {r['seconds']:.1f} s |"
        for r in rounds)
    worst = max(r["overspend"] / r["estimate"] for r in rounds)
    return f"""
{TURNS_AT_ONCE} turns at once per round (threads, one account's 20 stories, real PostgreSQL), the cap placed the
given number of turn estimates above what the account had spent; the fake server bills every call its whole
`max_tokens`, so a turn really costs about a quarter of its reserved estimate and more turns fit than estimates.

| cap at (estimates) | one turn's estimate | cap | completed | refused before any call | overspend | turns started past the cap | reserved left after | wall time |
|---|---|---|---|---|---|---|---|---|
{rows}

Worst overspend: {worst:.2f} of one turn's estimate (goal ≤ 1). Goal for turns started past the cap: 0.
"""
