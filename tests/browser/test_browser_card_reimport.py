"""A card imported again into the story it started (issue #19): the lore page names the character that is
already there, and Skip keeps it, Merge updates its fields and portrait, Import anyway adds "Seraphina (2)"."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from narrative_pipeline import lore_files
from narrative_pipeline.models import Character

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CARD = Path(__file__).parent.parent / "data" / "lore" / "card_v2" / "sillytavern_seraphina_v2_with_book.png"


def cast(player, story) -> list[tuple[str, str, bool]]:
    with acting_as(player):
        return [(c.name, c.description[:20], c.portrait_source_id is not None)
                for c in Character.objects.filter(story=story).order_by("name")]


def import_again(page, choice: str) -> None:
    page.get_by_label("Card or world file").set_input_files(str(CARD))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".duplicates")).to_contain_text("already has a character named “Seraphina”")
    page.get_by_label(choice).check()
    page.get_by_role("button", name="Import").click()


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_a_card_imported_again_is_skipped_merged_or_imported_as_a_second_character(page_at, width):
    player = UserFactory()
    story = lore_files.story_from_file(user=player, data=CARD.read_bytes(), filename=CARD.name)
    description = cast(player, story)[0][1]
    with acting_as(player):  # the player rewrote her and lost the portrait meanwhile
        Character.objects.filter(story=story).update(description="A tired healer.", portrait_source=None)
    page = page_at(width)
    sign_in(page, player)
    page.goto(f"/stories/{story.pk}/lore/")

    page.get_by_label("Card or world file").set_input_files(str(CARD))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".duplicates")).to_contain_text("already has a character named “Seraphina”")
    assert axe_violations(page) == []
    fits(page, width)
    screenshot(page, "story-lore-duplicate-character", width)
    page.get_by_label("Skip it").check()
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".messages")).to_contain_text("kept the character “Seraphina” as it was")
    assert cast(player, story) == [("Seraphina", "A tired healer.", False)]

    import_again(page, "Merge into what is already here")
    expect(page.locator(".messages")).to_contain_text("updated the character “Seraphina” from the file")
    assert cast(player, story) == [("Seraphina", description, True)]
    expect(page.locator(".lore-side").get_by_role("img", name="Portrait of Seraphina")).to_be_visible()

    import_again(page, "Import anyway")
    expect(page.locator(".messages")).to_contain_text("added a second “Seraphina” as “Seraphina (2)”")
    assert [name for name, _, _ in cast(player, story)] == ["Seraphina", "Seraphina (2)"]
    assert axe_violations(page) == []
