"""The writers' room shows, per turn, which secrets were withheld from whom (issue #20), on a laptop and a phone,
with no serious accessibility violation."""

import pytest
from playwright.sync_api import expect

from accounts.rls import acting_as
from chapters.knowledge import services as knowledge
from narrative_pipeline import orchestrator

from ..conftest import axe_violations, fits, screenshot, sign_in
from ..factories import StoryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_the_turn_page_shows_the_secrets_withheld_from_whom(page_at, width):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Bell", state={"location": "the square", "present_characters": ["Orla", "Bram"]},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}, {"name": "Bram"}])
    with acting_as(user):
        knowledge.knowledge_add(story_id=story.pk, user_id=user.pk, fact="The bell was rung by Hale at midnight",
                                known_by=["Orla"], reveal_when={"flag": "confessed"})
    turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action="I ask who rang the bell.",
                                       idempotency_key="a")
    orchestrator.turn_generate(user=user, turn=turn)
    page = page_at(width)
    sign_in(page, user)
    page.goto(f"/stories/{story.pk}/turns/1/")
    withheld = page.locator(".knowledge-withheld li")
    expect(withheld).to_have_text("The bell was rung by Hale at midnight — withheld from Wren, Bram")
    expect(page.locator(".knowledge-blocks")).to_contain_text("Orla knows")
    fits(page, width)
    assert axe_violations(page) == []
    withheld.scroll_into_view_if_needed()
    screenshot(page, "writers-room-withheld-secrets", width)


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_the_story_page_shows_what_you_know(page_at, width):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Bell", characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}])
    with acting_as(user):
        knowledge.knowledge_add(story_id=story.pk, user_id=user.pk, fact="Wren kept the key to the tower",
                                known_by=["player"])
        knowledge.knowledge_add(story_id=story.pk, user_id=user.pk, fact="The bell was rung by Hale at midnight",
                                known_by=["Orla"])
    page = page_at(width)
    sign_in(page, user)
    page.goto(f"/stories/{story.pk}/")
    if width < 800:  # the side column is a closed drawer on a phone
        page.get_by_text("Chapters, state and more").click()
    panel = page.get_by_role("region", name="What you know")
    expect(panel).to_contain_text("Wren kept the key to the tower")
    expect(panel).not_to_contain_text("The bell was rung by Hale")
    fits(page, width)
    assert axe_violations(page) == []
    panel.scroll_into_view_if_needed()
    screenshot(page, "story-what-you-know", width)
