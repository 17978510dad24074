"""An author reads a chapter's versions side by side and its story's prerequisite graph, at 1280 and 360 px:
the diff wraps in its columns (never cut off at the right) and the graph is drawn."""

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import chapter_markup, services

from ..conftest import admin_sign_in, screenshot
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHAPTERS = """‹chapter-1› The Harbour
location: harbour
beats:
- [high] A seal arrives

Open in the harbour.

‹chapter-2› The Bridge
requires: 1
location: bridge

Cross the bridge.

‹chapter-3› The Tower
requires: 2
blocked_by: 1
location: tower

Climb.
"""
LONG = " ".join(["The tide climbs the harbour wall while the gulls argue over the nets"] * 12)


@pytest.mark.parametrize("width", [1280, 360])
def test_versions_side_by_side_wrap_and_the_graph_is_drawn(page_at, width):
    author = UserFactory()
    user_become_author(user=author)
    story = StoryFactory(user=author, title="The Drowned Bell")
    with acting_as(author):
        harbour, *_ = services.chapters_import(story_id=story.pk, user_id=author.pk,
                                               chapters=chapter_markup.parse(CHAPTERS))
        services.chapter_update(chapter=harbour, narrative_instructions=LONG,
                                trigger_conditions={"location": ["Old Bridge", "North Gate"]})
    page = page_at(width)
    admin_sign_in(page, author)

    page.goto(f"/admin/chapters/storychapter/{harbour.pk}/change/")
    after = page.locator(".compare-field", has_text="Narrative instructions").locator(".compare-after")
    expect(after).to_contain_text("gulls argue")
    expect(page.locator(".compare-field", has_text="Conditions").locator(".compare-after")).to_contain_text(
        "Location: Old Bridge, North Gate")
    # The added text wraps inside its column: the column is no wider than it shows, and fits the page.
    sizes = after.evaluate("e => [e.scrollWidth, e.clientWidth, e.getBoundingClientRect().right]")
    assert sizes[0] <= sizes[1] and sizes[2] <= page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "admin-version-diff", width)

    page.goto(f"/admin/chapters/storychapter/graph/{story.pk}/")
    graph = page.get_by_role("img", name="Prerequisite graph of “The Drowned Bell”")
    expect(graph).to_be_visible()
    assert page.locator(".prerequisite-graph .edge-requires").count() == 2
    assert page.locator(".prerequisite-graph .edge-blocked_by").count() == 1
    expect(page.locator(".prerequisite-graph text", has_text="3. The Tower")).to_be_visible()
    screenshot(page, "admin-prerequisite-graph", width)
