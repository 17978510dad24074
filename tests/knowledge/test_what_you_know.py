"""What you know (issue #20): the story page lists the facts the player character knows, and never another
character's secret before its reveal."""

import pytest

from accounts.rls import acting_as
from chapters.knowledge import services as knowledge

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db


def test_the_story_page_shows_what_the_player_knows_and_no_secret_before_its_reveal(alice, as_alice):
    story = StoryFactory(user=alice, title="The Bell", characters=[
        {"name": "Wren", "is_player": True, "factions": ["watch"]}, {"name": "Orla"}])
    with acting_as(alice):
        add = {"story_id": story.pk, "user_id": alice.pk}
        knowledge.knowledge_add(**add, fact="The harbour closes at dusk")
        knowledge.knowledge_add(**add, fact="The watch meets at the mill", known_by=["faction:watch"])
        knowledge.knowledge_add(**add, fact="Wren kept the key", known_by=["player"])
        secret = knowledge.knowledge_add(**add, fact="The bell was rung by Hale", known_by=["Orla"])
    page = as_alice.get(f"/stories/{story.pk}/").content.decode()
    assert "What you know" in page
    for fact in ("The harbour closes at dusk", "The watch meets at the mill", "Wren kept the key"):
        assert fact in page
    assert "The bell was rung by Hale" not in page
    with acting_as(alice):
        knowledge.knowledge_edit(knowledge=secret, revealed=True, turn_number=1)
    assert "The bell was rung by Hale" in as_alice.get(f"/stories/{story.pk}/").content.decode()
