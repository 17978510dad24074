"""Co-authors: an owner shares one story; view-only reads it, edit also changes its chapters;
the database itself enforces it (RLS collaborator policies), and the admin follows."""

import pytest
from django.db import connection, transaction
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters.models import StoryChapter
from narrative_pipeline.services import collaborator_add

from ..conftest import as_app_role
from ..factories import StoryFactory, UserFactory, admin_import

pytestmark = pytest.mark.django_db
TEXT = "‹chapter-1› The Summons\nlocation: harbour\nbeats:\n- [high] A seal arrives\n\nOpen with a summons.\n"


@pytest.fixture
def shared(alice, client):
    user_become_author(user=alice)
    story = StoryFactory(user=alice, title="Alice's shared tale")
    client.force_login(alice)
    admin_import(client, story, "c.txt", TEXT.encode())
    client.logout()
    return story


def coauthor(client, alice, story, role):
    user = UserFactory()
    user_become_author(user=user)
    collaborator_add(owner=alice, story=story, username=user.username, role=role)
    client.force_login(user)
    return user


def test_view_only_coauthor_reads_but_cannot_change(client, alice, shared):
    bob = coauthor(client, alice, shared, "view")
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=shared)
    assert "Alice&#x27;s shared tale" in client.get(reverse("admin:narrative_pipeline_story_changelist")).content.decode()
    page = client.get(reverse("admin:chapters_storychapter_change", args=[chapter.pk]))
    assert page.status_code == 200 and "The Summons" in page.content.decode() and 'name="_save"' not in page.content.decode()
    assert "location: harbour" in page.content.decode()  # the whole chapter, read as text
    refused = client.post(reverse("admin:chapters_storychapter_change", args=[chapter.pk]), {"title": "Mine now"})
    assert refused.status_code == 403
    with connection.cursor() as cursor, transaction.atomic():
        as_app_role(cursor, bob.pk)
        cursor.execute("SELECT title FROM chapters_storychapter")
        assert cursor.fetchall() == [("The Summons",)]
        cursor.execute("UPDATE chapters_storychapter SET title = 'x'")
        assert cursor.rowcount == 0
        cursor.execute("SELECT count(*) FROM narrative_pipeline_story")
        assert cursor.fetchone()[0] == 1


def test_editing_coauthor_changes_a_chapter_as_a_new_version(client, alice, shared):
    coauthor(client, alice, shared, "edit")
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=shared)
    form = {"story": str(shared.pk), "number": "1", "title": "The Summons", "description": "", "summary": "",
            "locations": "harbour", "critical_character_present": "on", "narrative_instructions": "Open with thunder.",
            "suggested_beats-0-beat": "A seal arrives", "suggested_beats-0-priority": "high",
            "allow_divergence": "on", "min_similarity_threshold": "0.4", "visibility": "shown"}
    response = client.post(reverse("admin:chapters_storychapter_change", args=[chapter.pk]), form)
    assert response.status_code == 302, response.content.decode()[:1500]
    with acting_as(alice):
        chapter.refresh_from_db()
        assert chapter.narrative_instructions == "Open with thunder." and chapter.versions.count() == 2
        assert chapter.user_id == alice.pk  # the owner still owns it


def test_strangers_see_nothing_and_only_owners_share(client, alice, shared):
    carol = UserFactory()
    user_become_author(user=carol)
    client.force_login(carol)
    assert "Alice" not in client.get(reverse("admin:narrative_pipeline_story_changelist")).content.decode()
    assert client.get(reverse("admin:story-share", args=[shared.pk])).status_code == 404
    with connection.cursor() as cursor, transaction.atomic():
        as_app_role(cursor, carol.pk)
        cursor.execute("SELECT count(*) FROM chapters_storychapter")
        assert cursor.fetchone()[0] == 0


def test_share_form_errors(client, alice, shared):
    client.force_login(alice)
    page = client.post(reverse("admin:story-share", args=[shared.pk]), {"username": "nobody-here", "role": "view"})
    assert "There is no active account named" in page.content.decode()
    page = client.post(reverse("admin:story-share", args=[shared.pk]), {"username": "alice", "role": "edit"})
    assert "You own this story already." in page.content.decode()


def test_removing_a_coauthor_ends_access(client, alice, shared):
    bob = coauthor(client, alice, shared, "view")
    client.force_login(alice)
    from narrative_pipeline.models import StoryCollaborator

    with acting_as(alice):
        grant = StoryCollaborator.objects.get(story=shared)
    client.post(reverse("admin:story-share", args=[shared.pk]), {"remove": grant.pk})
    with connection.cursor() as cursor, transaction.atomic():
        as_app_role(cursor, bob.pk)
        cursor.execute("SELECT count(*) FROM narrative_pipeline_story")
        assert cursor.fetchone()[0] == 0
    assert not bob.has_perm("narrative_pipeline.view_story", shared)
