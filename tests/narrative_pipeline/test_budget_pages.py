"""Budgets on the pages: the warning by the action box at 50/80/100 %, the refusal with its way out, the
story's cap form (its owner's only) and the profile's monthly cap, which can only be lowered."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, Story, Turn

from ..factories import StoryFactory, UserFactory
from ..fake_priced_openai import PricedOpenAI
from .test_budgets import PRICES

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])


def spend(story, usd: str):
    with acting_as(story.user):
        AgentCall.objects.create(user_id=story.user_id, story=story, agent="writer", provider="default", model="m",
                                 cost_usd=Decimal(usd))


@pytest.mark.parametrize(("spent", "shown"), [("0.40", None), ("0.60", "60% used"), ("0.85", "80% used"),
                                              ("1.00", "the cap is reached")])
def test_the_story_page_warns_from_half_of_the_cap(as_alice, story, spent, shown):
    with acting_as(story.user):
        Story.objects.filter(pk=story.pk).update(budget_usd=Decimal(1))
    spend(story, spent)
    page = as_alice.get(reverse("story-detail", args=[story.pk])).content.decode()
    assert ('id="budget-notice"' in page) == (shown is not None)
    if shown:
        assert shown.replace("60%", "50%") in page and reverse("story-models", args=[story.pk]) in page


def test_a_refused_turn_shows_why_and_the_ways_out(as_alice, story, settings):
    with PricedOpenAI() as server:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES, settings.LLM_PRICES = server.base_url, 0, PRICES
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "writer": {"provider": "openai", "model": "fake-model"}}
        as_alice.post(reverse("story-budget", args=[story.pk]), {"cap_usd": "0.01"})
        page = as_alice.post(reverse("story-play", args=[story.pk]), {"action": "I wait.", "idempotency_key": "a"},
                             follow=True).content.decode()
        assert server.calls == 0
    assert "was not played" in page and "your monthly budget" in page and "offline narrator" in page
    assert "$0.01" in page and f'{reverse("profile")}#budget' in page
    with acting_as(story.user):
        assert Turn.objects.get(story=story).status == Turn.Status.FAILED


def test_only_the_owner_sets_a_storys_cap(client, story):
    stranger = UserFactory()
    client.force_login(stranger)
    assert client.post(reverse("story-budget", args=[story.pk]), {"cap_usd": "99"}).status_code == 404
    client.force_login(story.user)
    client.post(reverse("story-budget", args=[story.pk]), {"cap_usd": "-1"})
    client.post(reverse("story-budget", args=[story.pk]), {"cap_usd": "2.50"})
    with acting_as(story.user):
        assert Story.objects.get(pk=story.pk).budget_usd == Decimal("2.50")
    client.post(reverse("story-budget", args=[story.pk]), {"cap_usd": ""})
    with acting_as(story.user):
        assert Story.objects.get(pk=story.pk).budget_usd is None


def test_the_profile_lowers_the_monthly_cap_but_never_raises_it(as_alice, alice, story, settings):
    settings.LUNA_MONTHLY_BUDGET_USD = {**settings.LUNA_MONTHLY_BUDGET_USD, "free": Decimal(5)}
    spend(story, "4.20")
    page = as_alice.get(reverse("profile")).content.decode()
    assert "Monthly budget" in page and "80% used" in page and "$5.00" in page
    refused = as_alice.post(reverse("account-budget"), {"cap_usd": "50"}, follow=True).content.decode()
    assert "monthly budget is $5.00" in refused
    as_alice.post(reverse("account-budget"), {"cap_usd": "4"})
    alice.refresh_from_db()
    assert alice.monthly_budget_usd == Decimal(4)
    assert "the cap is reached" in as_alice.get(reverse("profile")).content.decode()
