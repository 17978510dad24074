"""Live writing and the phone-first story page (#19): the passage appears piece by piece while the model is
still writing, the page names the agent at work, Stop keeps or discards, and a phone opens at the newest
passage with the action box in view and the side column in a drawer."""

import re
import threading

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from narrative_pipeline import orchestrator
from narrative_pipeline.models import AgentCall, Turn

from .. import fake_openai as fake
from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
PLAN = fake.ok('{"beats": [{"description": "The bell rings"}]}')


@pytest.fixture
def held_writer(openai_server):
    """The Writer's stream, held after its first piece until the test releases it (never left held)."""
    released = threading.Event()
    openai_server.script(PLAN, fake.stream(["The bell ", "rings ", "twice."], release=released))
    yield released
    released.set()


def open_story(page_at, width, title="Tidewater", height=900):
    user = UserFactory()
    story = StoryFactory(user=user, title=title, characters=[{"name": "Wren", "is_player": True}])
    page = page_at(width, height)
    sign_in(page, user)
    page.get_by_role("link", name=title).click()
    # story.js is deferred: until it has run, Play would post the form without it (and wait on the held model).
    page.wait_for_url(f"**/stories/{story.pk}/")
    return user, story, page


def start_turn(page, action):
    page.locator("#action-form textarea").fill(action)
    page.locator("#action-form").get_by_role("button", name="Play").click()
    # The first piece is on the page while the model server still holds the rest: nothing buffered it.
    expect(page.locator("#turn-1 .prose.streaming")).to_have_text("The bell ")


@WIDTHS
def test_the_passage_appears_as_it_is_written_then_the_turn_is_put_in_place(page_at, width, held_writer):
    user, story, page = open_story(page_at, width)
    page.evaluate("window.__samePage = true")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    start_turn(page, "I ring the bell.")
    expect(page.locator("#writing-status")).to_have_text(re.compile(r"^Writing… \d+ s — the Writer is writing$"))
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    held_writer.set()
    expect(page.locator("#turn-1 .prose")).to_have_text("The bell rings twice.")
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)
    # The finished turn with its tools, a fresh empty action box, and no reload.
    expect(page.locator("#turn-1").get_by_role("button", name="Reroll")).to_be_visible()
    expect(page.locator("#action-form textarea")).to_have_value("")
    expect(page.locator("#writing-status")).to_be_hidden()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    assert page.evaluate("window.__samePage") is True


def test_the_page_names_the_strategist_while_it_plans(page_at, openai_server):
    planned = threading.Event()
    openai_server.script(fake.held('{"beats": [{"description": "The bell rings"}]}', planned),
                         fake.stream(["It rings."]))
    try:
        user, story, page = open_story(page_at, 1280)
        page.locator("#action-form textarea").fill("I wait.")
        page.locator("#action-form").get_by_role("button", name="Play").click()
        expect(page.locator("#writing-status")).to_have_text(
            re.compile(r"^Writing… \d+ s — the Strategist is planning$"))
    finally:
        planned.set()
    expect(page.locator("#turn-1 .prose")).to_have_text("It rings.")


def stop(page, held_writer):
    with page.expect_response(lambda r: r.url.endswith("/turns/1/stop/")) as stopped:
        page.get_by_role("button", name="Stop").click()
    assert stopped.value.status == 202
    held_writer.set()  # the model would go on; the Writer's loop sees the Stop at its next piece
    expect(page.get_by_role("button", name="Keep what was written")).to_be_visible()


@WIDTHS
def test_stop_and_keep_what_was_written(page_at, width, held_writer):
    user, story, page = open_story(page_at, width)
    start_turn(page, "I ring the bell.")
    stop(page, held_writer)
    page.get_by_role("button", name="Keep what was written").click()
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)
    expect(page.locator("#turn-1 .prose")).to_have_text("The bell")
    expect(page.locator("#turn-1").get_by_role("button", name="Reroll")).to_be_visible()
    expect(page.get_by_role("button", name="Keep what was written")).to_have_count(0)
    with acting_as(user):
        turn = Turn.objects.get(story=story)
        assert turn.status == Turn.Status.COMPLETED and turn.prose == "The bell"
        assert AgentCall.objects.get(turn=turn, agent="writer").status == AgentCall.Status.STOPPED


@WIDTHS
def test_stop_and_discard_gives_the_action_back(page_at, width, held_writer):
    user, story, page = open_story(page_at, width)
    start_turn(page, "I ring the bell.")
    stop(page, held_writer)
    page.get_by_role("button", name="Discard").click()
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)
    expect(page.locator("#turn-1")).to_have_count(0)
    expect(page.locator("#action-form textarea")).to_have_value("I ring the bell.")
    expect(page.locator("#action-form textarea")).to_be_focused()
    with acting_as(user):
        assert not Turn.objects.filter(story=story).exists()


def in_view(page, locator) -> bool:
    box, height = locator.bounding_box(), page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] < height and box["y"] + min(box["height"], 40) <= height


@WIDTHS
def test_the_story_opens_at_the_newest_passage_with_the_action_box_in_view(page_at, width):
    user = UserFactory()
    story = StoryFactory(user=user, title="Long Tide", characters=[{"name": "Wren", "is_player": True}])
    for number in range(8):
        turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, idempotency_key=f"long-{number}",
                                           action=f"I walk on along the shore, step {number + 1}.")
        orchestrator.turn_generate(user=user, turn=turn)
    page = page_at(width, 740 if width < 600 else 900)
    sign_in(page, user)
    page.get_by_role("link", name="Long Tide").click()
    page.wait_for_url(f"**/stories/{story.pk}/")  # loaded: story.js (deferred) has scrolled to the newest passage
    newest, action_box = page.locator("#turn-8"), page.locator("#action-form textarea")
    expect(newest).to_be_visible()
    assert in_view(page, newest.locator(".action")) and in_view(page, action_box)
    fits(page, width)
    screenshot(page, "story", width, full_page=width >= 600)  # a phone: what opens on screen
    assert axe_violations(page) == []

    # Read back to turn 1, then "Jump to latest"; the action box stays at hand on a phone.
    page.locator("#turn-1").scroll_into_view_if_needed()
    if width < 600:
        assert in_view(page, action_box)
    page.get_by_role("link", name="Jump to latest").last.click()
    assert in_view(page, newest.locator(".action"))

    # The side column: a closed drawer on a phone (opened by a tap), the side column on a desktop.
    state = page.locator("#story-state")
    if width < 600:
        expect(state).to_be_hidden()
        page.get_by_text("Chapters, state and more").click()
    expect(state).to_be_visible()
    assert axe_violations(page) == []


def test_without_javascript_the_form_posts_and_the_drawer_is_open(browser, live_server, embedding_model):
    user = UserFactory()
    story = StoryFactory(user=user, title="Plain Tide", characters=[{"name": "Wren", "is_player": True}])
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url,
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, user)
        page.goto(f"/stories/{story.pk}/")
        expect(page.locator("#story-state")).to_be_visible()  # the drawer is open without the script
        expect(page.get_by_role("button", name="Stop")).to_be_hidden()
        page.locator("#action-form textarea").fill("I walk to the pier.")
        with page.expect_navigation():
            page.locator("#action-form").get_by_role("button", name="Play").click()
        assert page.url.endswith("#turn-1")
        expect(page.locator("#turn-1 .prose")).not_to_be_empty()
    finally:
        context.close()
