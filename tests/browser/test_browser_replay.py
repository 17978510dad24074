"""Replay a turn with another model in the browser, on a laptop and on a phone: from the writers' room the
player replays the Writer with a dearer model, reads both passages side by side with their models and costs,
and keeps the replay."""

import pytest
from playwright.sync_api import expect

from .. import fake_openai as fake
from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import UserFactory, played_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_replay_a_turn_side_by_side_and_keep_it(page_at, settings, width):
    with fake.FakeOpenAI() as tavern:
        settings.LLM_MAX_RETRIES = 0
        settings.LLM_CONNECTIONS = {"tavern": {"label": "The Tavern GPU", "base_url": tavern.base_url, "api_key": "k",
                                               "models": ["tavern-70b"],
                                               "prices": {"tavern-70b": {"input": 3.0, "output": 15.0}}}}
        player = UserFactory()
        story = played_story(player, turns=1)
        page = page_at(width)
        sign_in(page, player)
        page.goto(f"/stories/{story.pk}/turns/1/")
        page.get_by_role("link", name="Replay with another model…").click()
        expect(page.get_by_role("heading", name="Replay turn 1 with another model")).to_be_visible()
        page.get_by_label("Replay with").select_option(label="tavern-70b — The Tavern GPU")
        tavern.script(fake.stream(["The lamp gutters; ", "Hale swears at the dark."], prompt_tokens=2_000,
                                  completion_tokens=300))
        page.get_by_role("button", name="Replay the Writer").click()
        replay = page.get_by_role("region", name="Replay", exact=True)
        expect(replay).to_contain_text("Hale swears at the dark.")
        expect(replay).to_contain_text("tavern · tavern-70b · $0.010500")
        expect(page.get_by_role("region", name="The turn's passage")).to_contain_text(
            "offline · luna-offline-narrator · $0.000000")
        assert axe_violations(page) == []
        fits(page, width)
        screenshot(page, "replay", width)
        page.get_by_role("button", name="Keep this one").click()
        expect(page.get_by_text("now reads the replay")).to_be_visible()
        expect(page.locator("#turn-1")).to_contain_text("Hale swears at the dark.")
