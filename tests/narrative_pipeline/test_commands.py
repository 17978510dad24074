import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from accounts.models import Usage, User
from accounts.rls import acting_as
from accounts.services import user_owned_models
from marketplace.models import Listing
from narrative_pipeline.models import Story


@pytest.mark.django_db
def test_demo_data_gives_each_demo_player_rows_and_is_repeatable(client):
    call_command("demo_data")
    call_command("demo_data")
    for username in ("demo", "demo2"):
        user = User.objects.get(username=username)
        assert client.post("/api/auth/token/", {"username": username, "password": "demo-password"},
                           content_type="application/json").status_code == 200
        with acting_as(user):
            assert Story.objects.count() == 1
            assert Usage.objects.get().story_count == 1
    with acting_as(user):  # demo2 finds demo's story, its chapters and a character in the marketplace
        assert sorted(Listing.objects.values_list("kind", flat=True)) == ["chapters", "character", "story"]


@pytest.mark.django_db(transaction=True)
def test_dbshell_is_the_owner_and_sees_no_user_rows(capfd):
    from ..factories import StoryFactory

    StoryFactory()
    call_command("dbshell", "--", "-At", "-c",
                 "select current_user, (select rolsuper from pg_roles where rolname = current_user), "
                 "(select count(*) from narrative_pipeline_story)")
    assert capfd.readouterr().out.strip() == "luna|f|0"


def test_models_module_declares_every_user_owned_table():
    assert {model._meta.label for model in user_owned_models()} >= {"accounts.Usage", "narrative_pipeline.Story"}


def test_manage_check_passes():
    # The browser tests' async-unsafe switch is theirs alone, not a deployment's.
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_play_plays_scripted_turns(capsys):
    from ..factories import StoryFactory, UserFactory

    user = UserFactory()
    story = StoryFactory(user=user)
    call_command("play", "--user", user.username, "--story", str(story.pk), "--turns", "3")
    assert "Played 3 turns" in capsys.readouterr().out
    with acting_as(user):
        assert list(story.turns.values_list("number", "status")) == [(1, "completed"), (2, "completed"),
                                                                    (3, "completed")]


@pytest.mark.django_db
def test_play_refuses_another_users_story(alice, bob_story):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="has no story"):
        call_command("play", "--user", "alice", "--story", str(bob_story.pk), "--turns", "1")
