"""The chapters panel a turn brings for the first time (the story had no chapter before it) is put in place,
without a reload: after an action played (story.js) and after a turn tool (turns.js), on a laptop and a phone."""

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from chapters import chapter_markup, services
from chapters.models import StoryChapter

from ..conftest import axe_violations, fits, sign_in
from ..factories import UserFactory, story_with_turns
from .test_browser_story import play

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHAPTER = "‹chapter-1› {title}\nlocation: lighthouse\nbeats:\n- [high] The lamp is lit\n"


def chapter_arrives(user, story, title: str) -> None:
    """A chapter written while the page is open (the Dreamer's suggestion taken, an author's import)."""
    with acting_as(user):
        services.chapters_import(story_id=story.pk, user_id=user.pk, chapters=chapter_markup.parse(CHAPTER.format(title=title)))


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_the_first_chapters_panel_comes_in_place_after_a_turn_and_after_a_turn_tool(page_at, width):
    player = UserFactory()
    story = story_with_turns(player, 2, title="The Drowned Bell", state={"location": "the harbour"})
    page = page_at(width)
    sign_in(page, player)
    page.goto(f"/stories/{story.pk}/")
    expect(page.locator("#chapters-panel")).to_be_attached()
    expect(page.locator(".chapters")).to_have_count(0)

    chapter_arrives(player, story, "The Lamp")
    play(page, "I walk to the lighthouse.")  # asserts the page was not reloaded
    expect(page.locator("#chapters-panel .chapters")).to_contain_text("The Lamp")
    assert axe_violations(page) == []
    fits(page, width)

    with acting_as(player):
        StoryChapter.objects.filter(story=story).delete()
    page.reload()
    expect(page.locator(".chapters")).to_have_count(0)
    chapter_arrives(player, story, "The Keeper")
    page.evaluate("window.__samePage = true")
    with page.expect_response(lambda r: "/undo/" in r.url):
        page.get_by_role("button", name="Undo").click()
    expect(page.locator("#chapters-panel .chapters")).to_contain_text("The Keeper")
    assert page.evaluate("window.__samePage") is True
    expect(page.locator(".chapters")).to_have_count(1)
