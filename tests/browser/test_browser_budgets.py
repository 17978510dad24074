"""Budgets in the browser, on a laptop and on a phone: the warning by the action box from half of a story's
cap, and a turn past the cap refused with the ways out (nothing is sent to the model)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, Story

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import StoryFactory, UserFactory
from ..fake_priced_openai import PricedOpenAI

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_the_budget_warning_and_the_refusal(page_at, settings, width):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Lamp", characters=[{"name": "Wren", "is_player": True}])
    with acting_as(user):
        Story.objects.filter(pk=story.pk).update(budget_usd=Decimal(1))
        AgentCall.objects.create(user_id=user.pk, story=story, agent="writer", provider="default", model="m",
                                 cost_usd=Decimal("0.85"))
    page = page_at(width)
    sign_in(page, user)
    page.goto(f"/stories/{story.pk}/")
    notice = page.locator("#budget-notice")
    expect(notice).to_contain_text("This story: $0.8500 of $1.00: 80% used")
    expect(notice.get_by_role("link", name="switch the Writer")).to_have_attribute("href", f"/stories/{story.pk}/models/")
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "budget-warning", width, full_page=False)

    with PricedOpenAI() as server:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES = server.base_url, 0
        settings.LLM_PRICES = {"fake-model": {"input": 100, "output": 100}}
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "writer": {"provider": "openai", "model": "fake-model"}}
        page.locator("#action-form textarea").fill("I trim the wick.")
        page.locator("#action-form").get_by_role("button", name="Play").click()
        expect(notice).to_contain_text("Turn 1 was not played")
        assert server.calls == 0
    expect(notice.get_by_role("link", name="your monthly budget")).to_have_attribute("href", "/accounts/profile/#budget")
    expect(page.locator("#turns")).to_contain_text("This turn could cost up to")
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "budget-refused", width, full_page=False)
    # "this story's budget" leads to the form, even on a phone where it sits in the closed drawer (the browser
    # opens a <details> that holds the fragment's target).
    notice.get_by_role("link", name="this story's budget").click()
    expect(page.locator("#budget").get_by_label("Cap (USD)")).to_be_visible()

    # The profile's monthly budget: lowered there, with the same warnings.
    page.goto("/accounts/profile/#budget")
    page.get_by_label("Cap (USD)").fill("0.50")
    page.get_by_role("button", name="Set the monthly budget").click()
    expect(page.get_by_text("Monthly budget saved.")).to_be_visible()
    expect(page.locator("#budget")).to_contain_text("the cap is reached")
    fits(page, width)
    assert axe_violations(page) == []
