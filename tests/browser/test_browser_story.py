"""A player plays a story in the browser, on a laptop and on a phone."""

import re

import pytest
from playwright.sync_api import expect

from ..conftest import axe_violations, screenshot, sign_in, wait_for_chart
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Keeps what the streaming passage showed before the finished turn replaces it in place.
RECORD_STREAM = """
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => {
    const streaming = document.querySelector(".prose.streaming");
    if (streaming && streaming.textContent) sessionStorage.setItem("streamed", streaming.textContent);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
});
"""


def play(page, action):
    """Plays a turn as the page does with JavaScript: streamed, then the finished turn put in place (no reload)."""
    page.evaluate("sessionStorage.removeItem('streamed')")
    page.evaluate("window.__samePage = true")
    page.locator("#action-form textarea").fill(action)
    with page.expect_response(lambda r: "/turns/stream/" in r.url) as streamed:
        page.locator("#action-form").get_by_role("button", name="Play").click()
    assert streamed.value.status == 200 and streamed.value.headers["content-type"].startswith("text/event-stream")
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)
    assert page.evaluate("window.__samePage") is True  # updated in place, not reloaded
    return page.evaluate("sessionStorage.getItem('streamed')")


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_play_a_starter_world(page_at, width):
    user = UserFactory()
    page = page_at(width)
    page.add_init_script(RECORD_STREAM)
    sign_in(page, user)
    expect(page.get_by_text("No stories yet")).to_be_visible()
    page.get_by_role("link", name="Start your first story").click()
    page.get_by_label("The Drowned Bell (mystery)").check()
    page.get_by_role("button", name="Begin").click()
    expect(page.get_by_role("heading", name="The Drowned Bell")).to_be_visible()
    expect(page.locator("#turn-1")).to_contain_text("The bell rings at dusk")

    for action in ("I ask Captain Hale what the bell means.", "I walk to the end of the pier.",
                   "I take the brass lantern and follow Orla."):
        streamed = play(page, action)
        last = page.locator("article.turn").last
        expect(last.locator(".action")).to_contain_text(action)
        assert streamed and streamed.strip()[:40] in last.locator(".prose").inner_text().replace("\n", " ")
    assert page.locator("article.turn").count() == 4
    expect(page.locator("#state-location")).to_have_value(re.compile("end of the pier"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # Reroll: the first passage stays browsable among the alternatives.
    first_passage = page.locator("article.turn").last.locator(".prose").first.inner_text()
    page.get_by_role("button", name="Reroll").click()
    page.wait_for_load_state()
    last = page.locator("article.turn").last
    last.get_by_text("1 earlier version").click()
    expect(last.locator(".alternative")).to_contain_text(first_passage[:60])

    # Undo the last turn.
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Turn 4 is undone.")).to_be_visible()
    assert page.locator("article.turn").count() == 3

    # Edit the memory; the next turn's writers' room shows it. On a phone it is in the drawer.
    if width < 600:
        page.get_by_text("Chapters, state and more").click()
    page.get_by_text("Edit memory and author's note").click()
    page.get_by_label("Memory").fill("Orla's brother drowned on the night the bell last rang.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved: the writers' room will see it")).to_be_visible()
    play(page, "I ask Orla about her brother.")
    page.locator("article.turn").last.get_by_role("link", name="Writers' room").click()
    expect(page.get_by_role("heading", name="Preprocessor: the briefing")).to_be_visible()
    expect(page.locator(".memory")).to_contain_text("Orla's brother drowned")
    expect(page.get_by_role("row", name=re.compile("writer"))).to_be_visible()
    screenshot(page, "writers-room", width)

    # Costs, with their charts.
    page.go_back()
    page.get_by_role("link", name="Costs").click()
    expect(page.get_by_role("heading", name="Costs")).to_be_visible()
    # The chart's script may still be loading when the heading shows.
    wait_for_chart(page, "agent-chart")
    screenshot(page, "costs", width)


def test_markup_from_players_and_the_llm_shows_as_text(page_at, openai_server):
    from .. import fake_openai as fake

    user = UserFactory()
    StoryFactory(user=user, title="<img src=x onerror=window.__pwned=1> Title")
    openai_server.script(fake.ok('{"beats": [{"description": "<b>bold</b>"}]}'),
                         fake.stream(["<script>window.__pwned=1</script>", " and <i>more</i>"]))
    page = page_at(1280)
    sign_in(page, user)
    expect(page.get_by_text("<img src=x onerror=window.__pwned=1> Title")).to_be_visible()
    page.get_by_role("link", name=re.compile("Title")).click()
    play(page, "I write <script>window.__pwned=1</script> on the wall")
    expect(page.locator("article.turn").last.locator(".prose")).to_contain_text("<script>window.__pwned=1</script>")
    expect(page.locator("article.turn").last.locator(".action")).to_contain_text("<script>")
    assert page.evaluate("window.__pwned") is None
    page.locator("article.turn").last.get_by_role("link", name="Writers' room").click()
    expect(page.get_by_text("<b>bold</b>")).to_be_visible()
    assert page.evaluate("window.__pwned") is None


def test_every_page_answers_without_console_errors(page_at, live_server):
    user = UserFactory()
    StoryFactory(user=user)
    page = page_at(360)
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"):
        assert page.goto(path).status == 200, path
    sign_in(page, user)
    page.get_by_role("link", name=re.compile("Story")).first.click()
    story_url = page.url
    play(page, "I look around.")
    for path in ("/stories/", "/stories/new/", story_url, story_url + "turns/1/", story_url + "costs/",
                 story_url + "delete/", "/accounts/profile/", "/api/docs/"):
        assert page.goto(path).status == 200, path
    # (Fetched, not shown: a page that answers 404 is a console error by design.)
    assert page.request.get("/stories/00000000-0000-0000-0000-000000000000/").status == 404


def test_a_passage_that_fails_shows_the_error_and_a_retry(page_at, openai_server):
    from .. import fake_openai as fake

    user = UserFactory()
    StoryFactory(user=user, title="Fragile")
    page = page_at(360)
    sign_in(page, user)
    page.get_by_role("link", name="Fragile").click()
    openai_server.script(fake.status(503))
    play(page, "I cross the rotten bridge.")
    turn = page.locator("article.turn").last
    expect(turn.get_by_role("alert")).to_contain_text("HTTP 503")
    expect(turn.locator(".action")).to_contain_text("I cross the rotten bridge.")
    expect(page.get_by_text("Retry or undo turn 1 before the next action.")).to_be_visible()
    openai_server.script(fake.ok('{"beats": [{"description": "The bridge holds"}]}'), fake.stream(["It ", "holds."]))
    turn.get_by_role("button", name="Retry").click()
    expect(page.locator("article.turn").last.locator(".prose")).to_have_text("It holds.")


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_player_pages_have_no_serious_accessibility_violations(page_at, width):
    user = UserFactory()
    StoryFactory(user=user)
    page = page_at(width)
    found = []
    for path in ("/", "/accounts/login/", "/accounts/signup/"):
        page.goto(path)
        found += axe_violations(page)
    sign_in(page, user)
    page.get_by_role("link", name=re.compile("Story")).first.click()
    story_url = page.url
    play(page, "I look around.")
    for path in ("/stories/", "/stories/new/", story_url, story_url + "turns/1/", story_url + "costs/",
                 story_url + "models/", "/accounts/profile/", "/models/", "/marketplace/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        found += axe_violations(page)
    assert found == []
