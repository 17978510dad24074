"""A player's fork falls behind its source: they see the badge, look at what a sync would change item by item,
apply it, read its named results, resolve the conflict (told first that it ends whole-sync undo, the three choices
alike) and play on, on a phone (the three texts stacked) and on a laptop (side by side)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from marketplace import forks, services
from marketplace.models import SyncRun
from narrative_pipeline import snapshots
from narrative_pipeline.models import Story, Turn

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import UserFactory, story_with_turns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def behind_fork(alice, bob, *, republish=True):
    """A publishes 30 turns; B forks and edits turns 3 and 7; A changes 2 and 7 and publishes v2
    (unless the test publishes it in the browser)."""
    tide = story_with_turns(alice, 30, title="The Lantern Coast", genre="mystery")
    listing = services.listing_publish(user=alice, story=tide, licence="CC-BY", description="Smugglers and a lighthouse.")
    record = forks.fork_create(user=bob, listing_id=listing.pk)
    for number, prose in ((3, "Bob's third: the fog rolls in."), (7, "Bob's seventh: the <b>keeper</b> hides.")):
        snapshots.turn_text_set(user=bob, story=Story(pk=record.story_id), number=number, prose=prose)
    with acting_as(alice):
        Turn.objects.filter(story=tide, number=2).update(prose="The author's better second.")
        Turn.objects.filter(story=tide, number=7).update(prose="The author's seventh: the keeper is found.")
    if republish:
        services.listing_publish(user=alice, story=tide, licence="CC-BY", changelog="Turns 2 and 7.")
    return record


@pytest.mark.parametrize("width", [360, 1280], ids=["phone", "desktop"])
def test_see_the_update_sync_resolve_and_play_on(page_at, width):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    record = behind_fork(alice, bob, republish=False)
    author = page_at(width)  # the author publishes version 2 in the browser
    sign_in(author, alice)
    with acting_as(alice):
        tide = Story.objects.get(user_id=alice.pk, title="The Lantern Coast")
    author.goto(f"/marketplace/publish/{tide.pk}/")
    author.get_by_label("What changed").fill("Turns 2 and 7.")
    author.get_by_role("button", name="Publish version 2").click()
    expect(author.locator(".messages")).to_contain_text("is published, version 2")

    page = page_at(width)
    sign_in(page, bob)
    page.get_by_role("link", name="Marketplace").click()
    page.get_by_role("link", name="My forks").click()
    card = page.locator(".card").filter(has_text="The Lantern Coast")
    badge = card.get_by_role("link", name="Update available: version 2")
    expect(badge).to_be_visible()
    fits(page, width)
    screenshot(page, "sync-my-forks", width)

    badge.click()
    page.wait_for_url(f"**/marketplace/forks/{record.pk}/sync/")
    expect(page.get_by_role("heading", name="Sync: The Lantern Coast")).to_be_visible()
    expect(page.locator(".sync-versions")).to_contain_text("version 1")
    expect(page.locator(".sync-versions")).to_contain_text("version 2")
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_url(re.compile(rf"/marketplace/forks/{record.pk}/sync/preview/"))
    plan = page.locator(".sync-plan li")
    expect(plan).to_have_text(["Turn 2: will update", "Turn 7: conflict: you and the author both changed it"])
    expect(page.locator(".sync-preview")).to_contain_text("Nothing has changed yet.")
    expect(page.get_by_role("link", name="Cancel")).to_be_visible()
    assert axe_violations(page) == []
    fits(page, width)
    screenshot(page, "sync-preview", width)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".messages")).to_contain_text("1 change applied automatically, 1 kept, 1 conflict")
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    results = page.locator(".sync-results")
    expect(results).to_contain_text("Updated: Turn 2")
    expect(results).to_contain_text("Conflicts: Turn 7")
    expect(page.locator(".open-conflicts")).to_have_text(re.compile(r"^1 conflict to resolve"))
    expect(page.get_by_text("up to date")).to_have_count(0)

    conflict = page.locator("article.conflict")
    expect(conflict).to_have_count(1)
    expect(conflict.get_by_role("heading", name="Turn 7")).to_be_visible()
    sides = [conflict.locator(f".side-{side}") for side in ("base", "source", "mine")]
    expect(sides[0]).to_contain_text("Passage 7: the tide turns")
    expect(sides[1]).to_contain_text("The author's seventh: the keeper is found.")
    expect(sides[2]).to_contain_text("Bob's seventh: the <b>keeper</b> hides.")  # escaped: the tags show as typed
    boxes = [side.bounding_box() for side in sides]
    if width < 600:  # stacked, each the card's full width
        assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]
        assert boxes[0]["x"] == boxes[1]["x"] == boxes[2]["x"]
    else:  # side by side, in one row
        assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
        assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"]
    buttons = [conflict.get_by_role("button", name=name) for name in ("Keep mine", "Keep the source's", "Keep both")]
    looks = [button.evaluate("b => { const s = getComputedStyle(b); return [s.backgroundColor, s.color, s.borderColor, "
                             "s.fontWeight, b.className]; }") for button in buttons]
    assert looks[0] == looks[1] == looks[2]  # equals: none filled, none the default
    expect(conflict.locator(".ends-undo")).to_have_text(re.compile("^Resolving this ends ‘Undo the last sync’ for this sync"))
    expect(page.get_by_role("button", name="Undo the last sync")).to_be_visible()
    violations = axe_violations(page)
    assert violations == [], violations
    fits(page, width)
    screenshot(page, "sync-page", width)

    buttons[2].click()  # not confirmed: the browser asks for the box first, and nothing is resolved
    expect(conflict).to_be_visible()
    conflict.get_by_label("I understand: resolving ends ‘Undo the last sync’").check()
    conflict.get_by_role("button", name="Keep both").click()
    expect(page.locator(".messages")).to_contain_text("Turn 7 keeps your text, with the source's")
    expect(page.locator("article.conflict")).to_have_count(0)
    expect(page.get_by_text("No conflicts to resolve.")).to_be_visible()
    expect(page.locator(".ok")).to_have_text("Your fork is up to date with its source.")
    fits(page, width)
    screenshot(page, "sync-resolved", width)

    page.get_by_role("link", name="Back to the story").click()
    page.wait_for_url(re.compile(rf"/stories/{record.story_id}/$"))
    expect(page.locator("#marketplace-panel")).to_contain_text("Forked from The Lantern Coast by alice, version 2")
    expect(page.locator("#marketplace-panel")).not_to_contain_text("Update available")
    page.locator("#action-form textarea").fill("I climb the lighthouse stairs.")
    page.locator("#action-form").get_by_role("button", name="Play").click()
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)  # the turn put in place
    page.wait_for_load_state()
    last = page.locator("article.turn").last
    expect(last).to_have_id("turn-31")
    expect(last.locator(".action")).to_contain_text("I climb the lighthouse stairs.")
    assert last.locator(".prose").inner_text().strip()
    fits(page, width)

    page.goto(f"/stories/{record.story_id}/?page=1")
    seventh = page.locator("#turn-7")
    expect(seventh.locator(".prose").first).to_contain_text("Bob's seventh: the <b>keeper</b> hides.")
    seventh.get_by_text("1 earlier version").click()
    expect(seventh.locator(".alternative")).to_contain_text("The author's seventh: the keeper is found.")
    expect(page.locator("#turn-2 .prose")).to_contain_text("The author's better second.")
    expect(page.locator("#turn-3 .prose")).to_contain_text("Bob's third: the fog rolls in.")


def test_a_background_sync_shows_its_progress_and_the_page_follows_it(page_at, settings, monkeypatch):
    from marketplace import sync

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    record = behind_fork(alice, bob)
    settings.SYNC_BACKGROUND_ITEMS = 0
    monkeypatch.setattr(sync, "queue_after_commit", lambda *args: None)  # the test plays the worker
    page = page_at(360)
    sign_in(page, bob)
    page.goto(f"/marketplace/forks/{record.pk}/sync/")
    page.get_by_role("button", name="Sync now").click()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".messages")).to_contain_text("runs in the background")
    expect(page.locator("#sync-progress")).to_contain_text("Syncing in the background: 0 of 2")
    expect(page.get_by_role("button", name="Sync now")).to_be_disabled()
    fits(page, 360)
    screenshot(page, "sync-background", 360)

    with acting_as(bob):
        queued = SyncRun.objects.get(fork_id=record.pk, status="queued")
    sync.fork_sync_run(user_id=bob.pk, run_id=queued.pk)
    # The page polls, and reloads itself once the sync is done.
    expect(page.locator("article.conflict").get_by_role("heading", name="Turn 7")).to_be_visible()
    expect(page.locator("#sync-progress")).to_have_count(0)
    expect(page.get_by_role("button", name="Undo the last sync")).to_be_enabled()
