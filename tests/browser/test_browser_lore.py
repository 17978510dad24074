"""An author drops a character card into the admin, sees the preview, imports it, plays the story
and sees which lore entries fired; the card downloads back unchanged."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.services import user_become_author

from ..conftest import admin_sign_in, screenshot
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CARD = Path(__file__).parent.parent / "data" / "lore" / "card_v2" / "sillytavern_seraphina_v2_with_book.png"


def test_import_a_card_play_with_its_lore_and_download_it_back(page_at, tmp_path):
    author = UserFactory()
    user_become_author(user=author)
    story = StoryFactory(user=author, title="Eldoria", state={"location": "the glade"},
                         characters=[{"name": "Wren", "is_player": True}])
    page = page_at(1280)
    admin_sign_in(page, author)

    page.goto(f"/admin/narrative_pipeline/story/{story.pk}/change/")
    page.get_by_role("link", name="Import a file").click()
    page.get_by_label("File").set_input_files(str(CARD))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Character Card V2")).to_be_visible()
    expect(page.locator("table", has_text="Keys")).to_contain_text("eldoria")
    expect(page.get_by_text("Seraphina", exact=True)).to_be_visible()
    screenshot(page, "admin-lore-preview", 1280)
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".messagelist")).to_contain_text("4 lore entries, 1 character(s)")

    page.goto(f"/stories/{story.pk}/")
    page.locator("#action-form textarea").fill("I ask Seraphina about Eldoria and its forest.")
    page.locator("#action-form").get_by_role("button", name="Play").click()
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)  # the turn put in place
    fired = page.locator(".lore-fired").last
    expect(fired).to_contain_text(re.compile(r"Lore: .*eldoria"))
    screenshot(page, "story-lore-fired", 1280)

    with page.expect_download() as download:
        page.goto(f"/admin/narrative_pipeline/story/{story.pk}/chapters/upload/")
        page.get_by_label("Format").last.select_option("card_v2")
        page.get_by_label("as a PNG card").check()
        page.get_by_role("button", name="Download").click()
    saved = tmp_path / "card.png"
    download.value.save_as(saved)
    assert saved.read_bytes() == CARD.read_bytes()
