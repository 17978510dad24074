"""A visitor finds LUNA-Narrates: the landing page, the marketplace and a listing without an account, a
typo that still finds the story; a new player's first screen (New story with its starter-world cards); and
the update badge on My stories. At 1280 and 360 px, with no serious axe-core violation on any of them."""

import re

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from accounts.rls import acting_as
from marketplace import forks, services
from narrative_pipeline.models import Turn

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import TEST_PASSWORD, UserFactory, story_with_turns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])


def shelf(author):
    """Three published stories; the last one is the most liked."""
    listings = []
    for title, genre, tags in (("Clockwork Orchards", "steampunk", ["automatons"]),
                               ("A Stranger in Gullhaven", "mystery", ["stranger", "sea"]),
                               ("The Lighthouse Keeper", "mystery", ["sea", "solitude"])):
        story = story_with_turns(author, 3, title=title, genre=genre)
        listings.append(services.listing_publish(user=author, story=story, description=f"{title}: a tale.",
                                                 genre=genre, tags=tags, licence="CC-BY-SA"))
    services.listing_like(user=UserFactory(), listing=listings[-1])
    return listings


@WIDTHS
def test_a_visitor_reads_the_landing_page_browses_and_is_asked_to_log_in_to_fork(page_at, width):
    alice = UserFactory(username="alice")
    keeper = shelf(alice)[-1]
    page = page_at(width)

    page.goto("/")
    expect(page.get_by_role("heading", name="Read a little: The Lighthouse Keeper")).to_be_visible()
    expect(page.locator(".landing-sample .opening-turn").first).to_contain_text("Passage 1")
    expect(page.get_by_role("list", name="Most liked stories").locator(".listing-card").first).to_contain_text(
        "The Lighthouse Keeper")
    expect(page.get_by_role("link", name="Sign up and start a story")).to_be_visible()
    cover = page.locator(".listing-cover").first
    cover.scroll_into_view_if_needed()  # covers load lazily: below a phone's fold, not until scrolled to
    assert cover.evaluate("""image => image.complete ? image.naturalWidth > 0 : new Promise(done => {
        image.addEventListener("load", () => done(image.naturalWidth > 0));
        image.addEventListener("error", () => done(false));
    })""")
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "landing", width)

    page.get_by_role("link", name="Browse everything").click()
    expect(page.get_by_role("heading", name="Marketplace")).to_be_visible()
    page.get_by_role("searchbox").fill("lighthuose")  # a typo
    page.get_by_role("button", name="Search").click()
    card = page.locator(".listing-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("The Lighthouse Keeper")
    expect(card.get_by_title("Licence")).to_have_text("CC BY-SA 4.0")
    page.get_by_role("searchbox").fill("")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".listing-card")).to_have_count(3)
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "marketplace-browse", width)

    page.locator(".listing-card").filter(has_text="The Lighthouse Keeper").get_by_role(
        "link", name="The Lighthouse Keeper").click()
    expect(page.get_by_role("heading", name="The opening")).to_be_visible()
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "marketplace-asset-visitor", width)
    page.get_by_role("link", name="Log in to fork").click()
    page.wait_for_url(re.compile(rf"/accounts/login/\?next=/marketplace/{keeper.pk}/$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/marketplace/{keeper.pk}/")
    expect(page.get_by_role("button", name="Fork", exact=True)).to_be_visible()


@WIDTHS
def test_a_new_player_signs_up_and_lands_on_new_story_with_starter_cards(page_at, width):
    page = page_at(width)
    page.goto("/")
    page.get_by_role("link", name="Sign up and start a story").click()
    page.get_by_label("Username").fill(f"wren{width}")
    page.get_by_label("Email").fill(f"wren{width}@example.com")
    page.locator("#id_password").fill("moonlit-harbour-77")
    page.locator("#id_password_again").fill("moonlit-harbour-77")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/accounts/signup/sent/")
    page.goto(re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1))  # the link in the e-mail
    page.get_by_label("Username").fill(f"wren{width}")
    page.get_by_label("Password").fill("moonlit-harbour-77")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/stories/new/")

    expect(page.get_by_role("heading", name="New story")).to_be_visible()
    bell = page.locator(".world-card").filter(has_text="The Drowned Bell")
    expect(bell).to_contain_text("Keep the lighthouse on an island")
    expect(bell.get_by_role("list", name="The cast of The Drowned Bell")).to_contain_text("Captain Hale")
    expect(bell.locator("blockquote")).to_contain_text("The bell rings at dusk")
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "new-story-starter-cards", width)
    bell.click()  # the whole card chooses the world
    expect(page.get_by_label("The Drowned Bell (mystery)")).to_be_checked()
    page.get_by_role("button", name="Begin").click()
    expect(page.locator("#turn-1")).to_contain_text("The bell rings at dusk")


@WIDTHS
def test_my_stories_shows_the_update_badge_of_a_fork_behind_its_source(page_at, width):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    tide = story_with_turns(alice, 3, title="The Tide Book")
    listing = services.listing_publish(user=alice, story=tide, licence="CC-BY")
    record = forks.fork_create(user=bob, listing_id=listing.pk)
    with acting_as(alice):
        Turn.objects.filter(story=tide, number=2).update(prose="A new second.")
    services.listing_publish(user=alice, story=tide, licence="CC-BY")

    page = page_at(width)
    sign_in(page, bob)
    badge = page.locator(f"#story-updates-{record.story_id}").get_by_role("link", name="Update available: version 2")
    expect(badge).to_be_visible()
    expect(page.locator("#marketplace-updates")).to_contain_text("1 new version of what you forked")
    fits(page, width)
    assert axe_violations(page) == []
    screenshot(page, "my-stories-update-badge", width)
    badge.click()
    page.wait_for_url(f"**/marketplace/forks/{record.pk}/sync/")


@WIDTHS
def test_a_fork_pressed_after_the_session_ended_logs_in_and_comes_back_to_the_listing(page_at, width):
    keeper = shelf(UserFactory(username="alice"))[-1]
    bob = UserFactory(username="bob")
    page = page_at(width)
    sign_in(page, bob)
    page.goto(f"/marketplace/{keeper.pk}/")
    kept = [cookie for cookie in page.context.cookies() if cookie["name"] != settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()  # the session ended while the page was open: a visitor presses Fork
    page.context.add_cookies(kept)
    page.get_by_role("button", name="Fork", exact=True).click()
    page.wait_for_url(re.compile(rf"/accounts/login/\?next=/marketplace/{keeper.pk}/$"))
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/marketplace/{keeper.pk}/")  # the listing, not the fork's address (405 to a GET)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Fork", exact=True).click()
    expect(page.get_by_role("heading", name="The Lighthouse Keeper")).to_be_visible()
    assert "/stories/" in page.url
