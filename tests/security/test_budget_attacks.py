"""Raw SQL as the app role against the budget counters (narrative_pipeline migration 0018): a player can
neither lower what they spent nor read, reserve on or settle another player's."""

import pytest

from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, MonthlySpend, StorySpend

from ..factories import StoryFactory, UserFactory
from .attack import INSUFFICIENT_PRIVILEGE, run_as

pytestmark = pytest.mark.django_db

COUNTERS = ("narrative_pipeline_monthlyspend", "narrative_pipeline_storyspend", "narrative_pipeline_budgetreservation")


@pytest.fixture
def alice_spent(alice_story):
    """Alice's story has spent $1.50 on one call."""
    with acting_as(alice_story.user):
        AgentCall.objects.create(user_id=alice_story.user_id, story=alice_story, agent="writer", provider="default",
                                 model="m", cost_usd="1.5")
    return alice_story


def spent(user, story):
    with acting_as(user):
        return (MonthlySpend.objects.get(user_id=user.pk).spent_usd, StorySpend.objects.get(story=story).spent_usd)


@pytest.mark.parametrize("statement", [
    *(f"UPDATE {table} SET {column} = 0" for table in COUNTERS[:2] for column in ("spent_usd", "reserved_usd")),
    *(f"DELETE FROM {table}" for table in COUNTERS),
    *(f"TRUNCATE {table}" for table in COUNTERS),
    "INSERT INTO narrative_pipeline_monthlyspend (user_id, month, spent_usd, reserved_usd) "
    "VALUES (%(me)s, '2099-01-01', -100, 0)",
    "UPDATE narrative_pipeline_budgetreservation SET amount_usd = 0",
])
def test_a_player_cannot_reset_or_lower_their_spend(alice, alice_spent, statement):
    assert run_as(alice.pk, (statement, {"me": alice.pk})).refused == INSUFFICIENT_PRIVILEGE
    assert spent(alice, alice_spent) == (1.5, 1.5)


def test_a_negative_cost_planted_as_a_call_lowers_nothing(alice, alice_spent):
    outcome = run_as(alice.pk, (
        "INSERT INTO narrative_pipeline_agentcall (user_id, story_id, agent, provider, model, prompt_tokens, "
        "completion_tokens, cost_usd, latency_ms, status, error, reasoning, created_at) "
        "VALUES (%s, %s, 'writer', 'x', 'm', 0, 0, -1000, 0, 'ok', '', '', now())", [alice.pk, alice_spent.pk]),
        ("SELECT spent_usd FROM narrative_pipeline_monthlyspend WHERE user_id = %s", [alice.pk]))
    assert (outcome.refused, outcome.rows) == (None, [(1.5,)])
    # Deleting the calls themselves leaves the counters as they were.
    outcome = run_as(alice.pk, "DELETE FROM narrative_pipeline_agentcall",
                     ("SELECT spent_usd FROM narrative_pipeline_storyspend WHERE story_id = %s", [alice_spent.pk]))
    assert (outcome.refused, outcome.rows) == (None, [(1.5,)])


def test_a_player_cannot_read_or_touch_another_players_budget(alice_spent):
    bob = UserFactory()
    for table in COUNTERS:
        assert run_as(bob.pk, f"SELECT * FROM {table}").rows == []
    assert run_as(bob.pk, ("SELECT * FROM luna_budget_lock(%s)", [alice_spent.pk])).refused == INSUFFICIENT_PRIVILEGE
    assert run_as(bob.pk, ("SELECT luna_budget_reserve(%s, 1)", [alice_spent.pk])).refused == INSUFFICIENT_PRIVILEGE
    reservation = run_as(alice_spent.user_id, ("SELECT * FROM luna_budget_lock(%s)", [alice_spent.pk]),
                         ("SELECT luna_budget_reserve(%s, 1)", [alice_spent.pk])).rows[0][0]
    assert reservation is not None
    assert run_as(alice_spent.user_id, ("SELECT luna_budget_reserve(%s, -5)", [alice_spent.pk])).refused == "23514"
    # Bob's own story does not open Alice's reservations either.
    bob_story = StoryFactory(user=bob)
    assert run_as(bob.pk, ("SELECT * FROM luna_budget_lock(%s)", [bob_story.pk])).refused is None
