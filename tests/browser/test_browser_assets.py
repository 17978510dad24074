"""On a phone: a player finds a character in the marketplace and brings her into his own story; then
syncs a forked story whose lore entry both he and the author changed, and keeps both."""

import re

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from chapters.lore import services as chapter_lore
from chapters.models import LoreEntry
from marketplace import forks, services

from ..conftest import fits, screenshot, sign_in
from ..factories import StoryFactory, UserFactory, world_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 360


def rewrite_entry(user, story_id, text):
    with acting_as(user):
        row = LoreEntry.objects.get(story_id=story_id, position=1)
        row.content = text
        chapter_lore.entry_save(row)


def test_fork_a_character_into_one_s_story_and_keep_both_sides_of_a_lore_entry(page_at):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    tide = world_story(alice, turns=2)
    story_listing = services.listing_publish(user=alice, story=tide, licence="CC-BY")
    services.listing_publish(user=alice, story=tide, kind="character", character="Orla", licence="CC-BY",
                     description="A diver who knows the wrecks.")
    voyage = StoryFactory(user=bob, title="Bob's voyage")
    page = page_at(WIDTH)
    sign_in(page, bob)

    page.get_by_role("link", name="Marketplace").click()
    page.get_by_role("link", name="Characters").click()
    card = page.locator(".listing-card").filter(has_text="Orla")
    expect(card).to_contain_text("by alice")
    expect(page.locator(".listing-card")).to_have_count(1)
    fits(page, WIDTH)
    screenshot(page, "marketplace-characters", WIDTH)

    card.get_by_role("link", name="Orla").click()
    expect(page.get_by_role("heading", name="Orla", level=1)).to_be_visible()
    expect(page.locator(".character-card")).to_contain_text("a diver")
    page.get_by_label("Into").select_option(label="Bob's voyage")
    fits(page, WIDTH)
    screenshot(page, "marketplace-character", WIDTH)
    page.get_by_role("button", name="Fork").click()
    page.wait_for_url(re.compile(rf"/stories/{voyage.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("Orla is now in your story “Bob's voyage”.")
    expect(page.locator("#marketplace-panel .taken-asset")).to_contain_text("Character Orla by alice, version 1")
    expect(page.locator("#marketplace-panel")).to_contain_text("Publish a character")
    fits(page, WIDTH)
    screenshot(page, "story-with-a-character", WIDTH)

    # A forked story whose lore entry 1 Bob and the author both rewrote.
    record = forks.fork_create(user=bob, listing_id=story_listing.pk)
    rewrite_entry(bob, record.story_id, "Bob's harbour: the nets dry on the wall.")
    rewrite_entry(alice, tide.pk, "The author's harbour: the bells ring at low tide.")
    services.listing_publish(user=alice, story=tide, licence="CC-BY", changelog="The harbour.")
    page.goto(f"/marketplace/forks/{record.pk}/sync/")
    page.get_by_role("button", name="Sync now").click()  # first what it would change, then Apply
    expect(page.locator(".sync-plan")).to_contain_text("Lore entry ‘harbour’: conflict")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".messages")).to_contain_text("applied automatically")
    expect(page.locator(".messages")).to_contain_text("1 conflict")
    conflict = page.locator("article.conflict")
    expect(conflict).to_have_count(1)
    expect(conflict.get_by_role("heading", name="Lore entry ‘harbour’")).to_be_visible()  # as the preview said
    expect(conflict).to_contain_text("the source's is added beside it, switched off")
    sides = [conflict.locator(f".side-{side}") for side in ("base", "source", "mine")]
    expect(sides[1]).to_contain_text("The author's harbour: the bells ring at low tide.")
    expect(sides[2]).to_contain_text("Bob's harbour: the nets dry on the wall.")
    boxes = [side.bounding_box() for side in sides]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"] and boxes[0]["x"] == boxes[1]["x"] == boxes[2]["x"]
    fits(page, WIDTH)
    screenshot(page, "sync-lore-conflict", WIDTH)

    conflict.get_by_label("I understand: resolving ends ‘Undo the last sync’").check()
    conflict.get_by_role("button", name="Keep both").click()
    expect(page.locator(".messages")).to_contain_text(
        "Lore entry ‘harbour’ keeps your version; the source's is beside it, switched off.")
    expect(page.locator("article.conflict")).to_have_count(0)
    expect(page.get_by_text("No conflicts to resolve.")).to_be_visible()
    fits(page, WIDTH)
    with acting_as(bob):
        copies = list(LoreEntry.objects.filter(story_id=record.story_id, enabled=False).values_list("content", flat=True))
    assert copies == ["The author's harbour: the bells ring at low tide."]
