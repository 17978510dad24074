"""Moderators (a group, not superusers) see the report queue in the admin and hide or restore
published stories; a hidden story leaves browse and cannot be newly forked, existing forks read on."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author, user_become_moderator
from marketplace import forks, services
from marketplace.models import Report
from narrative_pipeline import selectors
from narrative_pipeline.models import SnapshotSeries, Story

from ..factories import UserFactory, story_with_turns

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(alice):
    return services.listing_publish(user=alice, story=story_with_turns(alice, 4, title="Grey Harbour"), licence="CC-BY")


@pytest.fixture
def moderator(client):
    user = UserFactory(username="mod")
    user_become_moderator(user=user)
    client.force_login(user)
    return user


def test_reports_reach_the_moderators_queue_and_hiding_keeps_forks_working(client, moderator, listing, bob):
    fork = forks.fork_create(user=bob, listing_id=listing.pk)
    services.report_create(user=bob, listing=listing, reason="Spam in the opening.")
    services.report_create(user=UserFactory(), listing=listing, reason="Copied from elsewhere.")
    queue = client.get(reverse("admin:marketplace_report_changelist")).content.decode()
    assert "Spam in the opening." in queue and "Copied from elsewhere." in queue
    with acting_as(bob):
        reports = list(Report.objects.values_list("pk", flat=True))
    response = client.post(reverse("admin:marketplace_report_changelist"),
                           {"action": "hide_assets", "_selected_action": reports})
    assert response.status_code == 302
    with acting_as(bob):
        assert not selectors_browse_titles(bob)
        assert SnapshotSeries.objects.get(pk=listing.series_id).is_hidden  # Bob's fork still reads it
        story = Story.objects.get(pk=fork.story_id)
        assert selectors.story_turns(story=story).count() == 4
    with pytest.raises(PermissionDenied, match="hidden by the moderators"):
        forks.fork_create(user=bob, listing_id=listing.pk)
    client.post(reverse("admin:marketplace_listing_changelist"),
                {"action": "restore", "_selected_action": [listing.pk]})
    assert selectors_browse_titles(bob) == ["Grey Harbour"]


def selectors_browse_titles(user) -> list[str]:
    from marketplace.selectors import browse

    with acting_as(user):
        return [row.title for row in browse()]


def test_authors_and_players_cannot_moderate(client, listing, bob):
    services.report_create(user=bob, listing=listing, reason="Not for me.")
    author = UserFactory()
    user_become_author(user=author)
    client.force_login(author)
    assert client.get(reverse("admin:marketplace_report_changelist")).status_code == 403
    with acting_as(author):  # outside the moderators' requests, no flag: the update touches nothing
        assert SnapshotSeries.objects.filter(pk=listing.series_id).update(is_hidden=True) == 0
        assert not Report.objects.exists()


def test_make_moderator_command(capsys):
    from django.core.management import call_command

    user = UserFactory(username="newmod")
    call_command("make_moderator", "newmod")
    assert "newmod is a moderator." in capsys.readouterr().out
    user.refresh_from_db()
    with acting_as(user):
        assert user.is_staff and user.groups.filter(name="moderators").exists()
