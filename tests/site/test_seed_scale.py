"""`manage.py seed_scale`: the counts asked for, each user's rows their own under RLS, a second run adds nothing."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Usage, User
from accounts.rls import acting_as
from chapters.models import StoryChapter
from marketplace.models import ForkRecord
from narrative_pipeline.models import Story, Turn


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True


def _seed(users: int = 2) -> None:
    call_command("seed_scale", users=users, stories=2, turns=3, stdout=StringIO())


def test_each_user_gets_stories_turns_chapters_and_a_fork_seen_only_by_them(db):
    _seed()
    first, second = User.objects.filter(username__startswith="scale-0").order_by("username")
    for user in (first, second):
        with acting_as(user):
            stories = Story.objects.all()
            assert stories.count() == 2  # one of their own, one fork
            assert {story.user_id for story in stories} == {user.pk}
            assert Turn.objects.count() == 3  # the fork reads its 3 from the published version
            assert StoryChapter.objects.count() == 2 + 2  # its own story's and the fork's copy
            (fork,) = ForkRecord.objects.all()
            assert fork.at_turn == 3
            usage = Usage.objects.get()
            assert usage.story_count == 2 and usage.storage_bytes > 0
    with acting_as(first):
        assert not Story.objects.filter(user_id=second.pk).exists()
        assert not Turn.objects.filter(user_id=second.pk).exists()


def test_a_second_run_adds_only_the_users_missing(db):
    _seed(users=1)
    _seed(users=2)
    _seed(users=2)
    assert User.objects.filter(username__startswith="scale-0").count() == 2
    for user in User.objects.filter(username__startswith="scale-0"):
        with acting_as(user):
            assert Story.objects.count() == 2


def test_it_refuses_without_debug_for_its_users_share_a_known_password(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        _seed()
    assert not User.objects.filter(username__startswith="scale-").exists()
