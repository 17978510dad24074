"""`make run` starts whatever the model settings: the demo is written by the offline narrator, and
pages say plainly when the configured model server does not answer or no model is connected."""

import socket

import pytest
from django.core.management import call_command

from accounts.models import User
from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, Turn


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable_model(settings, closed_port):
    settings.LLM_PROVIDER = "openai"
    settings.LLM_MODEL = "some-local-model"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{closed_port}/v1"
    settings.LLM_MAX_RETRIES = 0
    return settings


@pytest.mark.django_db
def test_the_demo_is_written_by_the_offline_narrator_when_the_model_server_is_unreachable(unreachable_model):
    call_command("demo_data")
    for username in ("demo", "demo2"):
        with acting_as(User.objects.get(username=username)):
            turns = Turn.objects.order_by("number")
            assert [turn.status for turn in turns] == ["completed", "completed"]
            assert all(turn.prose for turn in turns)
            providers = set(AgentCall.objects.exclude(provider="local").values_list("provider", flat=True))
            assert providers == {"offline"}


UNREACHABLE_NOTICE = "The model server cannot be reached"
OFFLINE_NOTICE = "No model connected — stories are written by the offline narrator."


@pytest.mark.django_db
def test_story_pages_say_when_the_model_server_is_unreachable(client, alice, unreachable_model):
    from ..factories import StoryFactory

    story = StoryFactory(user=alice)
    client.force_login(alice)
    for url in ("/stories/", f"/stories/{story.pk}/"):
        page = client.get(url).content.decode()
        assert UNREACHABLE_NOTICE in page and "retry" in page
        assert OFFLINE_NOTICE not in page


@pytest.mark.django_db
def test_story_pages_say_when_stories_are_on_the_offline_narrator(client, alice, settings):
    from ..factories import StoryFactory

    settings.LLM_PROVIDER = "offline"
    story = StoryFactory(user=alice)
    client.force_login(alice)
    for url in ("/stories/", f"/stories/{story.pk}/"):
        page = client.get(url).content.decode()
        assert OFFLINE_NOTICE in page and UNREACHABLE_NOTICE not in page


@pytest.mark.django_db
def test_a_model_server_that_answers_gets_no_notice(client, alice, openai_server, settings):
    from ..factories import StoryFactory

    story = StoryFactory(user=alice)
    client.force_login(alice)
    page = client.get(f"/stories/{story.pk}/").content.decode()
    assert "model-notice" not in page


@pytest.mark.django_db(transaction=True)
def test_a_turn_on_an_unreachable_server_keeps_the_action_and_offers_retry(client, alice, unreachable_model):
    from ..factories import StoryFactory

    story = StoryFactory(user=alice)
    client.force_login(alice)
    page = client.post(f"/stories/{story.pk}/play/", {"action": "I light the lamp.", "idempotency_key": "k1"},
                       follow=True).content.decode()
    assert "I light the lamp." in page and "This passage could not be written" in page
    assert f'action="/stories/{story.pk}/turns/1/retry/"' in page
    with acting_as(alice):
        assert Turn.objects.get().status == "failed"
