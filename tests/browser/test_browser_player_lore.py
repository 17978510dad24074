"""A player starts a story from a character card on New story, sees its cast with the card's portrait, tests keys
on the lore page (a fired entry, one cut by the budget), and is asked what to do with a duplicate book."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from chapters.models import Lorebook
from narrative_pipeline.models import Character

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CARD = Path(__file__).parent.parent / "data" / "lore" / "card_v2" / "sillytavern_seraphina_v2_with_book.png"


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_a_card_from_new_story_then_the_cast_the_key_tester_and_a_duplicate_book(page_at, width):
    player = UserFactory()
    page = page_at(width)
    sign_in(page, player)
    page.goto("/stories/new/")
    page.get_by_label("Or start from a file").set_input_files(str(CARD))
    page.get_by_role("button", name="Begin").click()
    expect(page.get_by_role("heading", name=f"Start a story from {CARD.name}?")).to_be_visible()
    expect(page.locator(".lore-preview")).to_contain_text("Seraphina")
    expect(page.locator(".lore-preview")).to_contain_text("glade")
    assert axe_violations(page) == []
    fits(page, width)
    screenshot(page, "new-story-card-preview", width)
    page.get_by_role("button", name="Create story").click()

    if width < 600:  # on a phone the cast is in the drawer
        page.get_by_text("Chapters, state and more").click()
    cast = page.locator(".cast")
    expect(cast).to_contain_text("Seraphina")
    portrait = cast.get_by_role("img", name="Portrait of Seraphina")
    expect(portrait).to_be_visible()
    image = page.request.get(portrait.get_attribute("src"))  # the same session's cookie: the owner's portrait
    assert image.ok and image.headers["content-type"] == "image/png" and image.body() == CARD.read_bytes()
    assert axe_violations(page) == []

    story_id = page.url.split("/stories/")[1].split("/")[0]
    with acting_as(player):
        Lorebook.objects.filter(story_id=story_id).update(token_budget=450)  # the glade no longer fits
    cast.get_by_role("link", name="Lore and cast").click()
    page.get_by_label("Try an action").fill("I follow the forest path to the glade")
    page.get_by_role("button", name="Test").click()
    expect(page.locator(".lore-test-fired").first).to_contain_text('key "forest"')
    expect(page.locator(".lore-test-cut", has_text='key "glade"')).to_contain_text("cut by the budget")
    expect(page.locator(".lore-side").get_by_role("img", name="Portrait of Seraphina")).to_be_visible()
    assert axe_violations(page) == []
    fits(page, width)
    screenshot(page, "story-lore-tester", width)

    with acting_as(player):  # the card again, for its book only: our Seraphina keeps her name apart
        Character.objects.filter(story_id=story_id).update(name="Seraphina of the glade")
    page.get_by_label("Card or world file").set_input_files(str(CARD))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".duplicates")).to_contain_text("4 of its 4 entries are already in")
    assert axe_violations(page) == []
    screenshot(page, "story-lore-duplicate", width)
    page.get_by_label("Skip it").check()
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".messages")).to_contain_text("skipped")
    assert page.locator(".lore-book").count() == 1
