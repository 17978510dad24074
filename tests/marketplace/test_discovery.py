"""Discovery for visitors and new players: the marketplace readable without an account (public listings
only, under RLS), licence names as Creative Commons writes them, typo-tolerant search, listing covers, the
landing page, the first screen after sign-up and the update badge on My stories."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from accounts.rls import acting_anonymously, acting_as
from accounts.services import verification_token
from marketplace import services
from marketplace.models import AssetKind, Listing
from narrative_pipeline import lore_files
from narrative_pipeline.models import SnapshotSeries

from ..factories import story_with_turns

pytestmark = pytest.mark.django_db


def publish(user, story, **fields):
    return services.listing_publish(user=user, story=story, **{
        "description": "A harbour town and its drowned bells.", "tags": ["sea", "mystery"], "licence": "CC-BY",
        **fields})


def page_of(response) -> str:
    return response.content.decode()


def titles(response) -> list[str]:
    return re.findall(r'<h2><a href="/marketplace/[0-9a-f-]+/">([^<]*)</a></h2>', page_of(response))


@pytest.fixture
def tide_listing(alice):
    return publish(alice, story_with_turns(alice, 3, title="The Tide Book", genre="fantasy"))


@pytest.fixture
def hidden_listing(alice):
    listing = publish(alice, story_with_turns(alice, 1, title="The Hidden Harbour"))
    with acting_as(alice, bypass=True):  # as a moderator would
        SnapshotSeries.objects.filter(listing__id=listing.pk).update(is_hidden=True)
    return listing


@pytest.fixture
def unpublished_listing(alice):
    listing = publish(alice, story_with_turns(alice, 1, title="The Private Harbour"))
    services.listing_unpublish(user=alice, listing=listing)
    return listing


# -- A visitor reads the marketplace -------------------------------------------------------------


def test_a_visitor_browses_public_listings_only(client, tide_listing, hidden_listing, unpublished_listing):
    response = client.get(reverse("marketplace"))
    assert response.status_code == 200 and titles(response) == ["The Tide Book"]
    assert page_of(client.get(reverse("marketplace"), {"q": "harbour"})).count("Harbour") == 0


def test_a_visitor_reads_a_listing_and_is_sent_to_log_in_to_fork(client, tide_listing):
    url = reverse("marketplace-asset", args=[tide_listing.pk])
    page = page_of(client.get(url))
    assert "The opening" in page and "The Tide Book" in page
    assert f'href="/accounts/login/?next={url}"' in page and "Log in to fork" in page
    assert 'action="/marketplace/' not in page  # no fork, like or report form for a visitor
    refused = client.post(reverse("marketplace-fork", args=[tide_listing.pk]))
    assert refused.status_code == 302 and refused["Location"] == f"{reverse('login')}?next={url}"
    assert not Listing.objects.filter(derived_from=tide_listing).exists()


@pytest.mark.parametrize("action", ["marketplace-fork", "marketplace-like", "marketplace-report"])
def test_a_listings_button_pressed_by_a_visitor_logs_in_back_to_the_listing(client, bob, tide_listing, action):
    url = reverse("marketplace-asset", args=[tide_listing.pk])
    refused = client.post(reverse(action, args=[tide_listing.pk]))
    assert refused.status_code == 302 and refused["Location"] == f"{reverse('login')}?next={url}"
    client.force_login(bob)
    # A log-in's next=… followed with a GET (as an older log-in link sent it) lands on the listing, never a 405.
    again = client.get(reverse(action, args=[tide_listing.pk]))
    assert again.status_code == 302 and again["Location"] == url
    assert client.get(again["Location"]).status_code == 200


def test_a_visitor_cannot_open_a_hidden_or_unpublished_listing(client, hidden_listing, unpublished_listing):
    for listing in (hidden_listing, unpublished_listing):
        assert client.get(reverse("marketplace-asset", args=[listing.pk])).status_code == 404


def test_the_visitors_role_sees_only_public_rows_even_with_raw_sql(tide_listing, hidden_listing,
                                                                     unpublished_listing, alice_story):
    """The attack: code running for a visitor runs arbitrary SQL; it is the app role with no user."""
    with acting_anonymously(), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('app.current_user_id', true)")
        assert cursor.fetchone() == ("luna_app", "")
        cursor.execute("SELECT title FROM marketplace_communitystory ORDER BY title")
        assert cursor.fetchall() == [("The Tide Book",)]
        cursor.execute("SELECT count(*) FROM narrative_pipeline_story")
        assert cursor.fetchone() == (0,)
        cursor.execute("UPDATE marketplace_communitystory SET title = 'Defaced'")
        assert cursor.rowcount == 0


# -- Licence names ------------------------------------------------------------------------------


def test_licences_read_as_creative_commons_writes_them(client, alice):
    publish(alice, story_with_turns(alice, 1, title="Shared Tides"), licence="CC-BY-SA")
    page = page_of(client.get(reverse("marketplace")))
    assert "CC BY-SA 4.0" in page and "Cc By" not in page and ">CC-BY-SA<" not in page
    assert '<option value="CC-BY-ND">CC BY-ND 4.0</option>' in page  # the licence filter too


# -- Typo tolerance -----------------------------------------------------------------------------

# (what a player types, the listing it must find): one- and two-letter slips in title and tag words.
MISSPELLINGS = [
    ("lighthuose", "The Lighthouse Keeper"),      # two letters swapped
    ("lihgthouse", "The Lighthouse Keeper"),
    ("ligthouse", "The Lighthouse Keeper"),       # a letter missing
    ("lighthousse", "The Lighthouse Keeper"),     # a letter too many
    ("lighthoose", "The Lighthouse Keeper"),      # a letter wrong
    ("lightouse keeper", "The Lighthouse Keeper"),
    ("keepr", "The Lighthouse Keeper"),
    ("strangr", "A Stranger in Gullhaven"),       # a tag word: "stranger"
    ("strnger", "A Stranger in Gullhaven"),
    ("stranegr", "A Stranger in Gullhaven"),
    ("gulhaven", "A Stranger in Gullhaven"),
    ("gullhavne", "A Stranger in Gullhaven"),
    ("cluckwork", "Clockwork Orchards"),
    ("clokwork orchrds", "Clockwork Orchards"),
    ("orchadrs", "Clockwork Orchards"),
    ("automatns", "Clockwork Orchards"),           # a tag word: "automatons"
    ("harbor", "Harbour Lights"),
]
# Words near no title or tag word of these listings: a typo search must not flood the page.
UNRELATED = ["orange", "keeper of bees", "clockmaker", "garden", "orbit", "xylophone"]


@pytest.fixture
def shelf(alice):
    for title, tags in (("The Lighthouse Keeper", ["sea", "solitude"]),
                        ("A Stranger in Gullhaven", ["stranger", "mystery"]),
                        ("Clockwork Orchards", ["automatons", "steampunk"]),
                        ("Harbour Lights", ["sea"])):
        publish(alice, story_with_turns(alice, 1, title=title), tags=tags, description="")


@pytest.mark.parametrize("typed, expected", MISSPELLINGS)
def test_one_and_two_letter_misspellings_find_the_listing(client, shelf, typed, expected):
    assert titles(client.get(reverse("marketplace"), {"q": typed})) == [expected]


@pytest.mark.parametrize("typed", UNRELATED)
def test_words_near_nothing_find_nothing(client, shelf, typed):
    assert titles(client.get(reverse("marketplace"), {"q": typed})) == []


def test_a_hidden_listings_words_help_no_one_find_it(client, shelf, hidden_listing):
    assert titles(client.get(reverse("marketplace"), {"q": "hiden"})) == []


def test_the_lexicon_is_closed_to_the_request_roles(shelf, alice):
    with acting_as(alice), connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege('marketplace_searchword', 'SELECT'), "
                       "has_function_privilege('marketplace_typo_tsquery(text)', 'EXECUTE')")
        assert cursor.fetchone() == (False, False)


# -- The first screen after sign-up --------------------------------------------------------------


def test_after_sign_up_and_confirming_the_address_the_first_screen_is_new_story(
        client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_up = client.post("/accounts/signup/", {"username": "wren", "email": "wren@example.com",
                                                      "password": "moonlit-harbour-77",
                                                      "password_again": "moonlit-harbour-77"})
    assert signed_up.status_code == 302
    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)
    confirmed = client.get(link)
    assert confirmed["Location"] == "/accounts/login/?next=%2Fstories%2Fnew%2F"
    logged_in = client.post(confirmed["Location"], {"username": "wren", "password": "moonlit-harbour-77"})
    assert logged_in.status_code == 302 and logged_in["Location"] == "/stories/new/"


def test_confirming_while_signed_in_opens_new_story(client, alice):
    client.force_login(alice)
    assert client.get(f"/accounts/verify/{verification_token(alice)}/")["Location"] == "/stories/new/"


# -- Covers -------------------------------------------------------------------------------------


def test_a_listing_without_a_picture_has_a_generated_title_card(client, alice):
    listing = publish(alice, story_with_turns(alice, 1, title='<script>alert("x")</script> & the Tide'),
                      genre="horror")
    response = client.get(reverse("marketplace-cover", args=[listing.pk]))
    svg = page_of(response)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&amp; the Tide" in svg
    assert svg == page_of(client.get(reverse("marketplace-cover", args=[listing.pk])))  # the same every time
    browse = page_of(client.get(reverse("marketplace")))
    assert f'src="/marketplace/{listing.pk}/cover/"' in browse


def test_title_cards_differ_by_title_and_keep_within_the_card():
    from marketplace.covers import MAX_LINES, cover_hues, title_lines

    assert cover_hues("The Tide Book", "fantasy") != cover_hues("Iron Roads", "fantasy")
    lines = title_lines("A very long title that goes on and on past the edge of any card at all")
    assert len(lines) == MAX_LINES and lines[-1].endswith("…")


def test_no_cover_for_a_hidden_listing(client, hidden_listing):
    assert client.get(reverse("marketplace-cover", args=[hidden_listing.pk])).status_code == 404


CARD = Path(__file__).parent.parent / "data" / "lore" / "card_v2" / "sillytavern_seraphina_v2_with_book.png"


@pytest.fixture
def card_story(alice):
    return lore_files.story_from_file(user=alice, data=CARD.read_bytes(), filename=CARD.name)


def test_a_listing_from_a_card_story_or_of_its_character_shows_the_portrait_to_anyone(client, alice, card_story):
    for listing in (publish(alice, card_story),
                    publish(alice, card_story, kind=AssetKind.CHARACTER, character="Seraphina")):
        response = client.get(reverse("marketplace-cover", args=[listing.pk]))  # a visitor, under RLS
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response.content == CARD.read_bytes()
        assert response["Content-Security-Policy"] == "default-src 'none'"
        assert response["X-Content-Type-Options"] == "nosniff" and response["Cache-Control"].startswith("private")


def test_a_hidden_listings_portrait_is_served_to_its_author_only(client, alice, bob, card_story):
    listing = publish(alice, card_story)
    with acting_as(alice, bypass=True):  # as a moderator would
        SnapshotSeries.objects.filter(listing__id=listing.pk).update(is_hidden=True)
    url = reverse("marketplace-cover", args=[listing.pk])
    assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 404
    client.force_login(alice)
    assert client.get(url).content == CARD.read_bytes()
    with acting_anonymously(), connection.cursor() as cursor:  # and as raw SQL, a visitor reads no portrait
        cursor.execute("SELECT count(*) FROM narrative_pipeline_snapshotitem WHERE kind = 'portrait'")
        assert cursor.fetchone() == (0,)


# -- Starter worlds as cards ----------------------------------------------------------------------


def test_new_story_shows_starter_worlds_as_cards_that_are_plain_radio_choices(client, alice):
    from narrative_pipeline.starter_worlds import STARTER_WORLDS

    client.force_login(alice)
    page = page_of(client.get(reverse("story-new")))
    assert page.count('type="radio" name="world"') == len(STARTER_WORLDS) + 1
    assert "Keep the lighthouse on an island" in page and "<strong>Captain Hale</strong>" in page
    assert "The bell rings at dusk, three slow strokes" in page and "You are Wren" in page
    refused = page_of(client.post(reverse("story-new"), {"world": "iron-court", "title": ""}))  # kept when re-shown
    assert refused == "" or 'value="iron-court" id="id_world_iron-court" checked' in refused


def test_first_lines_never_stop_inside_a_quotation():
    from narrative_pipeline.starter_worlds import first_lines

    assert first_lines('The drone speaks: "Welcome. I am ANSEL." Then silence. Then more.') == (
        'The drone speaks: "Welcome. I am ANSEL."')
    assert first_lines('"Stop. Please. Now." She runs.', sentences=1) == '"Stop. Please. Now."'


# -- The landing page ---------------------------------------------------------------------------


def test_the_landing_page_shows_a_sample_and_the_marketplace_to_a_visitor(client, tide_listing, hidden_listing):
    page = page_of(client.get("/"))
    assert "Read a little: The Tide Book" in page and "by alice, from the marketplace" in page
    assert f'href="/marketplace/{tide_listing.pk}/"' in page and "Hidden Harbour" not in page
    assert 'href="/accounts/signup/"' in page and "Sign up and start a story" in page


def test_with_nothing_published_the_sample_is_a_starter_worlds_opening(client, alice):
    page = page_of(client.get("/"))
    assert "Read a little: The Drowned Bell" in page and "The bell rings at dusk" in page
    assert "the first story in the marketplace could be yours" in page
    client.force_login(alice)
    assert 'href="/stories/new/">Start a story</a>' in page_of(client.get("/"))


# -- The update badge on My stories -------------------------------------------------------------


def test_my_stories_loads_an_update_badge_for_a_fork_behind_its_source(client, alice, bob):
    from marketplace import forks
    from narrative_pipeline.models import Turn

    tide = story_with_turns(alice, 3, title="The Tide Book")
    listing = publish(alice, tide)
    record = forks.fork_create(user=bob, listing_id=listing.pk)
    client.force_login(bob)
    stories = page_of(client.get(reverse("story-list")))
    assert f'id="story-updates-{record.story_id}"' in stories and 'hx-get="/marketplace/fragments/updates/"' in stories
    fragment_url = reverse("marketplace-updates-fragment")
    assert "Update available" not in page_of(client.get(fragment_url))

    with acting_as(alice):
        Turn.objects.filter(story=tide, number=2).update(prose="A new second.")
    publish(alice, tide)
    fragment = page_of(client.get(fragment_url))
    assert (f'<span id="story-updates-{record.story_id}" hx-swap-oob="innerHTML"><a class="badge update-badge" '
            f'href="/marketplace/forks/{record.pk}/sync/">Update available: version 2</a></span>') in fragment
    client.force_login(alice)  # alice forked nothing: no badge of bob's reaches her
    assert "Update available" not in page_of(client.get(fragment_url))


def test_the_update_badges_need_a_login(client):
    assert client.get(reverse("marketplace-updates-fragment")).status_code == 302
