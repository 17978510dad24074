"""The player's pages through Django's test client: forms keep what was typed and say what is wrong."""

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from narrative_pipeline.models import Story, Turn

from ..factories import StoryFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def player(client, alice):
    client.force_login(alice)
    return client


def test_new_story_from_a_starter_world_has_its_cast_and_opening(player, alice):
    response = player.post(reverse("story-new"), {"world": "iron-court"}, follow=True)
    assert "Embers of the Iron Court" in response.content.decode()
    with acting_as(alice):
        story = Story.objects.get(title="Embers of the Iron Court")
        assert {c.name for c in story.characters.all()} == {"Seren", "Captain Voss", "Regent Maelor"}
        assert story.turns.get().prose.startswith("The queue at the Ash Gate")


def test_new_story_errors_keep_what_was_typed(player):
    response = player.post(reverse("story-new"), {"premise": "A lighthouse with no keeper"})
    page = response.content.decode()
    assert "Give your story a title" in page and "A lighthouse with no keeper" in page


def test_new_story_over_quota_is_a_form_error(player, alice):
    alice.max_stories = 0
    alice.save()
    response = player.post(reverse("story-new"), {"title": "One too many"})
    assert "limit of 0 stories" in response.content.decode()


def test_playing_without_javascript(player, alice):
    story = StoryFactory(user=alice)
    form_page = player.get(reverse("story-detail", args=[story.pk])).content.decode()
    key = form_page.split('name="idempotency_key" value="')[1].split('"')[0]
    for _ in range(2):  # the same page submitted twice makes one turn
        response = player.post(reverse("story-play", args=[story.pk]), {"action": "I wait.", "idempotency_key": key})
        assert response.status_code == 302 and response["Location"].endswith("#turn-1")
    with acting_as(alice):
        assert Turn.objects.filter(story=story).count() == 1


def test_an_empty_action_is_shown_in_place(player, alice):
    story = StoryFactory(user=alice)
    response = player.post(reverse("story-play", args=[story.pk]), {"action": "   ", "idempotency_key": "k"})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_notes_form_errors_keep_what_was_typed(player, alice):
    story = StoryFactory(user=alice)
    response = player.post(reverse("story-notes", args=[story.pk]), {"memory": "m" * 20_001,
                                                                      "authors_note": "Keep it grim."})
    page = response.content.decode()
    assert response.status_code == 400 and "at most 20000 characters" in page and "Keep it grim." in page


def test_notes_update_memory_and_leave_the_state_alone(player, alice):
    story = StoryFactory(user=alice, state={"location": "the inn", "inventory": ["rope"]})
    player.post(reverse("story-notes", args=[story.pk]), {"memory": "Never trust the ferryman.", "authors_note": "",
                                                           "location": "ignored", "inventory": ""})
    with acting_as(alice):
        story.refresh_from_db()
    assert story.memory == "Never trust the ferryman." and story.state["inventory"] == ["rope"]
    assert story.state["location"] == "the inn"


def test_another_players_story_is_a_404_page(player):
    other = StoryFactory(user=UserFactory(), title="Not yours")
    for name in ("story-detail", "story-costs", "story-export", "story-delete"):
        response = player.get(reverse(name, args=[other.pk]))
        assert response.status_code == 404 and "Not yours" not in response.content.decode()
    assert player.post(reverse("story-play", args=[other.pk]), {"action": "x", "idempotency_key": "k"}).status_code == 404


def test_markup_is_escaped_on_the_story_page(player, alice):
    story = StoryFactory(user=alice, title="<script>alert(1)</script>")
    player.post(reverse("story-play", args=[story.pk]), {"action": "<img src=x onerror=alert(1)>", "idempotency_key": "k"})
    page = player.get(reverse("story-detail", args=[story.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_delete_asks_first(player, alice):
    story = StoryFactory(user=alice, title="Doomed")
    assert "Delete “Doomed”?" in player.get(reverse("story-delete", args=[story.pk])).content.decode()
    player.post(reverse("story-delete", args=[story.pk]))
    with acting_as(alice):
        assert not Story.objects.filter(pk=story.pk).exists()


def test_export_downloads_markdown(player, alice):
    story = StoryFactory(user=alice, title="Tide")
    response = player.get(reverse("story-export", args=[story.pk]))
    assert response["Content-Type"].startswith("text/markdown") and "Tide.md" in response["Content-Disposition"]


def test_my_stories_list_shows_turns_cost_and_quota(player, alice):
    story = StoryFactory(user=alice, title="Counted")
    player.post(reverse("story-play", args=[story.pk]), {"action": "I count.", "idempotency_key": "k"})
    page = player.get(reverse("story-list")).content.decode()
    assert "Counted" in page and "1 turn" in page and "$0.0000" in page and "1 of 10" in page
