"""An author edits, previews and test-plays chapters in the admin; then, as a player, sees the
chapter panel change when the story diverges."""

import re

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import chapter_markup, services

from ..conftest import admin_sign_in, screenshot, wait_for_chart
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHAPTERS = """‹chapter-1› The Chapel at Night
location: chapel
has_item: lantern
flag: night
threshold: 0.2
beats:
- [high] The bell is found under the altar

Lead the player into the drowned chapel.
"""


def test_author_edits_previews_test_plays_then_plays(page_at, settings):
    settings.CHAPTER_GRACE_TURNS = 2
    author = UserFactory()
    user_become_author(user=author)
    story = StoryFactory(user=author, title="The Drowned Bell", state={
        "location": "the harbour", "inventory": ["lantern"], "flags": ["night"]},
        characters=[{"name": "Wren", "is_player": True}])
    with acting_as(author):
        (chapter,) = services.chapters_import(story_id=story.pk, user_id=author.pk,
                                              chapters=chapter_markup.parse(CHAPTERS))
    page = page_at(1280)
    admin_sign_in(page, author)

    page.goto(f"/admin/chapters/storychapter/{chapter.pk}/change/")
    page.get_by_label("Narrative instructions").fill("Lead the player into the drowned chapel by moonlight.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto(f"/admin/narrative_pipeline/story/{story.pk}/chapters/preview/")
    page.get_by_label("Location").fill("chapel")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("The Chapel at Night (v2)")).to_be_visible()
    expect(page.get_by_text("by moonlight")).to_be_visible()

    page.goto(f"/admin/narrative_pipeline/story/{story.pk}/test-play/")
    page.get_by_label("Turns").fill("6")
    page.get_by_label("Mode").select_option("wander")
    page.get_by_role("button", name="Test-play").click()
    expect(page.get_by_role("heading", name="Divergence per turn")).to_be_visible()
    # The chart's script may still be loading when the heading shows.
    wait_for_chart(page, "divergence-chart")
    expect(page.locator("table", has_text="Strategy")).to_contain_text("relax")
    screenshot(page, "admin-test-play", 1280)

    # As a player: the chapter is ahead; wandering off, it heals and the panel says so.
    page.goto(f"/stories/{story.pk}/")
    expect(page.locator(".chapters")).to_contain_text(re.compile(r"Ahead:?\s+1\. The Chapel at Night"))
    for action in ("I wander to the market.", "I buy bread.", "I sit by the fountain.", "I watch the pigeons.",
                   "I count the bells.", "I feed the pigeons."):
        page.locator("#action-form textarea").fill(action)
        page.locator("#action-form").get_by_role("button", name="Play").click()
        expect(page.locator("#turns[aria-busy]")).to_have_count(0)  # the turn put in place
    # Nudged, then relaxed (its location dropped): the story reached it by its own road.
    expect(page.locator(".chapters")).to_contain_text(
        re.compile(r"Done\s+1. The Chapel at Night — completed after the story changed it"))
    screenshot(page, "story-chapters", 1280)
