"""Swipes and history in the browser (issue #19): move between a passage's versions with the arrows, the
keyboard and a swipe, pick one; undo then redo; change an earlier action and find the old turns kept in a
branch; the page never jumps after any of it; on a laptop and on a phone."""

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from narrative_pipeline.models import Turn

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import UserFactory, story_with_turns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TURNS = 12
SWIPE_LEFT = """prose => {
  const touch = x => new Touch({identifier: 1, target: prose, clientX: x, clientY: 100});
  prose.dispatchEvent(new TouchEvent("touchstart", {bubbles: true, touches: [touch(300)], changedTouches: [touch(300)]}));
  prose.dispatchEvent(new TouchEvent("touchend", {bubbles: true, touches: [], changedTouches: [touch(150)]}));
}"""


def story_with_versions(user):
    story = story_with_turns(user, TURNS, title="The Long Night", state={"location": "the harbour"})
    with acting_as(user):
        Turn.objects.filter(story=story, number=TURNS).update(
            prose="The third telling: the lamp gutters out.",
            alternatives=[{"prose": "The first telling: the lamp burns blue."},
                          {"prose": "The second telling: the lamp never lit."}])
    return story


def press(page, button) -> int:
    """Click ``button`` where it is in view; the scroll position just before the click."""
    button.scroll_into_view_if_needed()
    y = page.evaluate("window.scrollY")
    button.click()
    return y


def kept_or_clamped(page, y) -> bool:
    """The page is where it was, or as near as it can be when the page got shorter below (turns removed,
    a list of versions the swap closed): no jump."""
    bottom = page.evaluate("document.documentElement.scrollHeight - window.innerHeight")
    return page.evaluate("window.scrollY") == min(y, bottom)


def scrolled_to(page, selector) -> int:
    page.locator(selector).evaluate("element => element.scrollIntoView({block: 'center'})")
    return page.evaluate("window.scrollY")


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_swipe_pick_undo_redo_and_edit_an_earlier_action(page_at, width):
    user = UserFactory()
    story = story_with_versions(user)
    page = page_at(width)
    sign_in(page, user)
    page.goto(f"/stories/{story.pk}/")
    last = page.locator(f"#turn-{TURNS}")
    versions = last.locator(".version-count")
    expect(versions).to_have_text("3/3")

    # The keyboard, when no text field has the focus: left for the version before.
    y = scrolled_to(page, f"#turn-{TURNS} .versions")
    assert y > 0
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("ArrowLeft")
    expect(versions).to_have_text("2/3")
    expect(last.locator(".prose")).to_contain_text("The second telling")
    assert kept_or_clamped(page, y)

    # The arrow buttons.
    y = press(page, last.get_by_role("button", name="Previous version"))
    expect(versions).to_have_text("1/3")
    expect(last.locator(".prose")).to_contain_text("The first telling")
    assert kept_or_clamped(page, y)

    # A swipe to the left on the passage: the next version.
    last.locator(".prose").evaluate(SWIPE_LEFT)
    expect(versions).to_have_text("2/3")
    assert kept_or_clamped(page, y)

    # "Use this one" in the list of earlier versions; nothing is lost.
    last.get_by_text("2 earlier versions").click()
    y = press(page, last.get_by_role("button", name=f"Use version 3 of passage {TURNS}"))
    expect(versions).to_have_text("3/3")
    assert kept_or_clamped(page, y)
    expect(last.locator(".prose")).to_contain_text("The third telling")
    last.get_by_text("2 earlier versions").click()
    expect(last.locator(".alternative")).to_have_count(2)
    assert axe_violations(page) == []
    fits(page, width)
    screenshot(page, "swipes", width)

    # Undo says so and offers a redo; redo brings the turn back.
    scrolled_to(page, f"#turn-{TURNS - 2}")
    y = press(page, page.locator(f"#turn-{TURNS}").get_by_role("button", name="Undo"))
    expect(page.locator("#turn-notice")).to_contain_text(f"Turn {TURNS} is undone.")
    expect(page.locator(f"#turn-{TURNS}")).to_have_count(0)
    assert kept_or_clamped(page, y)
    assert axe_violations(page) == []
    y = press(page, page.locator("#turn-notice").get_by_role("button", name="Redo"))
    expect(page.locator(f"#turn-{TURNS} .prose")).to_contain_text("The third telling")
    expect(page.locator("#turn-notice")).not_to_contain_text("is undone")
    assert kept_or_clamped(page, y)

    # Change an earlier turn's action: its later turns are kept in a branch, which the notice names.
    earlier = page.locator(f"#turn-{TURNS - 2}")
    earlier.get_by_text("Edit action").click()
    earlier.get_by_label(f"New action of turn {TURNS - 2}").fill("I walk away from the lamp.")
    y = press(page, earlier.get_by_role("button", name="Write it again"))
    notice = page.locator("#turn-notice")
    expect(notice).to_contain_text(f"Turns {TURNS - 2}–{TURNS} were kept in the branch")
    expect(page.locator("article.turn")).to_have_count(TURNS - 2)
    expect(page.locator(f"#turn-{TURNS - 2} .action")).to_contain_text("I walk away from the lamp.")
    assert kept_or_clamped(page, y)
    assert axe_violations(page) == []
    screenshot(page, "edit-earlier-action", width)

    notice.get_by_role("link").click()
    expect(page.locator("article.turn")).to_have_count(TURNS)
    expect(page.locator(f"#turn-{TURNS - 2} .action")).to_contain_text(f"Action {TURNS - 2}.")
    expect(page.locator(f"#turn-{TURNS} .prose")).to_contain_text("The third telling")


def test_without_javascript_the_tools_post_and_come_back_to_the_turn(browser, live_server):
    user = UserFactory()
    story = story_with_versions(user)
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        sign_in(page, user)
        page.goto(f"/stories/{story.pk}/")
        page.locator(f"#turn-{TURNS}").get_by_role("button", name="Previous version").click()
        assert page.url.endswith(f"#turn-{TURNS}")
        expect(page.locator(f"#turn-{TURNS} .version-count")).to_have_text("2/3")
        page.locator(f"#turn-{TURNS}").get_by_role("button", name="Undo").click()
        assert page.url.endswith("#turn-notice")
        page.locator("#turn-notice").get_by_role("button", name="Redo").click()
        expect(page.locator(f"#turn-{TURNS} .version-count")).to_have_text("2/3")
    finally:
        context.close()
