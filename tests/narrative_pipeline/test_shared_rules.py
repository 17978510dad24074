"""Rules written once and answered the same by every way in: a story's character names, a passage's length,
the state's size, the chapters' preview."""

import json

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from narrative_pipeline.contracts import MAX_PROSE_CHARS
from narrative_pipeline.models import Turn

from ..factories import StoryFactory, story_with_turns

pytestmark = pytest.mark.django_db


def post(api, url, body):
    return api.post(url, json.dumps(body), content_type="application/json")


def test_a_character_name_the_story_has_is_refused_by_the_api(api_as, alice):
    api = api_as(alice)
    story = StoryFactory(user=alice, characters=[{"name": "Orla"}])
    again = post(api, f"/api/stories/{story.pk}/characters/", {"name": "  orla "})  # case and spaces aside
    assert again.status_code == 400
    # The message a file's import gives too (tests/narrative_pipeline/test_lore_files.py): one check, services.character_names_check.
    assert again.json()["errors"] == {"name": ["The story already has a character named 'orla'; "
                                               "rename one of them first."]}
    assert post(api, f"/api/stories/{story.pk}/characters/", {"name": "Bram"}).status_code == 201
    with acting_as(alice):
        assert sorted(story.characters.values_list("name", flat=True)) == ["Bram", "Orla"]


def test_a_passage_over_the_limit_is_refused_by_the_api_and_by_the_page(api_as, client, alice):
    story = story_with_turns(alice, 1)
    too_long, longest = "x" * (MAX_PROSE_CHARS + 1), "x" * MAX_PROSE_CHARS
    api = api_as(alice)
    url = f"/api/stories/{story.pk}/turns/1/"
    assert api.patch(url, json.dumps({"prose": too_long}), content_type="application/json").status_code == 400
    client.force_login(alice)
    page = client.post(reverse("turn-text", args=[story.pk, 1]), {"prose": too_long}, follow=True)
    assert f"at most {MAX_PROSE_CHARS:,} characters" in page.content.decode()
    with acting_as(alice):
        assert Turn.objects.get(story=story, number=1).prose.startswith("Passage 1")
    assert api.patch(url, json.dumps({"prose": longest}), content_type="application/json").status_code == 200


@pytest.mark.parametrize("state", [{"present_characters": ["x"] * 31}, {"location": "x" * 201},
                                   {"flags": ["f"] * 201}, {"inventory": ["i" * 121]}])
def test_the_state_has_one_size_limit_for_a_story_and_for_a_chapter_preview(api_as, alice, state):
    api = api_as(alice)
    story = StoryFactory(user=alice)
    assert api.patch(f"/api/stories/{story.pk}/", json.dumps({"state": state}),
                     content_type="application/json").status_code == 400
    assert post(api, f"/api/stories/{story.pk}/chapters/preview/", {"state": state}).status_code == 400
