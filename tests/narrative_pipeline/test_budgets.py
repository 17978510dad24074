"""Budgets with a hard cap (narrative_pipeline/budgets.py): a paid turn that would pass the story's or the
month's cap is refused before any model call, the offline narrator always plays, a turn's reservation is
settled to what it really cost, a player can only lower their monthly cap, and concurrent turns at the cap
never pass it."""

from decimal import Decimal

import pytest
from django.db import connection

from accounts.rls import acting_as
from bench.budgets import turns_at_once
from narrative_pipeline import budgets, orchestrator
from narrative_pipeline.contracts import StrategistBriefing
from narrative_pipeline.models import AgentCall, BudgetReservation, MonthlySpend, Story, StorySpend, Turn

from ..factories import StoryFactory, UserFactory
from ..fake_priced_openai import PricedOpenAI

# USD per million tokens: a turn's estimate is under a dollar, within the free tier's $5 a month.
PRICES = {"fake-model": {"input": 100, "output": 100}}


@pytest.fixture
def priced_server(settings):
    with PricedOpenAI() as server:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = server.base_url, 0, 0
        settings.LLM_PRICES = PRICES
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "strategist": {"provider": "openai", "model": "fake-model"},
                               "writer": {"provider": "openai", "model": "fake-model"}}
        yield server


def play(user, story, key="k1", action="I light the lamp."):
    turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=action, idempotency_key=key)
    return orchestrator.turn_generate(user=user, turn=turn)


def spend_rows(user, story):
    with acting_as(user):
        return (MonthlySpend.objects.get(user_id=user.pk), StorySpend.objects.get(story_id=story.pk))


@pytest.mark.django_db
def test_a_paid_turn_is_settled_to_what_its_calls_really_cost(priced_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    turn = play(user, story)
    assert turn.status == Turn.Status.COMPLETED
    with acting_as(user):
        spent = sum(call.cost_usd for call in AgentCall.objects.filter(story=story))
        assert not BudgetReservation.objects.exists()
    month, story_spend = spend_rows(user, story)
    assert spent > 0
    assert (month.spent_usd, month.reserved_usd, story_spend.spent_usd, story_spend.reserved_usd) == (
        spent, 0, spent, 0)


@pytest.mark.django_db
def test_a_turn_past_the_story_cap_is_refused_before_any_call(priced_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    budgets.story_budget_set(user=user, story_id=story.pk, budget_usd=Decimal("0.50"))
    with pytest.raises(budgets.BudgetExceeded) as refused:
        play(user, story)
    assert refused.value.code == "budget_exceeded" and refused.value.scope == "story"
    assert "$0.50" in refused.value.message and "offline narrator" in refused.value.message
    assert priced_server.calls == 0
    with acting_as(user):
        turn = Turn.objects.get(story=story)
        assert (turn.status, turn.action) == (Turn.Status.FAILED, "I light the lamp.")  # kept, to retry
        assert not AgentCall.objects.filter(story=story).exclude(provider="local").exists()
        assert not BudgetReservation.objects.exists()


@pytest.mark.django_db
def test_the_monthly_cap_refuses_too_and_a_free_narrator_always_plays(settings):
    settings.LUNA_MONTHLY_BUDGET_USD = {**settings.LUNA_MONTHLY_BUDGET_USD, "free": Decimal(0)}
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    budgets.story_budget_set(user=user, story_id=story.pk, budget_usd=Decimal(0))
    assert play(user, story).status == Turn.Status.COMPLETED  # offline: costs nothing, holds nothing
    with PricedOpenAI() as server:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES, settings.LLM_PRICES = server.base_url, 0, PRICES
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "writer": {"provider": "openai", "model": "fake-model"}}
        budgets.story_budget_set(user=user, story_id=story.pk, budget_usd=None)
        with pytest.raises(budgets.BudgetExceeded) as refused:
            play(user, story, key="k2", action="I go on.")
        assert refused.value.scope == "month" and server.calls == 0


@pytest.mark.django_db
def test_a_player_may_lower_their_monthly_cap_but_never_raise_it_past_the_tier(settings):
    settings.LUNA_MONTHLY_BUDGET_USD = {**settings.LUNA_MONTHLY_BUDGET_USD, "free": Decimal(5)}
    user = UserFactory()
    budgets.account_budget_set(user=user, budget_usd=Decimal("2.00"))
    with acting_as(user):
        assert budgets.account_budget(user=user).cap_usd == Decimal("2.00")
    with pytest.raises(budgets.DomainError):
        budgets.account_budget_set(user=user, budget_usd=Decimal("6.00"))
    # The column is the player's to write; a higher number there still leaves the tier's cap.
    assert budgets.monthly_cap(tier="free", subscription_expires_at=None, own_cap=Decimal(900)) == Decimal(5)


def test_budget_warnings_at_half_four_fifths_and_the_whole_cap():
    levels = [budgets.Budget(Decimal(10), Decimal(spent), Decimal(0)).warning_level for spent in (4, 5, 8, 9, 10, 12)]
    assert levels == [0, 50, 80, 80, 100, 100]
    assert budgets.Budget(None, Decimal(99), Decimal(0)).warning_level == 0
    assert budgets.Budget(Decimal(10), Decimal(6), Decimal(5)).remaining_usd == 0


@pytest.mark.django_db
def test_the_budget_api_reads_sets_and_refuses_with_402(api_as, priced_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    client = api_as(user)
    answer = client.patch(f"/api/stories/{story.pk}/budget/", {"cap_usd": "0.10"}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["cap_usd"] == "0.100000"
    refused = client.post(f"/api/stories/{story.pk}/turns/", {"action": "I wait.", "idempotency_key": "a"},
                          content_type="application/json")
    assert refused.status_code == 402
    assert refused.json()["code"] == "budget_exceeded" and refused.json()["scope"] == "story"
    me = client.get("/api/me/budget/").json()
    assert set(me) == {"cap_usd", "spent_usd", "reserved_usd", "remaining_usd", "warning_level"}
    too_high = client.patch("/api/me/budget/", {"cap_usd": "100000"}, content_type="application/json")
    assert too_high.status_code == 400
    other = StoryFactory(user=UserFactory())
    assert client.get(f"/api/stories/{other.pk}/budget/").status_code == 404
    assert client.patch(f"/api/stories/{other.pk}/budget/", {"cap_usd": "9"},
                        content_type="application/json").status_code == 404
    with acting_as(other.user):
        assert Story.objects.get(pk=other.pk).budget_usd is None


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_turns_at_the_monthly_cap_never_pass_it(priced_server, settings, embedding_model):
    user = UserFactory(tier="premium")  # room for 21 stories
    stories = [StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}]) for _ in range(20)]
    turns = [orchestrator.turn_submit(user=user, story_id=story.pk, action="I light the lamp.",
                                      idempotency_key="edge")[0] for story in stories]
    probe_story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    probe = play(user, probe_story, key="probe")
    with acting_as(user):
        spent_before = MonthlySpend.objects.get(user_id=user.pk).spent_usd
    estimate = budgets.turn_estimate_usd(user=user, story=probe_story, briefing=StrategistBriefing(**probe.briefing))
    # Room for three and a half turns' estimates: the cap sits between turns, at the edge.
    cap = (spent_before + estimate * Decimal("3.5")).quantize(Decimal("0.01"))
    settings.LUNA_MONTHLY_BUDGET_USD = {**settings.LUNA_MONTHLY_BUDGET_USD, "premium": cap}
    outcomes = turns_at_once(user, turns)
    with acting_as(user):
        month = MonthlySpend.objects.get(user_id=user.pk)
        calls_by_refused = AgentCall.objects.filter(turn__status=Turn.Status.FAILED).exclude(provider="local").count()
    assert sorted(set(outcomes)) == ["completed", "refused"] and len(outcomes) == 20
    assert month.spent_usd <= cap and month.reserved_usd == 0
    assert calls_by_refused == 0  # no refused turn made a single model call
    assert outcomes.count("completed") >= 3  # the room held three estimates: refusals were not spurious


@pytest.mark.django_db
def test_a_coauthors_turns_hold_and_meet_the_owners_budget(alice):
    from narrative_pipeline.services import collaborator_add

    story = StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])
    bob = UserFactory()
    collaborator_add(owner=alice, story=story, username=bob.username, role="edit")
    reservation = budgets.turn_reserve(user=bob, story=story, estimate_usd=Decimal("0.25"))
    month, story_spend = spend_rows(alice, story)
    assert month.reserved_usd == story_spend.reserved_usd == Decimal("0.25")
    with acting_as(bob):
        assert not MonthlySpend.objects.exists()  # nothing is held on bob's own month
    budgets.turn_settle(user=bob, reservation=reservation)
    assert spend_rows(alice, story)[0].reserved_usd == 0
    budgets.story_budget_set(user=alice, story_id=story.pk, budget_usd=Decimal("0.20"))
    with pytest.raises(budgets.BudgetExceeded):
        budgets.turn_reserve(user=bob, story=story, estimate_usd=Decimal("0.25"))


@pytest.mark.django_db
def test_a_failed_turn_settles_to_what_it_really_spent(openai_server, settings):
    from .. import fake_openai as fake

    settings.LLM_PRICES = PRICES
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    openai_server.script(fake.ok('{"beats": [{"description": "Bells"}]}', prompt_tokens=1000, completion_tokens=500),
                         fake.status(500))
    assert play(user, story).status == Turn.Status.FAILED
    month, story_spend = spend_rows(user, story)
    plan_cost = Decimal(1500) * 100 / 1_000_000
    assert (month.spent_usd, month.reserved_usd, story_spend.spent_usd, story_spend.reserved_usd) == (
        plan_cost, 0, plan_cost, 0)


@pytest.mark.django_db
def test_a_reservation_left_by_a_dead_process_is_released_after_an_hour(alice):
    story = StoryFactory(user=alice)
    budgets.turn_reserve(user=alice, story=story, estimate_usd=Decimal("3"))
    with connection.cursor() as cursor:  # as the table owner: the process died an hour and more ago
        cursor.execute("UPDATE narrative_pipeline_budgetreservation SET created_at = now() - interval '61 minutes'")
    budgets.turn_settle(user=alice, reservation=budgets.turn_reserve(user=alice, story=story,
                                                                     estimate_usd=Decimal("1")))
    month, story_spend = spend_rows(alice, story)
    assert month.reserved_usd == story_spend.reserved_usd == 0


@pytest.mark.django_db
def test_the_dreamer_past_a_cap_keeps_the_memory_with_the_offline_narrator(settings):
    from narrative_pipeline import dreams

    with PricedOpenAI() as server:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = server.base_url, 0, 0
        settings.LLM_PRICES = PRICES
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "dreamer": {"provider": "openai", "model": "fake-model"}}
        user = UserFactory()
        story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
        first = play(user, story)  # the Strategist and the Writer are the offline narrator: free
        budgets.story_budget_set(user=user, story_id=story.pk, budget_usd=Decimal(0))
        dreams.turn_dream(user_id=str(user.pk), turn_id=str(first.pk))
        assert server.calls == 0  # past the cap: not one paid call
        with acting_as(user):
            dreamer_calls = AgentCall.objects.filter(story=story, agent="dreamer")
            assert dreamer_calls.exists() and set(dreamer_calls.values_list("provider", flat=True)) == {"offline"}
            assert sum(call.cost_usd for call in AgentCall.objects.filter(story=story)) == 0

        budgets.story_budget_set(user=user, story_id=story.pk, budget_usd=None)  # under the cap: the model
        second = play(user, story, key="k2", action="I trim the wick.")
        dreams.turn_dream(user_id=str(user.pk), turn_id=str(second.pk))
        assert server.calls > 0
        month, story_spend = spend_rows(user, story)
        assert story_spend.spent_usd > 0 and story_spend.reserved_usd == month.reserved_usd == 0
        with acting_as(user):
            assert not BudgetReservation.objects.exists()
