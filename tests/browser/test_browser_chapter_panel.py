"""The player's chapter panel on a laptop and on a phone, and without JavaScript: the chapter under way
as a checklist and a note for each change (issue 17, item 4)."""

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from chapters import chapter_markup, healing, services
from chapters.models import ChapterProgress, StoryChapter
from core.contracts import StoryState

from ..conftest import fits, sign_in
from ..factories import UserFactory, story_with_turns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHAPTERS = """‹chapter-1› The Lamp at the End of the Long Northern Breakwater
location: lighthouse
description: The keeper's last night.
beats:
- [high] The lamp is lit by a stranger who has walked all the way from the southern harbour
- [low] A gull cries
"""


@pytest.fixture
def player():
    user = UserFactory()
    story = story_with_turns(user, 5, title="The Drowned Bell", state={"location": "the harbour"})
    with acting_as(user):
        (chapter,) = services.chapters_import(story_id=story.pk, user_id=user.pk,
                                              chapters=chapter_markup.parse(CHAPTERS))
        healing.relax(chapter, state=StoryState(location="the harbour"), turn_number=3)
        ChapterProgress.objects.create(
            user_id=user.pk, chapter=StoryChapter.objects.get(pk=chapter.pk), story=story, status="active",
            upcoming_turn=1, activated_turn=4,
            beats_addressed=["The lamp is lit by a stranger who has walked all the way from the southern harbour"])
    return user, story


def check_panel(page):
    panel = page.locator(".chapters")
    expect(panel.get_by_role("heading", name="Now: 1. The Lamp at the End of the Long Northern Breakwater")).to_be_visible()
    beats = panel.get_by_role("list", name="Beats of this chapter").locator("li")
    expect(beats).to_have_count(2)
    expect(beats.nth(0)).to_have_class("done")
    expect(beats.nth(0)).to_contain_text("✓ done: The lamp is lit")
    expect(beats.nth(1)).to_contain_text("○ open: A gull cries low")
    notes = panel.locator(".chapter-notes li")
    expect(notes.nth(0)).to_contain_text("began at turn 4")
    expect(notes.nth(1)).to_contain_text(
        "The story moved away from the lighthouse, so The Lamp at the End of the Long Northern Breakwater will meet "
        "you where you are.")
    expect(notes.nth(1)).to_contain_text("Turn 3")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_checklist_and_a_change_note_at_each_width(page_at, player, width, tmp_path):
    user, story = player
    page = page_at(width, 900 if width > 600 else 740)
    sign_in(page, user)
    page.goto(f"/stories/{story.pk}/")
    if width == 360:  # on a phone the panel is in the drawer
        page.get_by_text("Chapters, state and more").click()
    check_panel(page)
    page.locator(".chapters").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"chapter-panel-{width}.png"), full_page=True)
    if width == 360:
        fits(page, width)
        box = page.locator(".chapters").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width


def test_the_panel_without_javascript(browser, live_server, player, embedding_model):
    user, story = player
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url,
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, user)
        page.goto(f"/stories/{story.pk}/")
        check_panel(page)
        fits(page, 360)
    finally:
        context.close()
