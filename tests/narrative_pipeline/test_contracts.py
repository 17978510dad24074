"""The writers' room's contracts and pure logic, without a database."""

import pytest
from pydantic import ValidationError

from narrative_pipeline.agents.structured import NoValidObject, parse_plan
from narrative_pipeline.contracts import ResponseTemplate, StateUpdates, StoryState, StrategistBriefing
from narrative_pipeline.llm import LLMRequest
from narrative_pipeline.llm.offline import OfflineProvider
from narrative_pipeline.orchestrator import TurnRefused, clean_action
from narrative_pipeline.state import next_state

BRIEFING = StrategistBriefing(title="The Pass", genre="fantasy", state=StoryState(location="the Pass of Ash"),
                              turn_number=3, action="I walk to the old bridge and take the rope",
                              characters=[{"name": "Ilse", "is_player": True}, {"name": "The Ferryman"}])


class TestResponseTemplate:
    def test_valid_plan(self):
        template = ResponseTemplate.model_validate({"beats": [{"beat": "The bridge sways"}], "pacing": "brisk"})
        assert template.beats[0].priority == "medium" and template.target_length == 180

    @pytest.mark.parametrize("bad", [
        {"beats": []},
        {"beats": [{"beat": ""}]},
        {"beats": [{"beat": "x", "priority": "urgent"}]},
        {"beats": [{"beat": "x"}], "pacing": "glacial"},
        {"beats": [{"beat": "x"}], "target_length": 5},
        {"beats": "not a list"},
    ])
    def test_invalid_plans_are_rejected(self, bad):
        with pytest.raises(ValidationError):
            ResponseTemplate.model_validate(bad)

    def test_parse_finds_json_inside_prose_and_fences(self):
        text = 'Here is the plan:\n```json\n{"beats": [{"beat": "A gull cries"}]}\n```'
        assert parse_plan(text).beats[0].beat == "A gull cries"

    def test_parse_rejects_non_json(self):
        with pytest.raises(NoValidObject):
            parse_plan("I would rather write a poem.")


class TestState:
    def test_updates_and_names_in_the_prose(self):
        state = StoryState(location="the Pass", inventory=["letter"], flags=["night"])
        updated = next_state(state, cast=["Ilse", "The Ferryman", "Orla"], player="Ilse",
                             action="I call for the ferryman", prose="The Ferryman steps out of the fog.",
                             updates=StateUpdates(location="the river", items_gained=["rope"], items_lost=["LETTER"],
                                                  flags_cleared=["night"], flags_set=["crossing"]))
        assert updated == StoryState(location="the river", present_characters=["The Ferryman"], inventory=["rope"],
                                     flags=["crossing"])

    def test_names_match_whole_words_only(self):
        updated = next_state(StoryState(), cast=["Al"], player=None, action="I walk along the wall",
                             prose="Alone, I wait.", updates=StateUpdates())
        assert updated.present_characters == []

    def test_leaving_removes_and_no_duplicates(self):
        updated = next_state(StoryState(present_characters=["Orla"]), cast=["Orla"], player=None, action="",
                             prose="Orla nods. Orla leaves.", updates=StateUpdates(characters_leaving=["orla"]))
        assert updated.present_characters == []


class TestActions:
    @pytest.mark.parametrize("action", ["", "   ", "x" * 4001, "bell\x07", "null\x00byte", None, 42])
    def test_bad_actions_are_refused(self, action):
        with pytest.raises(TurnRefused) as refused:
            clean_action(action)
        assert refused.value.code == "invalid" and refused.value.message

    def test_newlines_and_unicode_are_fine(self):
        assert clean_action("  Je dis « bonjour »\r\nto the ферзь 🐉 ") == "Je dis « bonjour »\nto the ферзь 🐉"


class TestOfflineNarrator:
    def plan(self) -> ResponseTemplate:
        request = LLMRequest(agent="strategist", messages=[], payload={"task": "plan", "briefing": BRIEFING.model_dump()})
        return parse_plan(OfflineProvider().complete(request).text)

    def write(self, attempt: int) -> str:
        payload = {"task": "write", "template": self.plan().model_dump(), "briefing": BRIEFING.model_dump(),
                   "attempt": attempt}
        return OfflineProvider().complete(LLMRequest(agent="writer", messages=[], payload=payload)).text

    def test_plans_are_valid_and_read_the_action(self):
        plan = self.plan()
        assert plan.state_updates.location == "the old bridge"
        assert plan.state_updates.items_gained == ["rope"]
        assert plan.beats[0].priority == "high"

    def test_deterministic_but_a_reroll_differs(self):
        assert self.write(0) == self.write(0)
        assert self.write(0) != self.write(1)

    def test_prose_uses_the_storys_names(self):
        prose = " ".join(self.write(attempt) for attempt in range(5))
        assert "Ilse" in prose and "The Ferryman" in prose and "old bridge" in prose

    def test_streaming_gives_the_same_text(self):
        payload = {"task": "write", "template": self.plan().model_dump(), "briefing": BRIEFING.model_dump()}
        pieces = list(OfflineProvider().stream(LLMRequest(agent="writer", messages=[], payload=payload)))
        assert "".join(pieces[:-1]) == pieces[-1].text and pieces[-1].completion_tokens > 0

    def test_briefing_size_is_about_a_token_per_four_characters(self):
        longer = BRIEFING.model_copy(update={"memory": "x" * 4_000})
        assert longer.size() - BRIEFING.size() == pytest.approx(1_000, abs=2)
