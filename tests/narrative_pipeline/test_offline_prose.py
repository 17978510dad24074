"""The offline narrator reads like prose: verbs inflected right, no sentence told twice, the player's
action never pasted back, card syntax rendered; and the same request always gives the same passage."""

import itertools
import json
import re

import pytest

from narrative_pipeline.inflection import past, third_person
from narrative_pipeline.llm import LLMRequest
from narrative_pipeline.llm.offline import OfflineProvider

SUBJECTS = ["I ", "", "*I ", "{{user}} "]
DEEDS = ["surface, gasping", "grab the rope and pull", "stop and listen", "carry the lantern to the cove",
         "plan the escape, then run", "drop my sword", "admit the truth to {{char}}", "open the door and step in",
         "slowly climb the stairs", "ask {{char}} where the ship sank", "say \"who goes there?\"",
         "hide behind the barrels and wait", "panic", "try the handle", "go back to the lighthouse",
         "hug {{char}} and cry", "shrug*", "fix the net and hum a song", "can't move", "whisper a prayer"]
CASTS = [("Ada", "The Stranger"), (None, "Captain Voss")]
ACTIONS = [subject + deed + end for subject, deed, end in itertools.product(SUBJECTS, DEEDS, [".", "!"])]
BROKEN = re.compile(r"\w,ed\b|\b(?:grabed|stoped|planed|droped|admited|hopeed|surfaceed|carryed|tryed|"
                    r"panicd|steped|huged|shruged|gos|carrys|trys|grabbs|stopps)\b", re.I)


def passage(action: str, player: str | None, other: str, lore: str = "") -> str:
    characters = [{"name": other, "is_player": False}] + ([{"name": player, "is_player": True}] if player else [])
    briefing = {"action": action, "genre": "mystery", "characters": characters,
                "state": {"location": "the lighthouse", "present_characters": [other]},
                "lore": [{"reason": "key: bell", "content": lore, "title": "Bell"}] if lore else []}
    provider = OfflineProvider()
    plan = json.loads(provider.complete(LLMRequest(agent="strategist", messages=[],
                                                   payload={"task": "plan", "briefing": briefing})).text)
    return provider.complete(LLMRequest(agent="writer", messages=[],
                                        payload={"task": "write", "template": plan, "briefing": briefing})).text


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.replace("\n\n", " ")) if s]


@pytest.mark.parametrize(("player", "other"), CASTS)
def test_passages_from_many_actions_read_like_prose(player, other):
    for action in ACTIONS:
        text = passage(action, player, other, lore="{{char}} rang the *old* bell for {{user}}.")
        assert not BROKEN.search(text), (action, text)
        told = sentences(text)
        assert len(told) == len(set(told)), (action, text)
        assert "{{" not in text and "}}" not in text and "*" not in text, (action, text)
        assert "<USER>" not in text and "<BOT>" not in text
        deed = action.strip("*. !").removeprefix("I ").removeprefix("*I ")
        if '"' in deed or "can't" in deed:  # dialogue and a refusal are never pasted back
            assert deed not in text and "who goes there" not in text.lower(), (action, text)


def test_coordinated_verbs_are_all_inflected():
    assert "Ada grabs the rope and pulls" in passage("I grab the rope and pull.", "Ada", "The Stranger")
    assert "Ada surfaces, gasping" in passage("I surface, gasping.", "Ada", "The Stranger")
    assert "you grab the rope and pull" in passage("I grab the rope and pull.", None, "The Stranger").lower()


def test_card_syntax_is_rendered_with_the_story_s_names():
    text = passage("I ask {{char}} about the bell.", "Ada", "The Stranger", lore="{{char}} rang it for {{user}}.")
    assert "The Stranger rang it for Ada." in text and "Ada asks The Stranger about the bell" in text


def test_the_same_request_gives_the_same_passage():
    for action in ACTIONS[:40]:
        assert passage(action, "Ada", "The Stranger") == passage(action, "Ada", "The Stranger")


@pytest.mark.parametrize(("verb", "expected"), [
    ("grab", "grabbed"), ("stop", "stopped"), ("surface", "surfaced"), ("carry", "carried"), ("play", "played"),
    ("open", "opened"), ("admit", "admitted"), ("visit", "visited"), ("fix", "fixed"), ("show", "showed"),
    ("go", "went"), ("run", "ran"), ("take", "took"), ("panic", "panicked"), ("look", "looked"), ("hop", "hopped"),
    ("rain", "rained"), ("Grab", "Grabbed"),
])
def test_past_tense(verb, expected):
    assert past(verb) == expected


@pytest.mark.parametrize(("verb", "expected"), [
    ("grab", "grabs"), ("reach", "reaches"), ("carry", "carries"), ("play", "plays"), ("go", "goes"),
    ("have", "has"), ("fix", "fixes"), ("wish", "wishes"), ("surface", "surfaces"),
])
def test_present_tense_after_a_name(verb, expected):
    assert third_person(verb) == expected
