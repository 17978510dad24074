"""A player finds a published story in the marketplace, forks it, rewrites a passage and plays on,
on a phone and on a laptop."""

import re

import pytest
from playwright.sync_api import expect

from marketplace import services

from ..conftest import fits, screenshot, sign_in
from ..factories import UserFactory, story_with_turns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




@pytest.mark.parametrize("width", [360, 1280], ids=["phone", "desktop"])
def test_find_fork_rewrite_and_play_on(page_at, width):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    story = story_with_turns(alice, 3, title="The Lantern Coast", genre="mystery")
    services.listing_publish(user=alice, story=story, description="Smugglers, a lighthouse and a missing keeper.",
                     tags=["sea", "smugglers"], licence="CC-BY")
    page = page_at(width)
    sign_in(page, bob)

    page.get_by_role("link", name="Marketplace").click()
    expect(page.get_by_role("heading", name="Marketplace")).to_be_visible()
    page.get_by_role("searchbox").fill("lantern")
    page.get_by_role("button", name="Search").click()
    card = page.locator(".listing-card").filter(has_text="The Lantern Coast")
    expect(card).to_contain_text("by alice")
    expect(card).to_contain_text("0 likes · 0 forks · 0 downloads")
    expect(card.locator(".tags")).to_contain_text("smugglers")
    fits(page, width)
    screenshot(page, "marketplace-search", width)

    card.get_by_role("link", name="The Lantern Coast").click()
    expect(page.get_by_role("heading", name="The Lantern Coast", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="The opening")).to_be_visible()
    expect(page.locator(".opening-turn").first).to_contain_text("Passage 1: the tide turns")
    expect(page.locator(".versions")).to_contain_text("Version 1")
    page.get_by_role("button", name="Like").click()
    expect(page.get_by_text("You like “The Lantern Coast”.")).to_be_visible()
    expect(page.locator(".counts").first).to_contain_text("1 like")
    fits(page, width)
    screenshot(page, "marketplace-asset", width)

    page.get_by_role("button", name="Fork", exact=True).click()
    page.wait_for_url(re.compile(r"/stories/[0-9a-f-]{36}/$"))
    expect(page.get_by_text("Your fork of “The Lantern Coast” is ready")).to_be_visible()
    # The marketplace panel, loaded by htmx into the core story page (in the drawer on a phone).
    if width < 600:
        page.get_by_text("Chapters, state and more").click()
    panel = page.locator("#marketplace-panel")
    expect(panel).to_contain_text("Forked from The Lantern Coast by alice, version 1")
    expect(panel.get_by_role("button", name="Branch from here")).to_be_visible()
    expect(panel.get_by_label("Branch from turn")).to_have_value("3")

    turn = page.locator("#turn-2")
    turn.get_by_text("Edit text").click()
    turn.get_by_label("New text of passage 2").fill("Bob's second passage: the keeper's boat is gone.")
    turn.get_by_role("button", name="Keep this text").click()  # in place (turns.js), no reload
    expect(page.get_by_text("Turn 2 has its new text.")).to_be_visible()
    expect(page.locator("#turn-2 .prose")).to_have_text("Bob's second passage: the keeper's boat is gone.")

    page.locator("#action-form textarea").fill("I row out to the lighthouse.")
    page.locator("#action-form").get_by_role("button", name="Play").click()
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)  # the turn put in place
    page.wait_for_load_state()
    last = page.locator("article.turn").last
    expect(last).to_have_id("turn-4")
    expect(last.locator(".action")).to_contain_text("I row out to the lighthouse.")
    assert last.locator(".prose").inner_text().strip()
    fits(page, width)
    screenshot(page, "marketplace-fork", width)

    page.goto("/marketplace/mine/forks/")
    expect(page.locator(".card").filter(has_text="The Lantern Coast")).to_contain_text("Storage: Delta")
    fits(page, width)
