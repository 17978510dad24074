"""The marketplace through the API: publish, browse and search, fork with copy-on-write, branch,
lineage, licences, likes and downloads counted exactly, and every bad input refused."""

import threading

import pytest
from django.db import connection, connections, transaction

from accounts.rls import acting_as
from marketplace.models import AssetCounter, ForkRecord, Listing
from narrative_pipeline import selectors
from narrative_pipeline.models import SnapshotItem, SnapshotSeries, Story, StorySnapshot, Turn

from ..conftest import as_app_role
from ..factories import UserFactory, story_with_turns

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_api(api_as, alice):
    return api_as(alice)


@pytest.fixture
def bob_api(api_as, bob):
    return api_as(bob)


@pytest.fixture
def long_tide_book(alice):
    return story_with_turns(alice, 30, title="The Tide Book", genre="fantasy")


def publish(api, story, **fields):
    body = {"description": "A harbour town and its drowned bells.", "tags": ["sea", "mystery"],
            "licence": "CC-BY", "rating": "general", **fields}
    return api.post(f"/api/marketplace/stories/{story.pk}/publish/", body, content_type="application/json")


def fork(api, listing_id, **body):
    return api.post(f"/api/marketplace/stories/{listing_id}/fork/", body, content_type="application/json")


def edit(api, story_id, number, prose):
    return api.patch(f"/api/stories/{story_id}/turns/{number}/", {"prose": prose}, content_type="application/json")


def test_publish_find_fork_edit_and_play_on_while_the_source_stays_as_it_was(alice_api, bob_api, alice, bob, long_tide_book):
    published = publish(alice_api, long_tide_book)
    assert published.status_code == 201 and published.json()["version"] == 1
    listing_id = published.json()["id"]
    with acting_as(alice):
        source_before = list(selectors.story_turns(story=long_tide_book).values_list("number", "prose"))

    found = bob_api.get("/api/marketplace/stories/", {"q": "tide bok"}).json()["results"]  # a typo
    assert [row["id"] for row in found] == [listing_id] and found[0]["author"] == "alice"
    assert bob_api.get("/api/marketplace/stories/", {"q": "drowned bells"}).json()["results"][0]["id"] == listing_id

    forked = fork(bob_api, listing_id)
    assert forked.status_code == 201
    story_id = forked.json()["story_id"]
    turn5 = bob_api.get(f"/api/stories/{story_id}/turns/5/").json()
    assert turn5["prose"].startswith("Passage 5:")
    with acting_as(bob):
        assert not Turn.objects.filter(story_id=story_id).exists()  # nothing copied
    assert edit(bob_api, story_id, 3, "Bob's third.").json()["prose"] == "Bob's third."
    assert edit(bob_api, story_id, 7, "Bob's seventh.").status_code == 200
    for n in range(5):
        response = bob_api.post(f"/api/stories/{story_id}/turns/", {"action": f"I row on ({n}).",
                                                                     "idempotency_key": f"row-{n}"},
                                content_type="application/json")
        assert response.status_code == 201, response.content
    turns = bob_api.get(f"/api/stories/{story_id}/turns/", {"page_size": 100}).json()
    numbers = [turn["number"] for turn in turns["results"]]
    assert numbers[:30] == list(range(1, 31)) and turns["count"] == 35
    story = bob_api.get(f"/api/stories/{story_id}/").json()
    assert story["storage_mode"] == "delta" and story["turn_count"] == 35

    with acting_as(alice):
        assert list(selectors.story_turns(story=long_tide_book).values_list("number", "prose")) == source_before
        assert SnapshotItem.objects.filter(series__listing__id=listing_id).count() == 30
    detail = bob_api.get(f"/api/marketplace/stories/{listing_id}/").json()
    assert detail["forks"] == 1 and detail["opening"][0]["prose"].startswith("Passage 1:")


def test_new_versions_store_what_changed_and_forks_take_the_latest(alice_api, bob_api, alice, long_tide_book):
    listing_id = publish(alice_api, long_tide_book).json()["id"]
    with acting_as(alice):
        Turn.objects.filter(story=long_tide_book, number=2).update(prose="A better second passage.")
    second = publish(alice_api, long_tide_book, changelog="Turn 2 rewritten.")
    assert second.json() == {"id": listing_id, "kind": "story", "version": 2}
    versions = bob_api.get(f"/api/marketplace/stories/{listing_id}/versions/").json()["results"]
    assert [(v["version"], v["changelog"], v["changed"]["turn"]) for v in versions] == [
        (2, "Turn 2 rewritten.", 1), (1, "First version.", 30)]
    (diff,) = versions[0]["diffs"]
    assert diff["change"] == "changed" and "+A better second passage." in diff["diff"] and "-Passage 2:" in diff["diff"]
    (field,) = diff["fields"]  # only the passage changed, as readable text either side
    assert field["label"] == "Passage" and field["before"].startswith("Passage 2:")
    assert field["after"] == "A better second passage."
    story_id = fork(bob_api, listing_id).json()["story_id"]
    assert bob_api.get(f"/api/stories/{story_id}/turns/2/").json()["prose"] == "A better second passage."


def test_fork_of_a_fork_keeps_the_lineage(alice_api, bob_api, api_as, long_tide_book):
    a_listing = publish(alice_api, long_tide_book).json()["id"]
    b_story = fork(bob_api, a_listing).json()["story_id"]
    edit(bob_api, b_story, 1, "Bob's opening.")
    b_listing = publish(bob_api, Story(pk=b_story), description="Bob's take.").json()["id"]
    carol = api_as(UserFactory(username="carol"))
    c_story = fork(carol, b_listing).json()["story_id"]
    c_listing = publish(carol, Story(pk=c_story), description="Carol's take.").json()["id"]
    lineage = carol.get(f"/api/marketplace/stories/{c_listing}/").json()["lineage"]
    assert [(step["title"], step["author"], step["version"]) for step in lineage] == [
        ("The Tide Book", "bob", 1), ("The Tide Book", "alice", 1)]
    assert carol.get(f"/api/stories/{c_story}/turns/1/").json()["prose"] == "Bob's opening."


def test_branch_at_turn_ten_from_ones_own_unpublished_story(alice_api, alice, long_tide_book):
    response = alice_api.post(f"/api/stories/{long_tide_book.pk}/branch/", {"at_turn": 10}, content_type="application/json")
    assert response.status_code == 201
    branch = alice_api.get(f"/api/stories/{response.json()['story_id']}/").json()
    assert branch["turn_count"] == 10 and branch["storage_mode"] == "reference"
    assert alice_api.get("/api/marketplace/stories/").json()["count"] == 0  # a branch publishes nothing
    again = alice_api.post(f"/api/stories/{long_tide_book.pk}/branch/", {"at_turn": 20}, content_type="application/json")
    with acting_as(alice):
        series = SnapshotSeries.objects.get(source_story=long_tide_book)
        assert series.latest_version == 2 and SnapshotItem.objects.filter(series=series, version=2).count() == 0
    assert again.status_code == 201


def test_licences_are_respected(alice_api, bob_api, long_tide_book, alice):
    nd = publish(alice_api, long_tide_book, licence="CC-BY-ND").json()["id"]
    b_story = fork(bob_api, nd).json()["story_id"]
    refused = publish(bob_api, Story(pk=b_story))
    assert refused.status_code == 403 and "can be played, not published" in refused.json()["detail"]
    other = story_with_turns(alice, 3, title="Shared Shores")
    sa = publish(alice_api, other, licence="CC-BY-SA").json()["id"]
    sa_fork = fork(bob_api, sa).json()["story_id"]
    wrong = publish(bob_api, Story(pk=sa_fork), licence="CC-BY")
    assert wrong.status_code == 400 and "CC BY-SA 4.0" in wrong.json()["detail"]
    assert publish(bob_api, Story(pk=sa_fork), licence="CC-BY-SA").status_code == 201


def test_browse_filters_sorts_and_pages(alice_api, bob_api, alice):
    for index, (genre, tags, licence, rating) in enumerate([
            ("fantasy", ["sea", "bells"], "CC-BY", "general"), ("horror", ["sea"], "CC-BY-NC", "mature"),
            ("fantasy", ["forest"], "CC-BY-SA", "teen")]):
        publish(alice_api, story_with_turns(alice, 2, title=f"Tale {index}", genre=genre), tags=tags,
                licence=licence, rating=rating)
    titles = lambda **params: [row["title"] for row in bob_api.get(  # noqa: E731
        "/api/marketplace/stories/", params).json()["results"]]
    assert titles(genre="fantasy", sort="recent") == ["Tale 2", "Tale 0"]
    assert titles(tags="sea,bells", tags_mode="all") == ["Tale 0"]
    assert sorted(titles(tags="sea,forest")) == ["Tale 0", "Tale 1", "Tale 2"]
    assert titles(licence="CC-BY-NC") == ["Tale 1"] and titles(rating="teen") == ["Tale 2"]
    tale1 = bob_api.get("/api/marketplace/stories/", {"licence": "CC-BY-NC"}).json()["results"][0]["id"]
    bob_api.post(f"/api/marketplace/stories/{tale1}/like/")
    assert titles(sort="popular")[0] == "Tale 1" and titles(sort="trending")[0] == "Tale 1"
    fork(bob_api, tale1)
    assert titles(sort="most_forked")[0] == "Tale 1"
    paged = bob_api.get("/api/marketplace/stories/", {"page_size": 2, "page": 2}).json()
    assert paged["count"] == 3 and len(paged["results"]) == 1


def test_likes_and_downloads_count_once_per_user(alice_api, bob_api, long_tide_book):
    listing_id = publish(alice_api, long_tide_book).json()["id"]
    assert bob_api.post(f"/api/marketplace/stories/{listing_id}/like/").status_code == 201
    again = bob_api.post(f"/api/marketplace/stories/{listing_id}/like/")
    assert again.status_code == 409 and "already like" in again.json()["detail"]
    for _ in range(2):
        download = bob_api.get(f"/api/marketplace/stories/{listing_id}/download/")
        assert download.status_code == 200 and download.content.decode().startswith("# The Tide Book")
    detail = bob_api.get(f"/api/marketplace/stories/{listing_id}/").json()
    assert (detail["likes"], detail["downloads"]) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_counts_are_exact_under_twenty_concurrent_likes_and_forks(alice):
    from marketplace import forks, services

    listing = services.listing_publish(user=alice, story=story_with_turns(alice, 3), licence="CC-BY")
    users = [UserFactory() for _ in range(20)]
    errors = []

    def act(user):
        try:
            services.listing_like(user=user, listing=listing)
            forks.fork_create(user=user, listing_id=listing.pk)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=act, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with acting_as(alice):
        counter = AssetCounter.objects.get(community=listing)
    assert (counter.likes, counter.forks) == (20, 20)


def test_hidden_assets_cannot_be_forked_but_existing_forks_still_read(alice_api, bob_api, api_as, alice, bob, long_tide_book):
    listing_id = publish(alice_api, long_tide_book).json()["id"]
    story_id = fork(bob_api, listing_id).json()["story_id"]
    with acting_as(alice, bypass=True):  # as a moderator would
        SnapshotSeries.objects.filter(listing__id=listing_id).update(is_hidden=True)
    assert bob_api.get("/api/marketplace/stories/").json()["count"] == 0
    refused = fork(bob_api, listing_id)
    assert refused.status_code == 403 and "hidden" in refused.json()["detail"]
    assert bob_api.get(f"/api/stories/{story_id}/turns/12/").json()["prose"].startswith("Passage 12:")
    stranger = api_as(UserFactory())
    assert fork(stranger, listing_id).status_code == 404  # not even visible to them


def test_rls_isolates_private_stories_and_forks(alice_api, bob_api, api_as, alice, bob, long_tide_book, client):
    listing_id = publish(alice_api, long_tide_book).json()["id"]
    private = story_with_turns(alice, 2, title="Alice's diary")
    carol_user = UserFactory()
    carol_fork = fork(api_as(carol_user), listing_id).json()["story_id"]
    edit(api_as(carol_user), carol_fork, 1, "Carol's secret opening.")
    with connection.cursor() as cursor, transaction.atomic():
        as_app_role(cursor, bob.pk)
        cursor.execute("SELECT count(*) FROM narrative_pipeline_story")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM narrative_pipeline_storyturn WHERE story_id IN (%s, %s)",
                       [private.pk, carol_fork])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM narrative_pipeline_turnoverride")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM marketplace_storyfork")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM marketplace_communitystory")
        assert cursor.fetchone()[0] == 1  # the public listing only
    assert bob_api.get(f"/api/stories/{private.pk}/turns/").status_code == 404
    assert bob_api.get(f"/api/stories/{carol_fork}/turns/1/").status_code == 404
    client.force_login(bob)
    assert client.get(f"/stories/{carol_fork}/").status_code == 404


@pytest.mark.parametrize(("make", "status", "message"), [
    ("missing", 404, ""),
    ("private", 404, ""),
    ("someone_elses", 404, ""),
    ("tags", 400, "no more than 20"),
    ("like_twice", 409, "already like"),
])
def test_bad_requests_change_nothing(alice_api, bob_api, alice, bob, long_tide_book, make, status, message):
    import uuid

    listing_id = publish(alice_api, long_tide_book).json()["id"]
    if make == "missing":
        response = fork(bob_api, uuid.uuid4())
    elif make == "private":
        with acting_as(alice):
            SnapshotSeries.objects.filter(listing__id=listing_id).update(is_public=False)
        response = fork(bob_api, listing_id)
    elif make == "someone_elses":
        response = publish(bob_api, long_tide_book)
    elif make == "tags":
        response = publish(alice_api, long_tide_book, tags=[f"t{i}" for i in range(10_000)])
    else:
        bob_api.post(f"/api/marketplace/stories/{listing_id}/like/")
        response = bob_api.post(f"/api/marketplace/stories/{listing_id}/like/")
    assert response.status_code == status and message in response.json().get("detail", "")
    with acting_as(bob):
        assert not ForkRecord.objects.exists()
    with acting_as(alice):
        assert StorySnapshot.objects.filter(series__source_story=long_tide_book).count() == 1
        assert Listing.objects.count() == 1


@pytest.mark.parametrize("q", ["'; DROP TABLE narrative_pipeline_story; --", ".*(a+)+$", "tide & | ! (", "%_\\"])
def test_search_strings_are_just_text(bob_api, alice_api, long_tide_book, q):
    publish(alice_api, long_tide_book)
    response = bob_api.get("/api/marketplace/stories/", {"q": q})
    assert response.status_code == 200
    assert bob_api.get("/api/marketplace/stories/").json()["count"] == 1


def test_browse_rejects_unknown_sorts_and_too_many_tag_filters(bob_api):
    assert bob_api.get("/api/marketplace/stories/", {"sort": "cheapest"}).status_code == 400
    assert bob_api.get("/api/marketplace/stories/", {"tags": ",".join(f"t{i}" for i in range(30))}).status_code == 400


def test_unpublish_then_publish_again_revives_the_same_listing(alice_api, alice, long_tide_book):
    from marketplace import services

    listing_id = publish(alice_api, long_tide_book).json()["id"]
    with acting_as(alice):
        services.listing_unpublish(user=alice, listing=Listing.objects.get(pk=listing_id))
    assert alice_api.get("/api/marketplace/stories/").json()["count"] == 0
    again = publish(alice_api, long_tide_book, changelog="Back.")
    assert again.json() == {"id": listing_id, "kind": "story", "version": 2}
    assert alice_api.get("/api/marketplace/stories/").json()["count"] == 1


def test_an_author_deleting_their_account_leaves_forks_working_and_versions_anonymized(alice_api, bob_api, bob,
                                                                                        long_tide_book):
    listing_id = publish(alice_api, long_tide_book).json()["id"]
    story_id = fork(bob_api, listing_id).json()["story_id"]
    assert alice_api.delete("/api/me/").status_code == 204
    assert bob_api.get(f"/api/stories/{story_id}/turns/30/").json()["prose"].startswith("Passage 30:")
    detail = bob_api.get(f"/api/marketplace/stories/{listing_id}/").json()
    assert detail["author"] == "a deleted account"
    assert fork(bob_api, listing_id).status_code == 201  # still published, so still forkable
