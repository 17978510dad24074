"""Structured output from real models: the lenient parser on its own (no database), then whole turns against
a fake server that answers as real models and servers do — every quirk costs no repair call."""

import contextlib
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.rls import acting_as
from narrative_pipeline.agents.structured import NoValidObject, parse_object, parse_plan
from narrative_pipeline.contracts import ResponseTemplate
from narrative_pipeline.llm import LLMError, LLMRequest
from narrative_pipeline.llm import openai_compatible as openai_module
from narrative_pipeline.llm.openai_compatible import OpenAICompatibleProvider
from narrative_pipeline.llm.reasoning import reasoning_split, visible_and_unclosed
from narrative_pipeline.models import Turn

from .. import fake_openai as fake
from ..factories import StoryFactory

EXPECTED = ResponseTemplate.model_validate(fake.QUIRKY_PLAN)


class TestTheParser:
    @pytest.mark.parametrize("quirk", sorted(fake.QUIRKY_PLANS))
    def test_each_quirk_reads_as_the_plan_meant(self, quirk):
        assert parse_plan(fake.QUIRKY_PLANS[quirk]) == EXPECTED

    def test_prose_braces_that_pair_up_around_the_object_do_not_hide_it(self):
        text = 'I chose "brisk" }{ pacing.\n{"beats": ["Inside"]}\nI chose "brisk" }{ pacing.'
        assert parse_plan(text).beats[0].beat == "Inside"

    def test_a_greedy_regex_would_have_swallowed_the_prose_between_two_objects(self):
        text = '{"beats": ["draft"]} On reflection, a better plan: {"beats": ["The final beat"]} Done {ok}.'
        assert parse_plan(text).beats[0].beat == "The final beat"

    def test_the_last_object_that_validates_wins_over_a_later_invalid_one(self):
        text = '{"beats": ["Kept"]} and an example of the format: {"beats": []}'
        assert parse_plan(text).beats[0].beat == "Kept"

    def test_braces_inside_strings_do_not_end_the_object(self):
        text = '{"beats": [{"description": "He draws } and { in the sand \\" still"}], "tone": "odd"} tail }'
        assert parse_plan(text).beats[0].beat == 'He draws } and { in the sand " still'

    def test_reasoning_is_not_read_when_the_answer_holds_a_plan(self):
        text = '<Thinking>{"beats": ["Reasoned draft"]}</Thinking><reasoning>{"beats": ["x"]}</reasoning>{"beats": ["Answer"]}'
        assert parse_plan(text).beats[0].beat == "Answer"

    def test_an_unclosed_reasoning_block_is_read_only_when_nothing_else_is_there(self):
        assert parse_plan('<think>I will plan {"beats": ["Cut off mid-thought"]} and then').beats[0].beat \
            == "Cut off mid-thought"
        assert parse_plan('{"beats": ["Outside"]}\n<think>{"beats": ["Inside"]}').beats[0].beat == "Outside"

    @pytest.mark.parametrize(("pacing", "read"), [("Fast-paced", "brisk"), ("very slow", "slow"),
                                                  ("FRANTIC", "urgent"), ("steady", "measured"),
                                                  ("wibbly", "measured")])
    def test_pacing_words(self, pacing, read):
        assert parse_plan(json.dumps({"beats": ["x"], "pacing": pacing})).pacing == read

    @pytest.mark.parametrize(("length", "read"), [("150-200 words", 175), (160.4, 160), ("5000", 1_200),
                                                  ("short", 180), (None, 180)])
    def test_lengths(self, length, read):
        assert parse_plan(json.dumps({"beats": ["x"], "target_length": length})).target_length == read

    def test_wrapped_plans_nulls_and_loose_state_updates_are_read(self):
        text = json.dumps({"plan": {"Beats": [{"beat": "A door", "importance": "Must"}], "Tone": ["grim", "cold"],
                                    "State Updates": {"flags_set": "door_open", "location": None, "mood": "x"},
                                    "chapter_beats_addressed": "Find the door"}})
        plan = parse_plan(text)
        assert plan.beats[0].beat == "A door" and plan.beats[0].priority == "high"
        assert plan.tone == "grim, cold" and plan.state_updates.flags_set == ["door_open"]
        assert plan.chapter_beats_addressed == ["Find the door"]

    @pytest.mark.parametrize("unfixable", ["I would rather write a poem.", '{"beats": []}', '{"tone": "grim"}',
                                           '{"beats": [{"priority": "high"}]}', "{not json at all}"])
    def test_what_no_reading_can_fix_is_refused_with_a_reason(self, unfixable):
        with pytest.raises(NoValidObject):
            parse_plan(unfixable)

    def test_dreamer_objects_are_read_the_same_way(self):
        answer = ('<think>{"title": "draft"}</think>```json\n{"Title": "The Drowned Bell", '
                  '"suggested_beats": ["The bell rings", {"text": "Hale listens", "priority": "Low"}],}\n```')
        data = parse_object(answer, required="title")
        assert data["title"] == "The Drowned Bell"
        assert data["suggested_beats"] == [{"beat": "The bell rings", "priority": "high"},
                                           {"beat": "Hale listens", "priority": "low"}]
        with pytest.raises(NoValidObject):
            parse_object('{"summary": "no title"}', required="title")


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40).filter(
    str.strip)
PLANS = st.builds(
    lambda beats, tone, pacing, length, flags: {"beats": beats, "tone": tone, "pacing": pacing,
                                                "target_length": length, "state_updates": {"flags_set": flags}},
    st.lists(st.fixed_dictionaries({"beat": TEXT, "priority": st.sampled_from(["high", "medium", "low"])}),
             min_size=1, max_size=8),
    TEXT, st.sampled_from(["slow", "measured", "brisk", "urgent"]), st.integers(40, 1_200), st.lists(TEXT, max_size=3))
# Prose a model puts around its answer: braces, quotes and tags that are not reasoning included.
PROSE = st.sampled_from(["", "Here is the plan:", "Sure! {as asked}", 'I chose "brisk" }{ pacing.', "<b>Plan</b>",
                         "Note: keep {tone} consistent.", "Done.\n\n"])
REASONING = st.builds(lambda tag, inner: f"<{tag}>{inner}</{tag}>",
                      st.sampled_from(["think", "THINK", "thinking", "reasoning"]),
                      st.sampled_from(["", 'draft {"beats": [{"description": "draft"}]}', "hmm { unbalanced",
                                       "}{ odd", "Let me think about the pacing."]))


@settings(max_examples=50, deadline=None)
@given(plan=PLANS, before=st.lists(st.one_of(PROSE, REASONING), max_size=3), after=PROSE,
       fenced=st.booleans(), indent=st.sampled_from([None, 2]))
def test_any_valid_plan_wrapped_in_fences_prose_and_reasoning_parses_to_the_same_plan(plan, before, after, fenced,
                                                                                       indent):
    body = json.dumps(plan, indent=indent, ensure_ascii=False)
    answer = "\n".join([*before, f"```json\n{body}\n```" if fenced else body, after])
    assert parse_plan(answer) == ResponseTemplate.model_validate(plan)


def plan_read(answer: str) -> str:
    try:
        return parse_plan(answer).beats[0].beat
    except NoValidObject:
        return "refused"


# Tags as models and chat templates leave them: closing tags with no opening one, tags that only look like ours.
TAGGED = st.lists(st.sampled_from(["<think>", "</think>", "<THINKING>", "</thinking>", "<reasoning>", "</reasoning>",
                                   "<think foo>", "</think >", '{"beats": ["A"]}', '{"beats": ["B"]}', "{", "}",
                                   "Prose {x}. ", "\n"]), max_size=8).map("".join)


@settings(max_examples=200, deadline=None)
@given(answer=TAGGED.filter(lambda answer: not visible_and_unclosed(answer)[1]))
def test_the_parser_reads_reasoning_by_the_rule_every_completion_is_cleaned_with(answer):
    # Every completion reaches an agent already cleaned (calls.py); reading the raw answer must agree with that.
    assert plan_read(answer) == plan_read(reasoning_split(answer)[0])


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.sampled_from(["beats", "Beats", "pacing", "tone", "target_length",
                                                              "state_updates", "description", "priority", "plan",
                                                              "flags_set", "location", "x"]), children, max_size=5),
                           max_leaves=20)


@settings(max_examples=50, deadline=None)
@given(value=JSON_VALUES, noise=st.text(max_size=60))
def test_whatever_a_model_answers_the_parser_returns_a_plan_or_refuses_it(value, noise):
    for answer in (json.dumps(value), noise + json.dumps(value) + noise, noise):
        with contextlib.suppress(NoValidObject):
            assert isinstance(parse_plan(answer), ResponseTemplate)


def test_a_degenerate_answer_is_read_in_linear_time():
    for degenerate in ("{" * 200_000 + '"beats" "x"' + "}" * 10, '{"a":' * 50_000 + "1" + "}" * 50_000,
                       '"{' * 50_000):
        with pytest.raises(NoValidObject):
            parse_plan(degenerate)
    assert parse_plan('{"beats": ["x"], "target_length": 1e999}').target_length == 180


@pytest.fixture
def server():
    with fake.FakeOpenAI() as running:
        yield running


def provider(server, **options):
    return OpenAICompatibleProvider("test-model", base_url=server.base_url, api_key="sk-test",
                                    **{"timeout": 2, "max_retries": 1, "backoff": 0, **options})


PLAN_REQUEST = LLMRequest(agent="strategist", messages=[{"role": "user", "content": "Plan."}], json_mode=True,
                          contract=ResponseTemplate)


class TestTheRequestOptions:
    def test_a_contract_asks_for_json_schema_structured_output(self, server):
        server.script(fake.ok('{"beats": ["x"]}'))
        provider(server).complete(PLAN_REQUEST)
        response_format = server.requests[0]["body"]["response_format"]
        assert response_format["type"] == "json_schema"
        assert response_format["json_schema"]["name"] == "ResponseTemplate"
        assert response_format["json_schema"]["strict"] is False
        assert response_format["json_schema"]["schema"] == ResponseTemplate.model_json_schema()

    def test_a_400_for_another_reason_is_not_taken_for_a_refusal(self, server):
        server.script(*[fake.status(400)] * 4, fake.ok('{"beats": ["x"]}'))
        with pytest.raises(LLMError, match=r"HTTP 400\)\."):
            provider(server).complete(PLAN_REQUEST)
        # json_schema, json_object, no response format, no cache_prompt either: then it is the request itself
        assert len(server.requests) == 4
        provider(server).complete(PLAN_REQUEST)
        assert server.requests[-1]["body"]["response_format"]["type"] == "json_schema"  # nothing was remembered

    def test_retry_after_is_honoured_and_capped(self, server, monkeypatch):
        pauses = []
        monkeypatch.setattr(openai_module.time, "sleep", pauses.append)
        server.script(fake.status(429, retry_after="3600"), fake.ok("A"),
                      fake.status(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"), fake.ok("B"))
        assert provider(server, backoff=5).complete(PLAN_REQUEST).text == "A"
        assert provider(server, backoff=5).complete(PLAN_REQUEST).text == "B"
        assert pauses == [openai_module.RETRY_AFTER_CAP_SECONDS, 0.0]  # a date in the past: at once


@pytest.mark.django_db
class TestTurnsAgainstRealModelQuirks:
    @pytest.fixture
    def story(self, alice):
        return StoryFactory(user=alice, state={"location": "the harbour"},
                            characters=[{"name": "Wren", "is_player": True}, {"name": "Hale"}])

    def play(self, api, story):
        return api.post(f"/api/stories/{story.pk}/turns/", {"action": "I ask Hale about the light.",
                                                            "idempotency_key": uuid.uuid4().hex},
                        content_type="application/json").json()

    @pytest.mark.parametrize("quirk", sorted(fake.QUIRKY_PLANS))
    def test_each_quirk_completes_the_turn_without_a_repair_call(self, api_as, alice, story, openai_server, quirk):
        openai_server.script(fake.ok(fake.QUIRKY_PLANS[quirk]), fake.stream(["The light ", "gutters."]))
        turn = self.play(api_as(alice), story)
        assert turn["status"] == "completed" and turn["prose"] == "The light gutters."
        assert len(openai_server.requests) == 2  # the plan and the passage: no repair call
        with acting_as(alice):
            assert Turn.objects.get(pk=turn["id"]).template == EXPECTED.model_dump()

    def test_reasoning_content_beside_the_answer_is_ignored(self, api_as, alice, story, openai_server):
        openai_server.script(fake.ok('{"beats": ["The light gutters"]}', reasoning='{"beats": ["Not this"]}'),
                             fake.stream(["Dark."]))
        turn = self.play(api_as(alice), story)
        with acting_as(alice):
            assert Turn.objects.get(pk=turn["id"]).template["beats"][0]["beat"] == "The light gutters"

    def test_a_server_refusing_response_format_is_asked_without_it_and_remembered(self, api_as, alice, story,
                                                                                  openai_server):
        openai_server.refuses = {"response_format"}
        openai_server.script(fake.ok('{"beats": ["One"]}'), fake.stream(["First."]),
                             fake.ok('{"beats": ["Two"]}'), fake.stream(["Second."]))
        api = api_as(alice)
        assert self.play(api, story)["status"] == "completed"
        formats = [(request["body"].get("response_format") or {}).get("type") for request in openai_server.requests]
        assert formats == ["json_schema", "json_object", None, None]  # stepped down at once, then the passage
        assert self.play(api, story)["status"] == "completed"
        assert "response_format" not in openai_server.requests[4]["body"]  # the next turn does not pay again
        assert len(openai_server.requests) == 6

    def test_a_server_refusing_only_json_schema_keeps_json_mode(self, api_as, alice, story, openai_server):
        openai_server.refuses = {"json_schema"}
        openai_server.script(fake.ok('{"beats": ["One"]}'), fake.stream(["First."]),
                             fake.ok('{"beats": ["Two"]}'), fake.stream(["Second."]))
        api = api_as(alice)
        assert self.play(api, story)["status"] == "completed" and self.play(api, story)["status"] == "completed"
        assert openai_server.requests[3]["body"]["response_format"] == {"type": "json_object"}
        assert len(openai_server.requests) == 5

    def test_a_server_refusing_stream_options_streams_without_them(self, api_as, alice, story, openai_server):
        openai_server.refuses = {"stream_options"}
        openai_server.script(fake.ok('{"beats": ["One"]}'), fake.stream(["First."]),
                             fake.ok('{"beats": ["Two"]}'), fake.stream(["Second."]))
        api = api_as(alice)
        assert self.play(api, story)["prose"] == "First."
        assert self.play(api, story)["prose"] == "Second."
        streamed = [request["body"] for request in openai_server.requests if request["body"]["stream"]]
        assert ["stream_options" in body for body in streamed] == [True, False, False]

    def test_a_rate_limit_with_retry_after_is_waited_for_then_the_turn_completes(self, api_as, alice, story,
                                                                                 openai_server, settings):
        # A backoff no test could wait for: the turn completes only because Retry-After: 0 is honoured.
        settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = 1, 600
        openai_server.script(fake.status(429, retry_after="0"), fake.ok(fake.QUIRKY_PLANS["beats_as_strings"]),
                             fake.status(503, retry_after="0"), fake.stream(["The light ", "gutters."]))
        turn = self.play(api_as(alice), story)
        assert turn["status"] == "completed" and len(openai_server.requests) == 4
