"""Chapter sets and characters through the marketplace pages (Django's test client): browse by kind,
an asset's page, publish the chapters or a character, fork them into one's own story or a new one,
My forks with the badge of an asset, the sync page with world conflicts and a background sync.

Alice's story "The Tide Book" (``tests.factories.world_story``) has two chapters, a
lorebook of three entries and a character, Orla."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.lore import services as chapter_lore
from chapters.models import ChapterSuggestion, LoreEntry, StoryChapter
from marketplace import forks, services
from marketplace.models import ForkRecord, Listing, SyncConflict, SyncRun
from narrative_pipeline.models import Character, Story

from ..factories import StoryFactory, UserFactory, world_story

pytestmark = pytest.mark.django_db


def page_of(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def titles(response) -> list[str]:
    return re.findall(r'<h2><a href="/marketplace/[0-9a-f-]+/">([^<]*)</a></h2>', page_of(response))


@pytest.fixture
def tide_world(alice):
    return world_story(alice, turns=2)


@pytest.fixture
def listings(alice, tide_world):
    """The Tide Book published three ways: the story, its chapters, and Orla."""
    return {"story": services.listing_publish(user=alice, story=tide_world, licence="CC-BY", description="Bells under the sea."),
            "chapters": services.listing_publish(user=alice, story=tide_world, kind="chapters", licence="CC-BY",
                                         description="Two chapters by the sea.", tags=["sea"]),
            "character": services.listing_publish(user=alice, story=tide_world, kind="character", character="Orla",
                                          licence="CC-BY", description="A diver who knows the wrecks.")}


def bobs_voyage(bob):
    """Bob's own story, with a chapter of its own."""
    story = StoryFactory(user=bob, title="Bob's voyage")
    with acting_as(bob):
        chapter_services.chapters_import(story_id=story.pk, user_id=bob.pk, chapters=[
            {"number": 1, "title": "Bob's opening"}])
    return story


def fork_url(listing):
    return reverse("marketplace-fork", args=[listing.pk])


def sync_url(record):
    return reverse("marketplace-sync", args=[record.pk])


def chapter_titles(user, story_id) -> list[tuple[int, str]]:
    with acting_as(user):
        return list(StoryChapter.objects.filter(story_id=story_id).order_by("number").values_list("number", "title"))


# -- Browse ----------------------------------------------------------------------------------


def test_browse_has_a_tab_per_kind_and_filters_within_it(as_bob, listings):
    url = reverse("marketplace")
    stories = as_bob.get(url)
    assert titles(stories) == ["The Tide Book"] and "1 story published." in page_of(stories)
    page = page_of(stories)
    assert '<a href="?" aria-current="page">Stories</a>' in page
    assert '<a href="?kind=chapters">Chapter sets</a>' in page and '<a href="?kind=character">Characters</a>' in page

    chapters = as_bob.get(url, {"kind": "chapters"})
    assert titles(chapters) == ["The Tide Book: the chapters"]
    assert "1 chapter set published." in page_of(chapters) and 'title="Kind">Chapter set</span>' in page_of(chapters)
    assert '<a href="?kind=chapters" aria-current="page">Chapter sets</a>' in page_of(chapters)
    assert 'type="hidden" name="kind" value="chapters"' in page_of(chapters)  # a search stays in the tab

    characters = as_bob.get(url, {"kind": "character"})
    assert titles(characters) == ["Orla"] and "1 character published." in page_of(characters)
    # The filters work in each tab, and the tabs keep them.
    assert titles(as_bob.get(url, {"kind": "chapters", "q": "tide"})) == ["The Tide Book: the chapters"]
    assert titles(as_bob.get(url, {"kind": "chapters", "tags": "sea"})) == ["The Tide Book: the chapters"]
    assert titles(as_bob.get(url, {"kind": "character", "q": "wrecks"})) == ["Orla"]
    assert titles(as_bob.get(url, {"kind": "character", "licence": "CC-BY-SA"})) == []
    searched = page_of(as_bob.get(url, {"kind": "character", "q": "diver"}))
    assert '<a href="?kind=chapters&amp;q=diver">Chapter sets</a>' in searched
    assert "No character is published yet" not in searched and "Nothing matches" in page_of(
        as_bob.get(url, {"kind": "character", "q": "zeppelin"}))

    bad = as_bob.get(url, {"kind": "lorebook"})
    assert bad.status_code == 400 and "Browse stories, chapter sets or characters." in page_of(bad)


# -- An asset's page -------------------------------------------------------------------------


def test_a_chapter_set_s_page_shows_its_chapters_and_the_fork_form(as_bob, bob, listings):
    bobs_voyage(bob)
    response = as_bob.get(reverse("marketplace-asset", args=[listings["chapters"].pk]))
    page = page_of(response)
    assert response.status_code == 200 and "The chapters" in page
    chapters = page[page.index('id="contents-heading"'):page.index('id="versions-heading"')]
    assert chapters.index("The Harbour") < chapters.index("Wren arrives.") < chapters.index("The Lighthouse")
    assert "The keeper&#x27;s log." in chapters
    assert "The opening" not in page and "turns" not in page[page.index('id="versions-heading"'):]
    assert "Version 1" in page and "Changed: 2 chapters" in page
    assert '<option value="" selected>A new story</option>' in page and ">Bob&#x27;s voyage</option>" in page
    assert f'href="/api/marketplace/chapters/{listings["chapters"].pk}/download/">Download (chapter text)' in page
    assert "Report this chapter set" in page


def test_a_new_version_of_a_chapter_set_shows_what_changed_side_by_side(as_bob, alice, tide_world, listings):
    with acting_as(alice):
        harbour = StoryChapter.objects.get(story=tide_world, number=1)
        chapter_services.chapter_update(chapter=harbour, trigger_conditions={"location": ["Old Bridge", "North Gate"]},
                                        narrative_instructions="Open on the <old> quay.")
    services.listing_publish(user=alice, story=tide_world, kind="chapters", licence="CC-BY",
                             description="Two chapters by the sea.", changelog="The harbour moved.")
    page = page_of(as_bob.get(reverse("marketplace-asset", args=[listings["chapters"].pk])))
    compared = page[page.index("What changed, side by side"):page.index("</details>", page.index("What changed"))]
    assert "Chapter 1" in compared and "<h4>Conditions</h4>" in compared
    assert '<span class="compare-side">Version 1</span>' in compared
    assert 'Location: <ins class="addition">Old Bridge, North Gate</ins>' in compared  # lines, not JSON
    assert "&lt;old&gt; quay." in compared and "<old>" not in compared and "{&quot;" not in compared


def test_a_character_s_page_shows_the_card(as_bob, listings):
    page = page_of(as_bob.get(reverse("marketplace-asset", args=[listings["character"].pk])))
    card = page[page.index('id="contents-heading"'):page.index('id="versions-heading"')]
    assert "Name</dt>" in card and "Orla" in card and "Description</dt>" in card and "a diver" in card
    assert "Bring Orla into a story" in page and "Download (Character Card V2)" in page
    assert 'title="Kind">Character</span>' in page


# -- Publish ---------------------------------------------------------------------------------


def publish_form(client, story, query="", **fields):
    data = {"title": "", "description": "", "genre": "", "tags": "", "licence": "CC-BY", "rating": "general",
            "changelog": "", **fields}
    return client.post(reverse("marketplace-publish", args=[story.pk]) + query, data)


def test_publish_the_chapters_and_a_character_from_the_page(as_alice, alice, tide_world):
    url = reverse("marketplace-publish", args=[tide_world.pk])
    form = page_of(as_alice.get(url + "?kind=chapters"))
    assert "Publish the chapters: The Tide Book" in form and 'value="The Tide Book: the chapters"' in form
    assert '<form method="post" class="card publish-form">' in form  # posts back to this address, kind and all
    done = publish_form(as_alice, tide_world, "?kind=chapters", title="Tide chapters", tags="sea")
    with acting_as(alice):
        chapters = Listing.objects.select_related("series").get(kind="chapters")
    assert done.status_code == 302 and done["Location"] == f"/marketplace/{chapters.pk}/"
    assert chapters.title == "Tide chapters" and chapters.tags == ["sea"]
    again = page_of(as_alice.get(url + "?kind=chapters"))
    assert "Publish a new version of the chapters" in again and "Publish version 2" in again

    form = page_of(as_alice.get(url + "?kind=character&character=Orla"))
    assert "Publish a character: The Tide Book" in form and '<option value="Orla" selected>Orla</option>' in form
    assert 'value="Orla"' in form
    done = publish_form(as_alice, tide_world, "?kind=character", character="Orla", description="A diver.")
    with acting_as(alice):
        orla = Listing.objects.get(kind="character")
    assert done.status_code == 302 and done["Location"] == f"/marketplace/{orla.pk}/"
    assert orla.character_name == "Orla" and orla.title == "Orla"
    assert "“Orla” is published, version 1." in page_of(as_alice.get(done["Location"]))
    assert "Publish a new version of Orla" in page_of(as_alice.get(url + "?kind=character&character=Orla"))
    with acting_as(alice):  # the story itself is not published by either
        assert not Listing.objects.filter(kind="story").exists()

    published = page_of(as_alice.get(reverse("marketplace-published")))
    assert 'title="Kind">Chapter set</span>' in published and 'title="Kind">Character</span>' in published
    assert f'href="/marketplace/publish/{tide_world.pk}/?kind=character&amp;character=Orla">Publish a new version' in published
    assert f'href="/marketplace/publish/{tide_world.pk}/?kind=chapters">Publish a new version' in published


def test_publishing_what_the_story_does_not_have_is_a_400_with_the_reason(as_alice, alice, tide_world):
    unknown = publish_form(as_alice, tide_world, "?kind=character", character="Nobody")
    assert unknown.status_code == 400 and "This story has no character named &#x27;Nobody&#x27;." in page_of(unknown)
    unnamed = publish_form(as_alice, tide_world, "?kind=character", character="")
    assert unnamed.status_code == 400 and "Name the character to publish." in page_of(unnamed)
    bare = StoryFactory(user=alice, title="Bare")
    empty = publish_form(as_alice, bare, "?kind=chapters", description="Kept as typed.")
    assert empty.status_code == 400 and "This story has no chapters to publish." in page_of(empty)
    assert "Kept as typed." in page_of(empty)  # nothing typed is lost
    assert "This story has no chapters yet" in page_of(as_alice.get(
        reverse("marketplace-publish", args=[bare.pk]) + "?kind=chapters"))
    assert as_alice.get(reverse("marketplace-publish", args=[tide_world.pk]) + "?kind=lorebook").status_code == 404
    with acting_as(alice):
        assert not Listing.objects.exists()


def test_the_story_panel_links_to_publishing_the_chapters_and_a_character(as_alice, alice, tide_world):
    fragment = page_of(as_alice.get(reverse("marketplace-story-fragment", args=[tide_world.pk])))
    assert f'<a href="/marketplace/publish/{tide_world.pk}/?kind=chapters">Publish the chapters</a>' in fragment
    assert f'<a href="/marketplace/publish/{tide_world.pk}/?kind=character">Publish a character</a>' in fragment
    bare = StoryFactory(user=alice, title="Bare")
    bare_panel = page_of(as_alice.get(reverse("marketplace-story-fragment", args=[bare.pk])))
    assert "Publish the chapters" not in bare_panel and "Publish a character" not in bare_panel


# -- Fork a chapter set or a character -------------------------------------------------------


def test_fork_a_chapter_set_into_one_s_own_story_and_into_a_new_one(as_bob, bob, listings):
    voyage = bobs_voyage(bob)
    response = as_bob.post(fork_url(listings["chapters"]), {"story_id": str(voyage.pk)})
    assert response.status_code == 302 and response["Location"] == f"/stories/{voyage.pk}/"
    assert chapter_titles(bob, voyage.pk) == [(1, "Bob's opening"), (2, "The Harbour"), (3, "The Lighthouse")]
    story_page = page_of(as_bob.get(response["Location"]))
    assert "The chapters of “The Tide Book: the chapters” are now in your story “Bob&#x27;s voyage”." in story_page

    fresh = as_bob.post(fork_url(listings["chapters"]), {"story_id": ""})
    with acting_as(bob):
        record = ForkRecord.objects.get(kind="chapters", story__title="The Tide Book: the chapters")
    assert fresh["Location"] == f"/stories/{record.story_id}/"
    assert chapter_titles(bob, record.story_id) == [(1, "The Harbour"), (2, "The Lighthouse")]


def test_fork_a_character_and_a_name_taken_is_a_form_error(as_bob, bob, listings):
    voyage = bobs_voyage(bob)
    url = fork_url(listings["character"])
    done = as_bob.post(url, {"story_id": str(voyage.pk)}, follow=True)
    assert done.redirect_chain == [(f"/stories/{voyage.pk}/", 302)]
    assert messages_of(done) == ["Orla is now in your story “Bob's voyage”."]
    with acting_as(bob):
        assert list(Character.objects.filter(story=voyage).values_list("name", "description")) == [("Orla", "a diver")]

    again = as_bob.post(url, {"story_id": str(voyage.pk)})
    page = page_of(again)
    assert again.status_code == 400
    assert "The story already has a character named &#x27;Orla&#x27;; rename one of them first." in page
    assert f'<option value="{voyage.pk}" selected>Bob&#x27;s voyage</option>' in page  # the choice is kept
    strangers = StoryFactory(user=UserFactory(), title="Not Bob's")
    refused = as_bob.post(url, {"story_id": str(strangers.pk)})
    assert refused.status_code == 400 and "Select a valid choice" in page_of(refused)
    with acting_as(bob):
        assert Character.objects.filter(story=voyage).count() == 1
        assert ForkRecord.objects.filter(kind="character").count() == 1
        assert Story.objects.filter(user_id=bob.pk).count() == 1


# -- My forks, the panel, the sync page ------------------------------------------------------


def chapter_set_behind(alice, bob, tide_world, listing):
    """Bob takes the chapter set into his voyage and rewrites its first chapter (his chapter 2); Alice
    rewrites it too, and publishes version 2."""
    voyage = bobs_voyage(bob)
    record = forks.asset_take(user=bob, listing_id=listing.pk, kind="chapters", story_id=voyage.pk)
    with acting_as(bob):
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=voyage, number=2),
                                        summary="Bob's <b>harbour</b>.")
    with acting_as(alice):
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=tide_world, number=1),
                                        summary="The author's harbour.")
    services.listing_publish(user=alice, story=tide_world, kind="chapters", licence="CC-BY", changelog="Chapter 1.")
    return record


def test_my_forks_lists_assets_with_their_badge_and_the_panel_too(as_bob, alice, bob, tide_world, listings):
    record = chapter_set_behind(alice, bob, tide_world, listings["chapters"])
    orla = forks.asset_take(user=bob, listing_id=listings["character"].pk, kind="character")
    mine = page_of(as_bob.get(reverse("marketplace-forks")))
    card = mine[mine.index(f'href="/stories/{record.story_id}/"'):]
    card = card[:card.index("</li>")]
    assert 'title="Kind">Chapter set</span>' in card and "The Tide Book: the chapters</a> by alice, version 1" in card
    assert "taken into this story after its chapter 1." in card and "Bob&#x27;s voyage" in card
    badge = f'<a class="badge update-badge" href="{sync_url(record)}">Update available: version 2</a>'
    assert badge in card
    other = mine[mine.index(f'href="/stories/{orla.story_id}/"'):]
    other = other[:other.index("</li>")]
    assert 'title="Kind">Character</span>' in other and "Update available" not in other
    assert f'href="{sync_url(orla)}">Sync with its source</a>' in other

    panel = page_of(as_bob.get(reverse("marketplace-story-fragment", args=[record.story_id])))
    assert "From the marketplace:" in panel and "Chapter set <a href" in panel and badge in panel
    assert "Forked from" not in panel


def test_sync_page_resolves_a_chapter_conflict(as_bob, alice, bob, tide_world, listings):
    record = chapter_set_behind(alice, bob, tide_world, listings["chapters"])
    page = page_of(as_bob.get(sync_url(record)))
    assert "Chapter set <a href" in page and "The sync goes chapter by chapter" in page
    synced = as_bob.post(sync_url(record), follow=True)
    (message,) = messages_of(synced)
    assert "0 changes applied automatically" in message and "1 conflict." in message
    page = page_of(synced)
    with acting_as(bob):
        conflict = SyncConflict.objects.get(fork_id=record.pk)
    assert (conflict.kind, conflict.key) == ("chapter", "2")
    article = page[page.index(f'id="conflict-{conflict.pk}"'):]
    article = article[:article.index("</article>")]
    assert "<h3" in article and ">Chapter 2 ‘The Harbour’</h3>" in article
    assert "your chapter stays, and the source&#x27;s is offered as a chapter suggestion" in article
    base, source, mine = (article.index(f'class="conflict-side side-{side}"') for side in ("base", "source", "mine"))
    # Each side reads as it is, the words it added to the version before marked.
    assert base < article.index("Wren arrives.") < source
    assert source < article.index('<ins class="addition">The author&#x27;s harbour</ins>.') < mine
    assert "Wren arrives" not in article[source:]  # a side shows its own text, not the one it replaced
    assert mine < article.index('<ins class="addition">Bob&#x27;s &lt;b&gt;harbour&lt;/b&gt;</ins>.')
    assert "<b>harbour</b>" not in page
    assert "Summary</dt>" in article and "other fields, the same on all three</summary>" in article and "title" in article

    resolved = as_bob.post(reverse("marketplace-sync-resolve", args=[record.pk, conflict.pk]), {"choice": "both", "ends_undo": "yes"},
                           follow=True)
    assert messages_of(resolved) == ["Chapter 2 ‘The Harbour’ keeps your version; the source's is offered as a chapter suggestion."]
    page = page_of(resolved)
    assert f'id="conflict-{conflict.pk}"' not in page and "No conflicts to resolve." in page
    assert "Resolved conflicts (1)" in page and "<strong>Chapter 2 ‘The Harbour’</strong>: kept both" in page
    with acting_as(bob):
        assert StoryChapter.objects.get(story_id=record.story_id, number=2).summary == "Bob's <b>harbour</b>."
        assert list(ChapterSuggestion.objects.filter(story_id=record.story_id).values_list("summary", flat=True)) == [
            "The author's harbour."]
    assert "Update available" not in page_of(as_bob.get(reverse("marketplace-forks")))


def test_world_conflicts_of_a_forked_story_are_labelled_by_kind_and_key(as_bob, alice, bob, tide_world, listings):
    record = forks.fork_create(user=bob, listing_id=listings["story"].pk)
    for user, story_id, text in ((bob, record.story_id, "Bob's harbour."), (alice, tide_world.pk, "The author's harbour.")):
        with acting_as(user):
            row = LoreEntry.objects.get(story_id=story_id, position=1)
            row.content = text
            chapter_lore.entry_save(row)
            Character.objects.filter(story_id=story_id, name="Orla").update(description=f"{text} A diver.")
    services.listing_publish(user=alice, story=tide_world, licence="CC-BY", changelog="Lore and Orla.")
    (message,) = messages_of(as_bob.post(sync_url(record), follow=True))
    assert "2 conflicts." in message
    page = page_of(as_bob.get(sync_url(record)))
    assert ">Lore entry ‘harbour’</h3>" in page and ">Character ‘Orla’</h3>" in page  # as the preview names them
    assert "the source&#x27;s is added beside it, switched off." in page
    assert "Content</dt>" in page and "Description</dt>" in page
    with acting_as(bob):
        entry_conflict = SyncConflict.objects.get(fork_id=record.pk, kind="loreentry")
    done = as_bob.post(reverse("marketplace-sync-resolve", args=[record.pk, entry_conflict.pk]), {"choice": "both", "ends_undo": "yes"},
                       follow=True)
    assert messages_of(done) == ["Lore entry ‘harbour’ keeps your version; the source's is beside it, switched off."]
    with acting_as(bob):
        assert list(LoreEntry.objects.filter(story_id=record.story_id, enabled=False).values_list(
            "content", flat=True)) == ["The author's harbour."]


def test_another_user_s_asset_fork_is_a_404(client, alice, bob, tide_world, listings):
    record = chapter_set_behind(alice, bob, tide_world, listings["chapters"])
    client.force_login(UserFactory(username="carol"))
    for url in (sync_url(record), reverse("marketplace-sync-progress", args=[record.pk])):
        assert client.get(url).status_code == 404, url
    assert client.post(sync_url(record)).status_code == 404
    with acting_as(bob):
        assert ForkRecord.objects.get(pk=record.pk).version == 1


def test_a_background_sync_shows_its_progress_and_blocks_sync_and_undo(as_bob, alice, bob, tide_world, listings, settings,
                                                                      django_capture_on_commit_callbacks):
    from marketplace.sync import fork_sync_run

    record = chapter_set_behind(alice, bob, tide_world, listings["chapters"])
    settings.SYNC_BACKGROUND_ITEMS = 0
    with django_capture_on_commit_callbacks(execute=False) as queued_tasks:
        started = as_bob.post(sync_url(record), follow=True)
    assert len(queued_tasks) == 1
    assert "runs in the background" in messages_of(started)[0]
    progress_url = reverse("marketplace-sync-progress", args=[record.pk])
    page = page_of(started)
    assert "Syncing in the background: 0 of 1" in page
    assert f'hx-get="{progress_url}" hx-trigger="every 1s"' in page and "vendor/htmx.min.js" in page
    assert f'<a href="{sync_url(record)}">Refresh</a>' in page
    assert re.search(r'<button type="button" disabled[^>]*>Sync now</button>', page)
    refused = as_bob.post(sync_url(record), follow=True)
    assert messages_of(refused) == ["This fork is being synced in the background; wait for it to finish."]
    undo = as_bob.post(reverse("marketplace-sync-undo", args=[record.pk]), follow=True)
    assert messages_of(undo) == ["This fork is being synced in the background; wait for it to finish."]
    fragment = as_bob.get(progress_url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<html" not in page_of(fragment) and "0 of 1" in page_of(fragment)

    with acting_as(bob):
        run = SyncRun.objects.get(fork_id=record.pk, status="queued")
    fork_sync_run(user_id=bob.pk, run_id=run.pk)
    finished = as_bob.get(progress_url, HTTP_HX_REQUEST="true")
    assert finished.status_code == 204 and finished["HX-Refresh"] == "true"
    assert as_bob.get(progress_url)["Location"] == sync_url(record)  # without JavaScript: the page
    page = page_of(as_bob.get(sync_url(record)))
    assert "Syncing in the background" not in page and ">Chapter 2 ‘The Harbour’</h3>" in page and "Undo the last sync" in page


def test_a_failed_background_sync_shows_its_error(as_bob, alice, bob, tide_world, listings):
    from marketplace.sync import fork_sync_run

    record = forks.fork_create(user=bob, listing_id=listings["story"].pk)
    with acting_as(bob):  # a version that does not exist
        run = SyncRun.objects.create(user_id=bob.pk, fork_id=record.pk, from_version=1, to_version=9,
                                     status=SyncRun.Status.QUEUED)
    fork_sync_run(user_id=bob.pk, run_id=run.pk)
    page = page_of(as_bob.get(sync_url(record)))
    assert "The background sync with version 9 failed, and nothing changed:" in page
    assert "Syncing in the background" not in page and "Your fork is up to date" in page


def test_beat_gives_up_every_users_lost_syncs_and_leaves_a_recent_one(alice, bob, tide_world, listings):
    """A queued sync no worker ran past twice the visibility timeout is failed by the periodic sweep (not only
    when its owner syncs again); one just queued is left to its worker."""
    from marketplace.sync import LOST_SYNC_ERROR, syncs_lost_sweep

    record = forks.fork_create(user=bob, listing_id=listings["story"].pk)
    with acting_as(bob):
        lost, recent = (SyncRun.objects.create(user_id=bob.pk, fork_id=record.pk, from_version=1, to_version=2,
                                               status=SyncRun.Status.QUEUED) for _ in range(2))
        SyncRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert syncs_lost_sweep() == 1
    with acting_as(bob):
        assert SyncRun.objects.get(pk=lost.pk).status == "failed"
        assert SyncRun.objects.get(pk=lost.pk).error == LOST_SYNC_ERROR
        assert SyncRun.objects.get(pk=recent.pk).status == "queued"
