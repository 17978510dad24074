"""The marketplace pages through Django's test client: browse, an asset's page, fork, like,
report, publish (and the licence rules), my forks and my published stories, branch, and the
story page's edit-text form on a fork and on a plain story."""

import re

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from marketplace import forks, services
from marketplace.models import Activity, ForkRecord, Listing, Report
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.models import SnapshotSeries, StorageMode, Story, Turn, TurnOverride

from ..factories import UserFactory, story_with_turns

pytestmark = pytest.mark.django_db


def publish(user, story, **fields):
    return services.listing_publish(user=user, story=story, **{
        "description": "A harbour town and its drowned bells.", "tags": ["sea", "mystery"], "licence": "CC-BY",
        **fields})


@pytest.fixture
def tide_book(alice):
    return story_with_turns(alice, 5, title="The Tide Book", genre="fantasy")


@pytest.fixture
def tide_listing(alice, tide_book):
    return publish(alice, tide_book)


def page_of(response) -> str:
    return response.content.decode()


def titles(response) -> list[str]:
    return re.findall(r'<h2><a href="/marketplace/[0-9a-f-]+/">([^<]*)</a></h2>', page_of(response))


def fork_of(client, listing, **data):
    return client.post(reverse("marketplace-fork", args=[listing.pk]), data)


# -- Browse ----------------------------------------------------------------------------------


def test_browse_searches_filters_and_sorts(as_bob, alice, tide_listing):
    iron = story_with_turns(alice, 2, title="Iron Roads", genre="scifi")
    publish(alice, iron, description="Trains across a frozen world.", tags=["trains"], licence="CC-BY-SA",
            rating="teen")
    url = reverse("marketplace")

    everything = as_bob.get(url)
    assert everything.status_code == 200 and sorted(titles(everything)) == ["Iron Roads", "The Tide Book"]
    assert "2 stories published." in page_of(everything) and "0 likes · 0 forks · 0 downloads" in page_of(everything)
    assert titles(as_bob.get(url, {"q": "tide bok"})) == ["The Tide Book"]  # a typo still finds it
    assert titles(as_bob.get(url, {"q": "frozen"})) == ["Iron Roads"]
    assert titles(as_bob.get(url, {"genre": "SciFi"})) == ["Iron Roads"]
    assert sorted(titles(as_bob.get(url, {"tags": "sea, trains"}))) == ["Iron Roads", "The Tide Book"]
    assert titles(as_bob.get(url, {"tags": "sea, trains", "tags_mode": "all"})) == []
    assert titles(as_bob.get(url, {"tags": "sea,mystery", "tags_mode": "all"})) == ["The Tide Book"]
    assert titles(as_bob.get(url, {"licence": "CC-BY-SA"})) == ["Iron Roads"]
    assert titles(as_bob.get(url, {"rating": "general"})) == ["The Tide Book"]
    fork_of(as_bob, tide_listing)
    for sort in ("popular", "recent", "trending", "most_forked", "relevance"):
        response = as_bob.get(url, {"sort": sort})
        assert response.status_code == 200 and len(titles(response)) == 2, sort
    assert titles(as_bob.get(url, {"sort": "most_forked"}))[0] == "The Tide Book"
    nothing = as_bob.get(url, {"q": "zeppelin"})
    assert nothing.status_code == 200 and "Nothing matches" in page_of(nothing)
    # What was asked stays in the form.
    assert 'value="frozen"' in page_of(as_bob.get(url, {"q": "frozen"}))


@pytest.mark.parametrize("params, message", [
    ({"sort": "cheapest"}, "Sort by one of relevance, popular"),
    ({"licence": "GPL"}, "The licence is one of"),
    ({"rating": "x"}, "The rating is one of"),
    ({"tags_mode": "some"}, "tags_mode is any or all."),
    ({"tags": ",".join(f"t{n}" for n in range(21))}, "Filter by at most 20 tags."),
])
def test_browse_with_a_bad_filter_says_so(as_bob, tide_listing, params, message):
    response = as_bob.get(reverse("marketplace"), params)
    assert response.status_code == 400 and message in page_of(response)
    assert titles(response) == []


def test_browse_pages(as_bob, alice):
    alice.max_stories = 50
    alice.save()
    for number in range(22):
        publish(alice, story_with_turns(alice, 1, title=f"Tale {number:02}"))
    first = as_bob.get(reverse("marketplace"), {"genre": "fantasy"})
    assert len(titles(first)) == 20 and "Page 1 of 2" in page_of(first)
    assert "?genre=fantasy&amp;page=2" in page_of(first)
    second = as_bob.get(reverse("marketplace"), {"genre": "fantasy", "page": 2})
    assert len(titles(second)) == 2


# -- An asset's page -------------------------------------------------------------------------


def test_asset_page_shows_counts_opening_versions_lineage_escaped(as_bob, alice, bob):
    story = story_with_turns(alice, 4, title="<script>alert(1)</script>")
    listing = publish(alice, story, description="<b>bold</b> claims")
    with acting_as(alice):
        Turn.objects.filter(story=story, number=2).update(prose="A better second <em>passage</em>.")
    publish(alice, story, description="<b>bold</b> claims", changelog="Turn 2 <i>rewritten</i>.")
    publish(alice, story_with_turns(alice, 1, title="Alice's other tale"))
    response = fork_of(as_bob, listing)
    bob_story = Story(pk=response["Location"].split("/")[2])
    bob_listing = services.listing_publish(user=bob, story=bob_story, title="Bob's take", licence="CC-BY")
    services.listing_like(user=bob, listing=listing)

    page = page_of(as_bob.get(reverse("marketplace-asset", args=[listing.pk])))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; claims" in page and "<b>bold</b>" not in page
    assert "1 like · 1 fork · 0 downloads" in page and "by alice" in page and "version 2" in page
    assert "Passage 1: the tide turns" in page and "A better second &lt;em&gt;passage&lt;/em&gt;." in page
    assert "Version 2" in page and "Turn 2 &lt;i&gt;rewritten&lt;/i&gt;." in page and "Changed: 1 turn" in page
    assert "Version 1" in page and "First version." in page and "Changed: 4 turns" in page
    assert "More by alice" in page and "Alice&#x27;s other tale" in page
    assert "Download (Markdown)" in page and f"/api/marketplace/stories/{listing.pk}/download/" in page

    bob_page = page_of(as_bob.get(reverse("marketplace-asset", args=[bob_listing.pk])))
    assert re.search(r"Forked from <a href=\"/marketplace/[0-9a-f-]+/\">&lt;script&gt;alert\(1\)&lt;/script&gt;</a>"
                     r" by alice, version 2", bob_page)

    # A fork of a fork: the whole chain, nearest first.
    carol = UserFactory(username="carol")
    carol_story = forks.fork_create(user=carol, listing_id=bob_listing.pk).story
    carol_listing = services.listing_publish(user=carol, story=carol_story, title="Carol's take")
    lineage = page_of(as_bob.get(reverse("marketplace-asset", args=[carol_listing.pk])))
    assert lineage.index("Bob&#x27;s take</a> by bob, version 1") < lineage.index("&lt;script&gt;alert(1)")


def test_the_download_link_works_with_the_session_and_counts_once(as_bob, tide_listing):
    url = reverse("api-marketplace-download", args=[tide_listing.pk])
    for _ in range(2):
        response = as_bob.get(url)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/markdown")
    assert "Passage 1" in response.content.decode()
    assert "0 likes · 0 forks · 1 download" in page_of(as_bob.get(reverse("marketplace-asset",
                                                                           args=[tide_listing.pk])))


def test_fork_button_makes_the_fork_and_opens_it(as_bob, bob, tide_listing):
    response = fork_of(as_bob, tide_listing)
    with acting_as(bob):
        record = ForkRecord.objects.get(user_id=bob.pk)
    assert response.status_code == 302 and response["Location"] == f"/stories/{record.story_id}/"
    assert record.at_turn == 5 and record.community_id == tide_listing.pk
    story_page = page_of(as_bob.get(response["Location"]))
    assert "Your fork of “The Tide Book” is ready" in story_page and "Passage 5: the tide turns" in story_page

    at_two = fork_of(as_bob, tide_listing, at_turn=2)
    with acting_as(bob):
        story = Story.objects.get(pk=at_two["Location"].split("/")[2])
        assert story.fork_records.get().at_turn == 2 and story_selectors.story_turns(story=story).count() == 2


def test_a_hidden_story_cannot_be_forked_again(as_bob, alice, tide_listing):
    story_id = fork_of(as_bob, tide_listing)["Location"].split("/")[2]
    with acting_as(alice, bypass=True):  # as a moderator would
        SnapshotSeries.objects.filter(listing__id=tide_listing.pk).update(is_hidden=True)
    page = page_of(as_bob.get(reverse("marketplace-asset", args=[tide_listing.pk])))
    assert "The moderators hid this story" in page
    refused = fork_of(as_bob, tide_listing)
    assert refused.status_code == 403 and "hidden by the moderators and cannot be forked" in page_of(refused)
    forks_page = page_of(as_bob.get(reverse("marketplace-forks")))
    assert forks_page.count("The Tide Book</a> by alice") == 1
    assert as_bob.get(f"/stories/{story_id}/").status_code == 200


@pytest.mark.parametrize("at_turn, message", [("9", "The story has turns 1 to 5; 9 is not one of them."),
                                              ("-1", "greater than or equal to 0"), ("two", "Enter a whole number.")])
def test_fork_at_a_bad_turn_is_a_form_error(as_bob, bob, tide_listing, at_turn, message):
    response = fork_of(as_bob, tide_listing, at_turn=at_turn)
    assert response.status_code == 400 and message in page_of(response)
    with acting_as(bob):
        assert not ForkRecord.objects.exists() and not Story.objects.filter(user_id=bob.pk).exists()


def test_like_twice_says_so(as_bob, bob, tide_listing):
    url = reverse("marketplace-like", args=[tide_listing.pk])
    assert "You like “The Tide Book”." in page_of(as_bob.post(url, follow=True))
    again = page_of(as_bob.post(url, follow=True))
    assert "You already like this story." in again and "1 like · " in again
    with acting_as(bob):
        assert Activity.objects.filter(kind="like").count() == 1


def test_report(as_bob, bob, tide_listing):
    url = reverse("marketplace-report", args=[tide_listing.pk])
    empty = as_bob.post(url, {"reason": "   "})
    assert empty.status_code == 400 and "This field is required." in page_of(empty)
    done = as_bob.post(url, {"reason": "It copies <my> book."}, follow=True)
    assert "the moderators will look at this story" in page_of(done)
    with acting_as(bob):
        assert list(Report.objects.values_list("reason", flat=True)) == ["It copies <my> book."]


# -- Publishing ------------------------------------------------------------------------------


def publish_form(client, story, **fields):
    data = {"title": "", "description": "", "genre": "", "tags": "", "licence": "CC-BY", "rating": "general",
            "changelog": "", **fields}
    return client.post(reverse("marketplace-publish", args=[story.pk]), data)


def test_publish_and_publish_a_new_version(as_alice, alice, tide_book):
    url = reverse("marketplace-publish", args=[tide_book.pk])
    form = page_of(as_alice.get(url))
    assert 'value="The Tide Book"' in form and ">Publish</button>" in form
    bad = publish_form(as_alice, tide_book, tags=",".join(f"t{n}" for n in range(21)))
    assert bad.status_code == 400 and "At most 20 tags" in page_of(bad)
    with acting_as(alice):
        assert not Listing.objects.exists()

    response = publish_form(as_alice, tide_book, description="Bells under the sea.", tags="Sea, mystery", rating="teen")
    with acting_as(alice):
        listing = Listing.objects.select_related("series").get()
    assert response.status_code == 302 and response["Location"] == f"/marketplace/{listing.pk}/"
    assert listing.tags == ["sea", "mystery"] and listing.rating == "teen" and listing.series.latest_version == 1

    again = page_of(as_alice.get(url))
    assert "Publish a new version" in again and "Bells under the sea." in again and 'value="sea, mystery"' in again
    assert "Publish version 2" in again
    with acting_as(alice):
        Turn.objects.filter(story=tide_book, number=1).update(prose="A new first passage.")
    done = publish_form(as_alice, tide_book, description="Bells, rewritten.", changelog="A new first passage.")
    assert done.status_code == 302
    with acting_as(alice):
        listing = Listing.objects.select_related("series").get()
    assert listing.series.latest_version == 2 and listing.description == "Bells, rewritten."
    assert "“The Tide Book” is published, version 2." in page_of(as_alice.get(done["Location"]))


@pytest.mark.parametrize("licence", ["CC-BY-ND", "all-rights-reserved"])
def test_a_fork_of_an_nd_story_cannot_be_published(as_bob, bob, alice, tide_book, licence):
    listing = publish(alice, tide_book, licence=licence)
    story_id = fork_of(as_bob, listing)["Location"].split("/")[2]
    form = page_of(as_bob.get(reverse("marketplace-publish", args=[story_id])))
    assert "Its licence lets you play a fork, not publish it." in form
    response = publish_form(as_bob, Story(pk=story_id))
    assert response.status_code == 400
    assert "a story using it can be played, not published" in page_of(response)
    with acting_as(bob):
        assert not Listing.objects.filter(author_id=bob.pk).exists()
        assert not SnapshotSeries.objects.filter(author_id=bob.pk).exists()


def test_a_fork_of_an_sa_story_is_published_under_sa(as_bob, bob, alice, tide_book):
    listing = publish(alice, tide_book, licence="CC-BY-SA")
    story_id = fork_of(as_bob, listing)["Location"].split("/")[2]
    assert '<option value="CC-BY-SA" selected>' in page_of(as_bob.get(reverse("marketplace-publish", args=[story_id])))
    refused = publish_form(as_bob, Story(pk=story_id), licence="CC-BY")
    assert refused.status_code == 400 and "a story using it is published under CC BY-SA 4.0 too" in page_of(refused)
    with acting_as(bob):
        assert not SnapshotSeries.objects.filter(author_id=bob.pk).exists()
    assert publish_form(as_bob, Story(pk=story_id), licence="CC-BY-SA").status_code == 302
    with acting_as(bob):
        mine = Listing.objects.get(author_id=bob.pk)
    assert mine.licence == "CC-BY-SA" and mine.derived_from_id == listing.pk


# -- Mine ------------------------------------------------------------------------------------


def test_my_forks_and_my_published_and_unpublish(client, alice, bob, tide_listing):
    client.force_login(bob)
    fork_of(client, tide_listing, at_turn=3)
    forks = page_of(client.get(reverse("marketplace-forks")))
    assert "The Tide Book</a> by alice, version 1, at turn 3." in forks and "Storage: Reference" in forks
    assert "Nothing published yet" in page_of(client.get(reverse("marketplace-published")))

    client.force_login(alice)
    services.listing_like(user=bob, listing=tide_listing)
    published = page_of(client.get(reverse("marketplace-published")))
    assert "The Tide Book" in published and "1 like · 1 fork · 0 downloads" in published and "version 1" in published
    assert "Unpublish" in published and "Publish a new version" in published
    assert "No forks yet" in page_of(client.get(reverse("marketplace-forks")))

    done = client.post(reverse("marketplace-unpublish", args=[tide_listing.pk]), follow=True)
    assert "is no longer in the marketplace" in page_of(done) and "Unpublished." in page_of(done)
    client.force_login(bob)
    assert titles(client.get(reverse("marketplace"))) == []
    # Bob holds a fork, so he still reads the page; Carol does not, so for her it does not exist.
    assert client.get(reverse("marketplace-asset", args=[tide_listing.pk])).status_code == 200
    client.force_login(UserFactory(username="carol"))
    assert client.get(reverse("marketplace-asset", args=[tide_listing.pk])).status_code == 404


def test_only_the_author_unpublishes(as_bob, tide_listing):
    response = as_bob.post(reverse("marketplace-unpublish", args=[tide_listing.pk]))
    assert response.status_code == 403 and "Only its author can unpublish a story." in page_of(response)
    tide_listing.series.refresh_from_db()
    assert tide_listing.series.is_public


# -- The story page: the marketplace panel, branch, edit text --------------------------------


def test_story_page_loads_the_marketplace_panel_and_works_without_javascript(as_alice, tide_book):
    page = page_of(as_alice.get(reverse("story-detail", args=[tide_book.pk])))
    assert f'hx-get="/marketplace/fragments/story/{tide_book.pk}/"' in page and 'hx-trigger="load"' in page
    assert f'<a href="/marketplace/story/{tide_book.pk}/">Publish or branch this story</a>' in page
    assert page.count("<summary>Edit text</summary>") == 5

    fragment = page_of(as_alice.get(f"/marketplace/fragments/story/{tide_book.pk}/"))
    assert "<html" not in fragment and f'href="/marketplace/publish/{tide_book.pk}/">Publish</a>' in fragment
    assert 'name="at_turn" min="0" max="5" value="5"' in fragment and "Branch from here" in fragment
    assert "Forked from" not in fragment
    panel = page_of(as_alice.get(f"/marketplace/story/{tide_book.pk}/"))
    assert "<html" in panel and "Branch from here" in panel


def test_fragment_of_a_fork_says_where_it_comes_from(as_bob, tide_listing):
    story_id = fork_of(as_bob, tide_listing)["Location"].split("/")[2]
    fragment = page_of(as_bob.get(f"/marketplace/fragments/story/{story_id}/"))
    assert re.search(r'Forked from <a href="/marketplace/[0-9a-f-]+/">The Tide Book</a> by alice, version 1',
                     fragment)
    publish_form(as_bob, Story(pk=story_id))
    assert "Publish a new version" in page_of(as_bob.get(f"/marketplace/fragments/story/{story_id}/"))


def test_branch_form(as_alice, alice, tide_book):
    url = reverse("marketplace-branch", args=[tide_book.pk])
    response = as_alice.post(url, {"at_turn": 2})
    with acting_as(alice):
        record = ForkRecord.objects.get()
        assert response["Location"] == f"/stories/{record.story_id}/" and record.at_turn == 2
        assert story_selectors.story_turns(story=record.story).count() == 2
    assert "A new story goes on from turn 2 of “The Tide Book”." in page_of(as_alice.get(response["Location"]))
    for bad, message in ((9, "The story has turns 1 to 5; 9 is not one of them."), ("", "This field is required.")):
        refused = as_alice.post(url, {"at_turn": bad}, follow=True)
        assert message in page_of(refused)
    with acting_as(alice):
        assert ForkRecord.objects.count() == 1


def test_edit_text_on_a_fork_is_an_override(as_bob, bob, alice, tide_book, tide_listing):
    story_id = fork_of(as_bob, tide_listing)["Location"].split("/")[2]
    url = reverse("turn-text", args=[story_id, 2])
    response = as_bob.post(url, {"prose": "Bob's <b>second</b>\r\npassage."})
    assert response.status_code == 302 and response["Location"] == f"/stories/{story_id}/?page=1#turn-2"
    with acting_as(bob):
        override = TurnOverride.objects.get(story_id=story_id)
        assert override.number == 2 and override.prose == "Bob's <b>second</b>\npassage."
        assert Story.objects.get(pk=story_id).storage_mode == StorageMode.DELTA
    page = page_of(as_bob.get(f"/stories/{story_id}/"))
    assert "Turn 2 has its new text." in page and "Bob&#x27;s &lt;b&gt;second&lt;/b&gt;<br>passage." in page
    with acting_as(alice):  # the source is untouched
        assert Turn.objects.get(story=tide_book, number=2).prose.startswith("Passage 2:")


def test_edit_text_on_a_plain_story_changes_the_turn(as_alice, alice, tide_book):
    url = reverse("turn-text", args=[tide_book.pk, 3])
    as_alice.post(url, {"prose": "The third, rewritten."})
    with acting_as(alice):
        assert Turn.objects.get(story=tide_book, number=3).prose == "The third, rewritten."
        assert not TurnOverride.objects.exists()
    empty = page_of(as_alice.post(url, {"prose": "  "}, follow=True))
    assert "The passage cannot be empty." in empty
    missing = page_of(as_alice.post(reverse("turn-text", args=[tide_book.pk, 42]), {"prose": "x"}, follow=True))
    assert "There is no turn 42." in missing
    with acting_as(alice):
        assert Turn.objects.get(story=tide_book, number=3).prose == "The third, rewritten."


def test_another_users_story_or_listing_is_a_404(as_bob, alice, bob, tide_book):
    private = story_with_turns(alice, 2, title="Alice's private story")
    listing = publish(alice, tide_book)
    services.listing_unpublish(user=alice, listing=listing)
    for url in (reverse("marketplace-publish", args=[private.pk]), f"/marketplace/fragments/story/{private.pk}/",
                f"/marketplace/story/{private.pk}/", reverse("marketplace-asset", args=[listing.pk])):
        response = as_bob.get(url)
        assert response.status_code == 404 and "Alice" not in page_of(response), url
    for url, data in ((reverse("marketplace-branch", args=[private.pk]), {"at_turn": 1}),
                      (reverse("turn-text", args=[private.pk, 1]), {"prose": "Mine now."}),
                      (reverse("marketplace-publish", args=[private.pk]), {"licence": "CC-BY", "rating": "general"}),
                      (reverse("marketplace-fork", args=[listing.pk]), {}),
                      (reverse("marketplace-like", args=[listing.pk]), {}),
                      (reverse("marketplace-report", args=[listing.pk]), {"reason": "x"})):
        assert as_bob.post(url, data).status_code == 404, url
    with acting_as(alice):
        assert Turn.objects.get(story=private, number=1).prose.startswith("Passage 1:")
    with acting_as(alice):
        assert Listing.objects.count() == 1
    with acting_as(bob):
        assert not Report.objects.exists() and not Activity.objects.exists()


def test_pages_need_a_login(client, tide_book):
    """All but browse and a listing's page, which visitors read (tests/marketplace/test_discovery.py)."""
    for url in (reverse("marketplace-forks"), reverse("marketplace-published"),
                reverse("marketplace-publish", args=[tide_book.pk]), f"/marketplace/fragments/story/{tide_book.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
