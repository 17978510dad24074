"""Source sync of a fork's turns through the API: the issue's whole life, each resolution, undo,
and the bad requests."""

import pytest

from accounts.rls import acting_as
from narrative_pipeline.models import Turn

from ..factories import UserFactory, story_with_turns

pytestmark = pytest.mark.django_db


def post(api, url, body=None):
    return api.post(url, body or {}, content_type="application/json")


@pytest.fixture
def life(api_as, alice, bob):
    """A publishes v1 (30 turns); B forks, edits turns 3 and 7, plays 5 new turns; A publishes v2
    changing turns 2 and 7."""
    alice_api, bob_api = api_as(alice), api_as(bob)
    tide = story_with_turns(alice, 30, title="The Tide Book")
    listing = post(alice_api, f"/api/marketplace/stories/{tide.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    forked = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()
    story_id, fork_id = forked["story_id"], forked["fork_id"]
    for number, prose in ((3, "Bob's third."), (7, "Bob's seventh.")):
        bob_api.patch(f"/api/stories/{story_id}/turns/{number}/", {"prose": prose}, content_type="application/json")
    for n in range(5):
        post(bob_api, f"/api/stories/{story_id}/turns/", {"action": f"I row on ({n}).", "idempotency_key": f"r{n}"})
    with acting_as(alice):
        Turn.objects.filter(story=tide, number=2).update(prose="The author's better second.")
        Turn.objects.filter(story=tide, number=7).update(prose="The author's seventh.")
    post(alice_api, f"/api/marketplace/stories/{tide.pk}/publish/", {"licence": "CC-BY", "changelog": "2 and 7"})
    return bob_api, story_id, fork_id


def prose(api, story_id, number):
    return api.get(f"/api/stories/{story_id}/turns/{number}/").json()["prose"]


@pytest.mark.parametrize(("choice", "turn7", "alternatives"), [
    ("source", "The author's seventh.", ["Bob's seventh."]),
    ("mine", "Bob's seventh.", []),
    ("both", "Bob's seventh.", ["The author's seventh."]),
])
def test_the_whole_life_of_a_sync(life, choice, turn7, alternatives):
    bob_api, story_id, fork_id = life
    own_turns = [prose(bob_api, story_id, n) for n in range(31, 36)]
    synced = post(bob_api, f"/api/forks/{fork_id}/sync/")
    assert synced.status_code == 200
    assert {k: synced.json()[k] for k in ("applied", "kept", "conflicts")} == {"applied": 1, "kept": 1, "conflicts": 1}
    assert prose(bob_api, story_id, 2) == "The author's better second."  # applied
    assert prose(bob_api, story_id, 3) == "Bob's third."  # kept
    (conflict,) = bob_api.get(f"/api/forks/{fork_id}/conflicts/").json()["results"]
    assert (conflict["turn_number"], conflict["base_text"].startswith("Passage 7:"), conflict["source_text"],
            conflict["fork_text"]) == (7, True, "The author's seventh.", "Bob's seventh.")
    resolved = post(bob_api, f"/api/forks/{fork_id}/conflicts/{conflict['id']}/resolve/", {"choice": choice})
    assert resolved.status_code == 200
    turn = bob_api.get(f"/api/stories/{story_id}/turns/7/").json()
    assert turn["prose"] == turn7 and [alt["prose"] for alt in turn["alternatives"]] == alternatives
    again = post(bob_api, f"/api/forks/{fork_id}/conflicts/{conflict['id']}/resolve/", {"choice": "mine"})
    assert again.status_code == 409
    assert [prose(bob_api, story_id, n) for n in range(31, 36)] == own_turns  # B's new turns intact
    assert post(bob_api, f"/api/stories/{story_id}/turns/", {"action": "On.", "idempotency_key": "on"}).json()[
        "number"] == 36


def test_undo_restores_the_fork_exactly(life):
    bob_api, story_id, fork_id = life
    before = [prose(bob_api, story_id, n) for n in range(1, 36)]
    post(bob_api, f"/api/forks/{fork_id}/sync/")
    undone = post(bob_api, f"/api/forks/{fork_id}/sync/undo/")
    assert undone.status_code == 200 and undone.json()["status"] == "undone"
    assert [prose(bob_api, story_id, n) for n in range(1, 36)] == before
    assert bob_api.get(f"/api/forks/{fork_id}/conflicts/").json()["results"] == []
    assert post(bob_api, f"/api/forks/{fork_id}/sync/undo/").status_code == 409


def test_bad_requests(life, api_as):
    bob_api, story_id, fork_id = life
    post(bob_api, f"/api/forks/{fork_id}/sync/")
    (conflict,) = bob_api.get(f"/api/forks/{fork_id}/conflicts/").json()["results"]
    stranger = api_as(UserFactory())
    assert post(stranger, f"/api/forks/{fork_id}/conflicts/{conflict['id']}/resolve/",
                {"choice": "mine"}).status_code == 404
    assert stranger.get(f"/api/forks/{fork_id}/conflicts/").status_code == 404
    assert post(stranger, f"/api/forks/{fork_id}/sync/").status_code == 404
    unknown = post(bob_api, f"/api/forks/{fork_id}/conflicts/{conflict['id']}/resolve/", {"choice": "theirs"})
    assert unknown.status_code == 400
    assert bob_api.get(f"/api/forks/{fork_id}/conflicts/").json()["results"][0]["id"] == conflict["id"]
    up_to_date = post(bob_api, f"/api/forks/{fork_id}/sync/").json()
    assert (up_to_date["applied"], up_to_date["conflicts"]) == (0, 0)


def test_the_api_says_what_a_sync_and_a_resolution_did_in_the_sync_pages_words(life):
    bob_api, _, fork_id = life
    synced = post(bob_api, f"/api/forks/{fork_id}/sync/").json()
    assert synced["message"] == ("Synced with version 2: 1 change applied automatically, 1 kept, 1 conflict. "
                                 "Resolve it below.")
    (conflict,) = bob_api.get(f"/api/forks/{fork_id}/conflicts/").json()["results"]
    assert conflict["label"] == "Turn 7"
    resolved = post(bob_api, f"/api/forks/{fork_id}/conflicts/{conflict['id']}/resolve/", {"choice": "both"}).json()
    assert resolved["message"] == "Turn 7 keeps your text, with the source's as an earlier version of the turn."
    assert post(bob_api, f"/api/forks/{fork_id}/sync/").json()["message"] == (
        "Your fork is already on the source's latest version (2): nothing to sync.")
