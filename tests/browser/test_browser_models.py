"""The Models page in the browser, on a laptop and on a phone: a player follows the notice's link, picks a
model for the Writer, saves and tests it."""

import pytest
from playwright.sync_api import expect

from .. import fake_openai as fake
from ..conftest import fits, screenshot, sign_in
from ..factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_choose_and_test_a_model(page_at, settings, width):
    with fake.FakeOpenAI() as tavern:
        settings.LLM_MAX_RETRIES = 0
        settings.LLM_CONNECTIONS = {"tavern": {"label": "The Tavern GPU", "base_url": tavern.base_url,
                                               "api_key": "sk-browser-planted-0a1b2c3d4e5f", "models": ["tavern-8b"]}}
        tavern.models = ["tavern-8b"]
        page = page_at(width)
        sign_in(page, UserFactory())
        expect(page.locator(".model-notice")).to_contain_text("No model connected")
        page.locator(".model-notice").get_by_role("link", name="Connect a model").click()
        expect(page.get_by_role("heading", name="Models")).to_be_visible()
        page.get_by_label("Writer").select_option(label="tavern-8b — The Tavern GPU")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Models saved")).to_be_visible()
        expect(page.get_by_label("Writer")).to_have_value("tavern:tavern-8b")
        tavern.script(fake.ok('{"ok": true}'), fake.ok('{"ok": true}'), fake.ok('{"ok": true}'),
                      fake.stream(['{"ok": true}']))
        page.get_by_role("button", name="Test these models").click()
        expect(page.get_by_role("heading", name="The Tavern GPU: works")).to_be_visible()
        expect(page.locator("table")).to_contain_text("writer")
        fits(page, width)
        screenshot(page, "models", width)
        assert tavern.base_url not in page.content() and "sk-browser-planted" not in page.content()
