"""A player fixes a wrong State card in place, on a laptop and on a phone (#19: state you can trust)."""

import pytest
from playwright.sync_api import expect

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_fix_the_state_in_place(page_at, width):
    user = UserFactory()
    story = StoryFactory(user=user, title="Embers", state={
        "location": "Ash Gate", "present_characters": ["Captain Voss"],
        "inventory": ["signet ring", "Orla's arm before she can dive"], "flags": []})
    page = page_at(width)
    sign_in(page, user)
    page.goto(f"/stories/{story.pk}/")
    if width < 600:  # on a phone the State card is in the drawer
        page.get_by_text("Chapters, state and more").click()
    card = page.locator("#story-state")
    expect(card.get_by_label("Location")).to_have_value("Ash Gate")
    assert axe_violations(page) == []

    card.get_by_label("Location").fill("the sea")
    card.get_by_label("Present").fill("")
    card.get_by_label("Inventory").fill("signet ring, fishing rod")
    card.get_by_role("button", name="Update state").click()
    expect(page.get_by_text("State saved: the next turn starts from it.")).to_be_visible()
    card = page.locator("#story-state")
    expect(card.get_by_label("Location")).to_have_value("the sea")
    expect(card.get_by_label("Present")).to_have_value("")
    expect(card.get_by_label("Inventory")).to_have_value("signet ring, fishing rod")
    assert axe_violations(page) == []
    fits(page, width)
    card.scroll_into_view_if_needed()
    screenshot(page, "state-card", width)
