"""A few of the secret scenarios (bench/secrets.py runs them all): no character briefed on what it does not
know, every reveal on its due turn, no secret in a passage before it; and the check sees a leak when one happens."""

import pytest

from chapters.knowledge import rules
from narrative_pipeline import secret_suite
from narrative_pipeline.agents import points_of_view

pytestmark = pytest.mark.django_db
SCENARIOS = secret_suite.scenarios_load()


def test_there_are_twenty_scenarios_with_several_characters_and_secrets_each():
    assert len(SCENARIOS) >= 20
    for scenario in SCENARIOS:
        assert len(scenario["cast"]) >= 3 and len(secret_suite._secrets(scenario)) >= 2, scenario["name"]


def test_a_few_scenarios_keep_every_secret_until_its_reveal(alice):
    result = secret_suite.suite_run(alice, [SCENARIOS[0], SCENARIOS[4], SCENARIOS[12]])
    assert (result.briefing_leaks, result.reveal_errors, result.passage_leaks, result.failed_turns) == ([], [], [], 0)
    assert result.reveals_on_time == result.reveals_due == 9 and result.blocks > result.briefings
    assert result.told_after_reveal >= 2  # revealed lore is told: the passage check can see a secret


def test_the_suite_sees_a_briefing_that_leaks(alice, monkeypatch):
    monkeypatch.setattr(points_of_view, "lore_told", lambda notes, knowledge: notes)  # secrets no longer withheld
    monkeypatch.setattr(rules, "knows", lambda fact, member: True)
    result = secret_suite.suite_run(alice, [SCENARIOS[0]])
    assert result.briefing_leaks and result.passage_leaks


def test_a_chapter_beat_reveals_its_secret_on_the_turn_that_tells_the_beat(alice):
    toll = next(scenario for scenario in SCENARIOS if scenario["name"] == "The toll bridge")
    result = secret_suite.suite_run(alice, [toll])
    assert (result.briefing_leaks, result.reveal_errors, result.passage_leaks, result.failed_turns) == ([], [], [], 0)
    assert result.reveals_on_time == result.reveals_due == 4
