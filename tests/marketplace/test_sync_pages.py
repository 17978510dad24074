"""Source sync through the pages (Django's test client): the "update available" badge, the sync
page, each resolution, a second resolve, undo, and another user's fork.

The life of tests/marketplace/test_sync.py: A publishes 30 turns, B forks and edits turns 3 and 7, A changes
turns 2 and 7 and publishes version 2."""

import re

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from marketplace import forks, services
from marketplace.models import ForkRecord, SyncConflict
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline import snapshots
from narrative_pipeline.models import Story, Turn

from ..factories import UserFactory, story_with_turns

pytestmark = pytest.mark.django_db

BOBS_SEVENTH = "Bob's <b>seventh</b>."
AUTHORS_SEVENTH = "The author's <i>seventh</i>."


def page_of(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def add_turns(user, story, numbers):
    from django.utils import timezone

    with acting_as(user):
        Turn.objects.bulk_create([
            Turn(user_id=user.pk, story=story, number=number, action=f"Action {number}.",
                 prose=f"Passage {number}: the author goes on.", idempotency_key=f"more{number}",
                 status=Turn.Status.COMPLETED, completed_at=timezone.now(), state_before=story.state)
            for number in numbers])


def make_life(alice, bob, *, continued=0):
    tide = story_with_turns(alice, 30, title="The Tide Book")
    listing = services.listing_publish(user=alice, story=tide, licence="CC-BY")
    record = forks.fork_create(user=bob, listing_id=listing.pk)
    fork_story = Story(pk=record.story_id)
    for number, prose in ((3, "Bob's third."), (7, BOBS_SEVENTH)):
        snapshots.turn_text_set(user=bob, story=fork_story, number=number, prose=prose)
    with acting_as(alice):
        Turn.objects.filter(story=tide, number=2).update(prose="The author's better second.")
        Turn.objects.filter(story=tide, number=7).update(prose=AUTHORS_SEVENTH)
    if continued:
        add_turns(alice, tide, range(31, 31 + continued))
    services.listing_publish(user=alice, story=tide, licence="CC-BY", changelog="2 and 7")
    return record


@pytest.fixture
def life(alice, bob):
    return make_life(alice, bob)


def sync_url(record):
    return reverse("marketplace-sync", args=[record.pk])


def resolve_url(record, conflict_id):
    return reverse("marketplace-sync-resolve", args=[record.pk, conflict_id])


def undo_url(record):
    return reverse("marketplace-sync-undo", args=[record.pk])


def synced(client, record):
    """*Sync now*, followed to the page (which shows, and so uses up, its message)."""
    return client.post(sync_url(record), follow=True)


def open_conflict(bob, record) -> SyncConflict:
    with acting_as(bob):
        return SyncConflict.objects.get(fork_id=record.pk, choice="")


def turn(bob, record, number):
    with acting_as(bob):
        return story_selectors.story_turns(story=Story(pk=record.story_id)).get(number=number)


def texts(bob, record, numbers):
    with acting_as(bob):
        rows = story_selectors.story_turns(story=Story(pk=record.story_id)).filter(number__in=list(numbers))
        return [(row.number, row.prose, row.alternatives) for row in rows]


def version_of(bob, record) -> int:
    with acting_as(bob):
        return ForkRecord.objects.get(pk=record.pk).version


BADGE = "Update available: version 2"


def test_the_badge_shows_only_when_the_fork_is_behind(as_bob, alice, bob):
    tide = story_with_turns(alice, 4, title="The Tide Book")
    listing = services.listing_publish(user=alice, story=tide, licence="CC-BY")
    record = forks.fork_create(user=bob, listing_id=listing.pk)
    fragment_url = reverse("marketplace-story-fragment", args=[record.story_id])
    mine = page_of(as_bob.get(reverse("marketplace-forks")))
    assert "The Tide Book" in mine and "Update available" not in mine
    assert "Update available" not in page_of(as_bob.get(fragment_url))

    with acting_as(alice):
        Turn.objects.filter(story=tide, number=2).update(prose="A new second.")
    services.listing_publish(user=alice, story=tide, licence="CC-BY")
    link = f'<a class="badge update-badge" href="{sync_url(record)}">{BADGE}</a>'
    assert link in page_of(as_bob.get(reverse("marketplace-forks")))
    assert link in page_of(as_bob.get(fragment_url))
    assert link in page_of(as_bob.get(reverse("marketplace-story", args=[record.story_id])))

    synced(as_bob, record)
    assert "Update available" not in page_of(as_bob.get(reverse("marketplace-forks")))
    assert "Update available" not in page_of(as_bob.get(fragment_url))
    # The author sees no badge on their own story, which is no fork.
    as_bob.force_login(alice)
    assert "Update available" not in page_of(as_bob.get(reverse("marketplace-story-fragment", args=[tide.pk])))


def test_sync_page_syncs_and_shows_the_conflict_side_by_side_escaped(as_bob, bob, life):
    page = page_of(as_bob.get(sync_url(life)))
    assert "Sync: The Tide Book" in page and BADGE in page
    assert re.search(r"<dt>Your fork</dt><dd>version 1</dd>\s*<dt>The source</dt><dd>version 2</dd>", page)
    assert ">Sync now</button>" in page and "No conflicts to resolve." in page
    assert "Undo the last sync" not in page  # nothing synced yet

    response = as_bob.post(sync_url(life), follow=True)
    assert response.redirect_chain == [(sync_url(life), 302)]
    (message,) = messages_of(response)
    assert "1 change applied automatically, 1 kept, 1 conflict." in message
    assert "continued" not in message
    page = page_of(response)
    # A conflict is open, so the fork is not "up to date" (#19): the page counts what is left to resolve.
    assert "Sync now" not in page and "1 conflict to resolve" in page and "up to date" not in page
    conflict = open_conflict(bob, life)
    assert conflict.turn_number == 7
    article = page[page.index(f'id="conflict-{conflict.pk}"'):]
    assert "Turn 7" in article
    base, source, mine = (article.index(marker) for marker in ('class="conflict-side side-base"',
                                                               'class="conflict-side side-source"',
                                                               'class="conflict-side side-mine"'))
    assert base < article.index("Passage 7: the tide turns") < source
    # Each side reads as it is, the words it added to the passage before marked.
    assert source < article.index('<ins class="addition">The author&#x27;s &lt;i&gt;seventh&lt;/i&gt;</ins>.') < mine
    assert mine < article.index('<ins class="addition">Bob&#x27;s &lt;b&gt;seventh&lt;/b&gt;</ins>.')
    assert "<b>seventh</b>" not in page and "<i>seventh</i>" not in page
    assert f'action="{resolve_url(life, conflict.pk)}"' in article
    for value, label in (("source", "Keep the source's"), ("mine", "Keep mine"), ("both", "Keep both")):
        assert re.search(rf'name="choice" value="{value}"[^>]*>{label}</button>', article), value
    assert "Undo the last sync" in page and "Version 1 → 2" in page
    # Applied and kept, as the fork now reads them.
    assert turn(bob, life, 2).prose == "The author's better second."
    assert turn(bob, life, 3).prose == "Bob's third."


def test_the_message_says_when_the_author_continued_the_story(as_bob, alice, bob):
    record = make_life(alice, bob, continued=3)
    (message,) = messages_of(as_bob.post(sync_url(record), follow=True))
    assert "1 change applied automatically, 1 kept, 1 conflict." in message
    assert "the author continued the story: 3 new turns." in message


def test_syncing_an_up_to_date_fork_says_so(as_bob, life):
    synced(as_bob, life)
    (message,) = messages_of(as_bob.post(sync_url(life), follow=True))
    assert message == "Your fork is already on the source's latest version (2): nothing to sync."


@pytest.mark.parametrize(("choice", "turn7", "alternatives", "said"), [
    ("source", AUTHORS_SEVENTH, [BOBS_SEVENTH], "Turn 7 now reads the source's text; yours is kept"),
    ("mine", BOBS_SEVENTH, [], "Turn 7 keeps your text."),
    ("both", BOBS_SEVENTH, [AUTHORS_SEVENTH], "Turn 7 keeps your text, with the source's as an earlier version"),
])
def test_each_resolution_button(as_bob, bob, life, choice, turn7, alternatives, said):
    synced(as_bob, life)
    conflict = open_conflict(bob, life)
    response = as_bob.post(resolve_url(life, conflict.pk), {"choice": choice, "ends_undo": "yes"}, follow=True)
    assert response.redirect_chain == [(sync_url(life), 302)]
    (message,) = messages_of(response)
    assert message.startswith(said)
    page = page_of(response)
    assert f'id="conflict-{conflict.pk}"' not in page and "No conflicts to resolve." in page
    resolved = turn(bob, life, 7)
    assert resolved.prose == turn7 and [alt["prose"] for alt in resolved.alternatives] == alternatives
    # Its resolution stays, so the sync cannot be undone as a whole any more.
    assert "cannot be undone as a whole" in page and ">Undo the last sync</button>" not in page

    again = as_bob.post(resolve_url(life, conflict.pk), {"choice": "mine"}, follow=True)
    assert messages_of(again) == [f"The conflict on turn 7 is already resolved ({choice})."]
    assert turn(bob, life, 7).prose == turn7
    refused = as_bob.post(undo_url(life), follow=True)
    assert "Some of this sync's conflicts are resolved" in messages_of(refused)[0]
    assert version_of(bob, life) == 2


def test_an_unknown_choice_is_a_message_and_changes_nothing(as_bob, bob, life):
    synced(as_bob, life)
    conflict = open_conflict(bob, life)
    for data in ({"choice": "theirs", "ends_undo": "yes"}, {"ends_undo": "yes"}):
        response = as_bob.post(resolve_url(life, conflict.pk), data, follow=True)
        assert messages_of(response) == ["The choice is one of source, mine, both."]
        assert f'id="conflict-{conflict.pk}"' in page_of(response)
    assert open_conflict(bob, life).pk == conflict.pk and turn(bob, life, 7).prose == BOBS_SEVENTH
    missing = as_bob.post(resolve_url(life, conflict.pk + 1000), {"choice": "mine"})
    assert missing.status_code == 404


def test_undo_restores_the_fork(as_bob, bob, life):
    before = texts(bob, life, range(1, 31))
    synced(as_bob, life)
    assert texts(bob, life, range(1, 31)) != before
    response = as_bob.post(undo_url(life), follow=True)
    assert response.redirect_chain == [(sync_url(life), 302)]
    assert messages_of(response) == ["The last sync is undone: your fork is back on version 1, its turns as they were."]
    page = page_of(response)
    assert BADGE in page and ">Sync now</button>" in page and "No conflicts to resolve." in page
    assert "Undo the last sync" not in page
    assert texts(bob, life, range(1, 31)) == before and version_of(bob, life) == 1
    with acting_as(bob):
        assert not SyncConflict.objects.exists()
    assert BADGE in page_of(as_bob.get(reverse("marketplace-forks")))
    again = as_bob.post(undo_url(life), follow=True)
    assert messages_of(again) == ["There is no sync of this fork to undo."]


def test_another_users_fork_is_a_404_and_stays_as_it_was(client, bob, life):
    client.force_login(bob)
    synced(client, life)
    conflict = open_conflict(bob, life)
    client.force_login(UserFactory(username="carol"))
    assert client.get(sync_url(life)).status_code == 404
    for url, data in ((sync_url(life), {}), (resolve_url(life, conflict.pk), {"choice": "source"}),
                      (undo_url(life), {})):
        response = client.post(url, data)
        assert response.status_code == 404 and "Tide" not in page_of(response), url
    assert open_conflict(bob, life).choice == "" and version_of(bob, life) == 2
    assert turn(bob, life, 7).prose == BOBS_SEVENTH
    assert client.get(reverse("marketplace-sync", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404


def test_the_sync_pages_need_a_login(client, life):
    for url in (sync_url(life), undo_url(life), resolve_url(life, 1)):
        response = client.post(url) if url != sync_url(life) else client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    assert client.post(sync_url(life)).status_code == 302


def test_a_sync_that_found_nothing_does_not_hide_the_undo_of_the_one_before(as_bob, bob, life):
    synced(as_bob, life)
    synced(as_bob, life)  # already on version 2: nothing to do, nothing to undo
    page = page_of(as_bob.get(sync_url(life)))
    assert ">Undo the last sync</button>" in page and "Version 1 → 2" in page
    response = as_bob.post(undo_url(life), follow=True)
    assert messages_of(response) == ["The last sync is undone: your fork is back on version 1, its turns as they were."]
    assert version_of(bob, life) == 1
