"""An author writes a chapter in the admin's editor (conditions, beats, prerequisites) without typing JSON,
then edits it as ‹chapter-N› text."""

import re

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import chapter_markup, services
from chapters.models import StoryChapter

from ..conftest import admin_sign_in, screenshot
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHAPTERS = "‹chapter-1› The Summons\nlocation: harbour\n\nOpen with a summons.\n"


def test_an_author_writes_a_chapter_without_json(page_at):
    author = UserFactory()
    user_become_author(user=author)
    story = StoryFactory(user=author, title="The Drowned Bell")
    with acting_as(author):
        services.chapters_import(story_id=story.pk, user_id=author.pk, chapters=chapter_markup.parse(CHAPTERS))
    page = page_at(1280)
    admin_sign_in(page, author)

    # From the story, so the editor offers its chapters by number and title.
    page.goto(f"/admin/chapters/storychapter/add/?story={story.pk}")
    page.get_by_label("Number").fill("2")
    page.get_by_label("Title").fill("The Chapel at Night")
    page.get_by_label("Locations").fill("chapel, crypt")
    page.locator("#id_critical_location").check()
    page.get_by_label("Characters present").fill("Wren")
    page.get_by_label("Items:", exact=True).fill("lantern")
    page.get_by_label("Minimum turn").fill("3")
    page.locator("#id_required_previous_chapters").get_by_label("1. The Summons").check()
    page.get_by_label("Beat 1", exact=True).fill("The bell is found under the altar")
    page.get_by_label("Priority of beat 1").select_option("high")
    for _ in range(3):  # past the empty rows: the button adds one
        page.get_by_role("button", name="Add a beat").click()
    page.get_by_label("Beat 6", exact=True).fill("The tide rises")
    page.get_by_label("Priority of beat 6").select_option("low")
    page.get_by_label("Beat 2", exact=True).fill("Wren hears singing")
    screenshot(page, "admin-chapter-editor", 1280)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".errorlist")).to_contain_text("Beats, row 2: choose a priority.")
    page.get_by_label("Priority of beat 2").select_option("medium")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    with acting_as(author):
        chapel = StoryChapter.objects.get(story=story, number=2)
    assert chapel.trigger_conditions == {"location": ["chapel", "crypt"], "character_present": "Wren",
                                         "has_item": "lantern", "min_turn": 3}
    assert chapel.critical == ["location", "character_present"]
    assert chapel.required_previous_chapters == [1] and chapel.blocked_by == []
    assert chapel.suggested_beats == [{"beat": "The bell is found under the altar", "priority": "high"},
                                      {"beat": "Wren hears singing", "priority": "medium"},
                                      {"beat": "The tide rises", "priority": "low"}]

    # The same chapter as text: change the title there and save.
    page.goto(f"/admin/chapters/storychapter/{chapel.pk}/change/")
    page.get_by_role("link", name="Edit as text").click()
    text = page.get_by_label("Chapter as text")
    expect(text).to_have_value(re.compile(r"^‹chapter-2› The Chapel at Night\nrequires: 1\n"))
    text.fill(text.input_value().replace("The Chapel at Night", "The Chapel by Moonlight"))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    with acting_as(author):
        chapel.refresh_from_db()
    assert chapel.title == "The Chapel by Moonlight" and chapel.required_previous_chapters == [1]
