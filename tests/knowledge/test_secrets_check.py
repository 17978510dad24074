"""``manage.py secrets_check`` measures a model's leak rate on the secret scenarios (against the fake server),
changes nothing in the database, and refuses a connection that does not exist."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from narrative_pipeline.models import Story
from narrative_pipeline.secret_suite import scenarios_load

from .. import fake_openai as fake

pytestmark = pytest.mark.django_db
PLAN = '{"beats": [{"beat": "The square waits", "priority": "high"}]}'


def test_a_model_that_states_a_secret_early_gets_its_leak_rate(openai_server):
    bell = scenarios_load()[0]["secrets"][0]["fact"]  # due at turn 3
    replies = [fake.ok(PLAN), fake.stream([f"Orla whispers: {bell}."])]
    for number in range(2, 6):
        replies += [fake.ok(PLAN), fake.stream([f"Turn {number} passes quietly."])]
    openai_server.script(*replies)
    out = StringIO()
    call_command("secrets_check", "--provider", "default", "--model", "fake-model", "--limit", "1", stdout=out)
    report = out.getvalue()
    assert "Model: default fake-model" in report
    assert "Briefings telling a character what it does not know: 0" in report
    assert "Reveals on their turn: 3 / 3" in report
    assert "Passages stating a secret before its reveal: 1 of 4 (leak rate 25.0%)" in report
    assert "The bell tower turn 1: the passage states" in report
    assert not Story.objects.exists() and not User.objects.filter(username__startswith="secrets-check").exists()


def test_an_unknown_connection_is_refused():
    with pytest.raises(CommandError, match="Cannot run the suite"):
        call_command("secrets_check", "--provider", "nowhere", "--model", "x", stdout=StringIO())
