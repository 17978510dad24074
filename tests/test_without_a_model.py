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
