"""Chapter sets and characters as marketplace assets: publish, browse, search, like, download,
fork into one's own story with lineage, and sync, through /api/marketplace/{chapters,characters}/."""

import pytest

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.models import StoryChapter
from narrative_pipeline.models import Character, Story

from ..factories import StoryFactory, UserFactory, world_story

pytestmark = pytest.mark.django_db


def post(api, url, body=None):
    return api.post(url, body or {}, content_type="application/json")


@pytest.fixture
def alice_world(alice):
    return world_story(alice, turns=2)


@pytest.fixture
def chapters_listing(api_as, alice, alice_world):
    published = post(api_as(alice), f"/api/marketplace/chapters/{alice_world.pk}/publish/",
                     {"licence": "CC-BY-SA", "tags": ["mystery"], "description": "Two chapters by the sea."})
    assert published.status_code == 201 and published.json()["kind"] == "chapters"
    return published.json()["id"]


def test_a_chapter_set_is_browsed_searched_liked_and_downloaded_as_its_own_asset(api_as, bob, chapters_listing):
    bob_api = api_as(bob)
    found = bob_api.get("/api/marketplace/chapters/?q=tide").json()["results"]
    assert [(row["id"], row["kind"], row["title"]) for row in found] == [
        (chapters_listing, "chapters", "The Tide Book: the chapters")]
    assert bob_api.get("/api/marketplace/stories/?q=tide").json()["results"] == []
    detail = bob_api.get(f"/api/marketplace/chapters/{chapters_listing}/").json()
    assert [(c["number"], c["title"]) for c in detail["contents"]] == [(1, "The Harbour"), (2, "The Lighthouse")]
    assert bob_api.get(f"/api/marketplace/stories/{chapters_listing}/").status_code == 404  # not a story
    assert post(bob_api, f"/api/marketplace/chapters/{chapters_listing}/like/").status_code == 201
    assert post(bob_api, f"/api/marketplace/chapters/{chapters_listing}/like/").status_code == 409
    download = bob_api.get(f"/api/marketplace/chapters/{chapters_listing}/download/")
    assert download.status_code == 200 and "The Lighthouse" in download.content.decode()
    assert post(bob_api, f"/api/marketplace/chapters/{chapters_listing}/report/", {"reason": "spam"}).status_code == 201
    versions = bob_api.get(f"/api/marketplace/chapters/{chapters_listing}/versions/").json()["results"]
    assert len(versions) == 1


def test_publishing_what_a_story_does_not_have_is_refused(api_as, alice):
    alice_api = api_as(alice)
    bare = StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])
    refused = post(alice_api, f"/api/marketplace/chapters/{bare.pk}/publish/")
    assert refused.status_code == 400 and "no chapters" in str(refused.json())
    assert post(alice_api, f"/api/marketplace/characters/{bare.pk}/publish/").status_code == 400  # no name
    unknown = post(alice_api, f"/api/marketplace/characters/{bare.pk}/publish/", {"character": "Nobody"})
    assert unknown.status_code == 400 and "no character named 'Nobody'" in str(unknown.json())
    assert post(api_as(UserFactory()), f"/api/marketplace/characters/{bare.pk}/publish/",
                {"character": "Wren"}).status_code == 404


def test_a_chapter_set_forks_into_one_s_story_after_its_own_chapters_and_syncs(api_as, alice, bob, alice_world,
                                                                               chapters_listing):
    alice_api, bob_api = api_as(alice), api_as(bob)
    mine = StoryFactory(user=bob, title="Bob's voyage")
    with acting_as(bob):
        chapter_services.chapters_import(story_id=mine.pk, user_id=bob.pk, chapters=[
            {"number": 1, "title": "Bob's opening"}])
    forked = post(bob_api, f"/api/marketplace/chapters/{chapters_listing}/fork/", {"story_id": str(mine.pk)})
    assert forked.status_code == 201 and forked.json()["story_id"] == str(mine.pk)
    with acting_as(bob):
        chapters = list(StoryChapter.objects.filter(story=mine).order_by("number").values_list(
            "number", "title", "required_previous_chapters"))
    assert chapters == [(1, "Bob's opening", []), (2, "The Harbour", []), (3, "The Lighthouse", [2])]
    with acting_as(bob):  # Bob rewrites the set's first chapter; the author rewrites its second
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=mine, number=2), summary="Bob's.")
    with acting_as(alice):
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=alice_world, number=2),
                                        summary="At night.")
    assert post(alice_api, f"/api/marketplace/chapters/{alice_world.pk}/publish/",
                {"licence": "CC-BY-SA"}).status_code == 201
    (record,) = bob_api.get("/api/forks/").json()["results"]  # the WebUI's "update available"
    assert (record["kind"], record["version"], record["source_latest"], record["update_available"]) == (
        "chapters", 1, 2, True)
    synced = post(bob_api, f"/api/forks/{forked.json()['fork_id']}/sync/").json()
    assert (synced["applied"], synced["kept"], synced["conflicts"]) == (1, 1, 0)
    assert bob_api.get("/api/forks/").json()["results"][0]["update_available"] is False
    with acting_as(bob):
        assert list(StoryChapter.objects.filter(story=mine).order_by("number").values_list("summary", flat=True)) == [
            "", "Bob's.", "At night."]
    # Bob's story now carries a CC-BY-SA chapter set: its chapters publish under CC-BY-SA, with lineage.
    refused = post(bob_api, f"/api/marketplace/chapters/{mine.pk}/publish/", {"licence": "CC-BY"})
    assert refused.status_code == 400
    again = post(bob_api, f"/api/marketplace/chapters/{mine.pk}/publish/", {"licence": "CC-BY-SA"}).json()
    lineage = bob_api.get(f"/api/marketplace/chapters/{again['id']}/").json()["lineage"]
    assert [(step["id"], step["author"]) for step in lineage] == [(chapters_listing, "alice")]


def test_forking_into_another_user_s_story_is_404(api_as, alice, chapters_listing):
    stranger = api_as(UserFactory())
    refused = post(stranger, f"/api/marketplace/chapters/{chapters_listing}/fork/", {"story_id": str(
        StoryFactory(user=alice).pk)})
    assert refused.status_code == 404


def test_a_character_forks_into_a_new_story_or_one_s_own_and_syncs(api_as, alice, bob, alice_world):
    alice_api, bob_api = api_as(alice), api_as(bob)
    published = post(alice_api, f"/api/marketplace/characters/{alice_world.pk}/publish/", {"character": "Orla"})
    assert published.status_code == 201
    listing = published.json()["id"]
    assert [row["title"] for row in bob_api.get("/api/marketplace/characters/").json()["results"]] == ["Orla"]
    assert bob_api.get(f"/api/marketplace/characters/{listing}/").json()["contents"][0]["description"] == "a diver"
    card = bob_api.get(f"/api/marketplace/characters/{listing}/download/")
    assert card.status_code == 200 and card.json()["data"]["name"] == "Orla"
    fresh = post(bob_api, f"/api/marketplace/characters/{listing}/fork/").json()
    with acting_as(bob):
        story = Story.objects.get(pk=fresh["story_id"])
        assert story.title == "Orla" and list(story.characters.values_list("name", flat=True)) == ["Orla"]
    twice = post(bob_api, f"/api/marketplace/characters/{listing}/fork/", {"story_id": fresh["story_id"]})
    assert twice.status_code == 400 and "already has a character named 'Orla'" in str(twice.json())
    with acting_as(alice):
        Character.objects.filter(story=alice_world, name="Orla").update(description="a diver who fears the bell")
    assert post(alice_api, f"/api/marketplace/characters/{alice_world.pk}/publish/",
                {"character": "Orla"}).json()["version"] == 2
    with acting_as(bob):
        Character.objects.filter(story=story, name="Orla").update(description="Bob's diver")
    synced = post(bob_api, f"/api/forks/{fresh['fork_id']}/sync/").json()
    assert synced["conflicts"] == 1
    (conflict,) = bob_api.get(f"/api/forks/{fresh['fork_id']}/conflicts/").json()["results"]
    assert (conflict["kind"], conflict["key"]) == ("character", "Orla")
    post(bob_api, f"/api/forks/{fresh['fork_id']}/conflicts/{conflict['id']}/resolve/", {"choice": "source"})
    with acting_as(bob):
        assert story.characters.get().description == "a diver who fears the bell"


def test_the_story_routes_take_no_chapters_listing_and_the_chapters_routes_no_story(api_as, alice, bob, alice_world):
    alice_api, bob_api = api_as(alice), api_as(bob)
    story_listing = post(alice_api, f"/api/marketplace/stories/{alice_world.pk}/publish/").json()["id"]
    assert post(bob_api, f"/api/marketplace/chapters/{story_listing}/fork/").status_code == 404
    assert bob_api.get("/api/marketplace/chapters/").json()["results"] == []
