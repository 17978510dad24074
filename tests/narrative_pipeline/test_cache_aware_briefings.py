"""Cache-aware briefings (issue #21): each agent's prompt is a stable prefix and a volatile tail, serialized the
same way every time, so a provider's prompt cache reuses what the previous turn sent; and no fact the agents
were given is lost on the way."""

import json

import pytest

from accounts.rls import acting_as
from chapters.contracts import ChapterBrief, CharacterKnowledge, KnowledgeBrief, SecretNote
from narrative_pipeline.agents import strategist, writer
from narrative_pipeline.agents.preprocessor import build_context, recent_window_start, summaries_batch_start
from narrative_pipeline.agents.prompts import briefing_laid_out
from narrative_pipeline.contracts import (
    PastTurn,
    RelevantTurn,
    ResponseTemplate,
    StoryState,
    StrategistBriefing,
    TurnNote,
)
from narrative_pipeline.llm import Completion
from narrative_pipeline.models import EMBEDDING_DIMENSIONS, StoryArc, Turn, TurnSummary

from ..factories import StoryFactory

PLAN = ResponseTemplate.model_validate({"beats": [{"beat": "The rope frays", "priority": "high"}], "tone": "tense"})
SECRET = "The Ferryman is the Regent's spy."


def window(turn: int) -> range:
    return range(recent_window_start(turn, least=4, block=10), turn)


def briefing(turn: int, **changes) -> StrategistBriefing:
    """Turn ``turn`` of a story: the recent turns are those the window quotes and the story so far the arc and the
    summaries after it, as the Preprocessor reads them."""
    recent = [PastTurn(number=n, action=f"Action {n}.", prose=f"Passage {n}, where the river rises.")
              for n in window(turn)]
    folded = summaries_batch_start(window(turn).start, batch=20)
    summaries = [TurnNote(number=n, summary=f"Summary {n}: the rope held.") for n in range(folded + 1, window(turn).start)]
    fields = dict(
        title="The Pass", genre="fantasy", premise="A pass held by ferrymen.", setting="Ash and rope bridges.",
        memory="Ilse owes the Ferryman a coin.", turn_number=turn, action=f"I cross, turn {turn}.",
        state=StoryState(location="the Pass of Ash", tracked={"trust": str(turn), "ash": "falling"}),
        recent_turns=recent, relevant_turns=[RelevantTurn(number=1, summary=f"Met at turn {turn % 3}", similarity=0.5)],
        arc_summaries=[f"Ilse came to the pass and bargained, up to turn {folded}."] if folded else [],
        turn_summaries=summaries,
        characters=[{"name": "Ilse", "is_player": True, "latest_change": f"tired after turn {turn - 1}"},
                    {"name": "The Ferryman", "description": "old, patient"}],
        chapter=ChapterBrief(number=1, title="The Crossing", version=1, narrative_instructions="Cross before dusk.",
                             beats=[{"beat": "The bridge sways", "priority": "high"}], divergence=turn / 100,
                             beats_addressed=[], nudge="A bell rings on the far side."),
        knowledge=KnowledgeBrief(common=["The bridge is old."],
                                 characters=[CharacterKnowledge(name="Ilse", knows=[]),
                                             CharacterKnowledge(name="The Ferryman", knows=[SECRET])],
                                 secrets=[SecretNote(fact=SECRET, known_by=["The Ferryman"])]),
    )
    return StrategistBriefing(**{**fields, **changes})


def strategist_prompt(brief: StrategistBriefing) -> str:
    sent = []

    def complete(request):
        sent.append(request)
        return Completion(text=json.dumps({"beats": [{"beat": "x"}]}), prompt_tokens=1, completion_tokens=1,
                          provider="fake", model="fake")

    strategist.plan(brief, complete)
    return "".join(message["content"] for message in sent[0].messages)


def writer_prompt(brief: StrategistBriefing) -> str:
    return "".join(message["content"] for message in writer.request_for(brief, PLAN).messages)


def leaves(value) -> list:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def common_prefix(first: str, second: str) -> int:
    return next((index for index, (a, b) in enumerate(zip(first, second, strict=False)) if a != b),
                min(len(first), len(second)))


def test_the_recent_window_grows_a_turn_at_a_time_and_moves_a_block_at_a_time():
    windows = {turn: window(turn) for turn in range(1, 80)}
    for turn, quoted in windows.items():
        assert quoted.stop == turn  # always ends with the turn just played
        assert turn <= 5 or 4 <= len(quoted) <= 13, (turn, quoted)  # at least four turns, less than a block more
    moves = [turn for turn in range(2, 80) if windows[turn].start != windows[turn - 1].start]
    assert moves == list(range(15, 80, 10))  # once a block, never turn by turn


def test_the_story_so_far_is_appended_to_as_the_window_moves_and_folded_once_a_batch():
    listed = {turn: range(summaries_batch_start(window(turn).start, batch=20) + 1, window(turn).start)
              for turn in range(1, 120)}
    for turn, summaries in listed.items():
        assert summaries.stop == window(turn).start  # up to the quoted turns, no gap, no overlap
        assert len(summaries) < 20 + 10 and summaries.start % 20 == 1  # after an arc's last turn
    folds = [turn for turn in range(2, 120) if listed[turn].start != listed[turn - 1].start]
    assert folds == [25, 45, 65, 85, 105]  # every other window move: the rest only append
    for turn in range(2, 120):
        if turn not in folds:
            assert listed[turn].start == listed[turn - 1].start and listed[turn].stop >= listed[turn - 1].stop


def test_every_fact_the_agents_were_given_is_in_the_laid_out_briefing():
    brief = briefing(57, relevant_turns=[RelevantTurn(number=42, summary="Summary 42: the rope held.", similarity=0.7),
                                         RelevantTurn(number=3, summary="The Ferryman's coin.", similarity=0.5)])
    agents, laid_out = brief.for_agents(), briefing_laid_out(brief.for_agents())
    # Every value is there and nothing is added (a character with no latest change has no line for it).
    assert {str(leaf) for leaf in leaves(agents) if leaf != ""} == {str(leaf) for leaf in leaves(laid_out) if leaf != ""}
    assert len(leaves(laid_out)) >= len([leaf for leaf in leaves(agents) if leaf != ""])
    # Who knows what keeps its blocks per character, and the writers' room's report stays out.
    assert laid_out["knowledge"] == agents["knowledge"] and "withheld" not in laid_out["knowledge"]
    ferryman = next(block for block in laid_out["knowledge"]["characters"] if block["name"] == "The Ferryman")
    ilse = next(block for block in laid_out["knowledge"]["characters"] if block["name"] == "Ilse")
    assert ferryman["knows"] == [SECRET] and ilse["knows"] == []
    # The story so far: the arc, then each turn after it; a retrieved turn it lists is named, not quoted twice.
    assert laid_out["story_so_far"]["arc"] == "Ilse came to the pass and bargained, up to turn 40."
    assert [note["number"] for note in laid_out["story_so_far"]["turns"]] == list(range(41, 51))
    assert laid_out["relevant_turns"] == [{"number": 42, "similarity": 0.7},
                                          {"number": 3, "similarity": 0.5, "summary": "The Ferryman's coin."}]
    assert writer_prompt(brief).count("Summary 42: the rope held.") == 1


def test_the_same_briefing_is_the_same_bytes_whatever_order_its_maps_were_filled_in():
    first = briefing(12)
    second = briefing(12, state=StoryState(location="the Pass of Ash", tracked={"ash": "falling", "trust": "12"}))
    assert strategist_prompt(first) == strategist_prompt(second)
    assert writer_prompt(first) == writer_prompt(second)


def test_the_stable_part_and_the_quoted_turns_come_first_and_what_changes_every_turn_last():
    prompt = writer_prompt(briefing(27))
    order = [f'\n "{key}": ' for key in ("world", "characters", "chapter", "story_so_far", "knowledge",
                                          "chapter_progress", "recent_turns", "character_changes", "chapter_score",
                                          "relevant_turns",
                                          "state", "action", "plan")]
    assert [prompt.index(key) for key in order] == sorted(prompt.index(key) for key in order)
    # What changes every turn is not inside the stable parts: a character's latest change, a chapter's score.
    stable = prompt[:prompt.index('\n "recent_turns": ')]
    assert "tired after" not in stable and "divergence" not in stable
    # One line of compact JSON per section; the tail leaves out what is empty (no lore fired, no flags).
    data = prompt[prompt.index("<story-data>\n") + 13:prompt.index("\n</story-data>")]
    assert len(data.splitlines()) == 2 + len(json.loads(data))
    assert '\n "lore": ' not in prompt and '"flags"' not in prompt and '"items_lost"' not in prompt


def test_the_next_turns_prompt_starts_with_everything_this_turn_quoted():
    for prompt in (strategist_prompt, writer_prompt):
        for turn in (20, 21, 36):  # the window grows; the story so far keeps its list
            this, following = prompt(briefing(turn)), prompt(briefing(turn + 1))
            last_quoted = this.index(f"Passage {turn - 1}, where the river rises.")
            assert common_prefix(this, following) > last_quoted, (prompt.__name__, turn)
    # Once a block the window moves on: the story so far is appended to, the arc and its list stay the prefix.
    this, following = strategist_prompt(briefing(34)), strategist_prompt(briefing(35))
    assert common_prefix(this, following) > this.index('"turns": [') > this.index("up to turn 20.")
    assert following.index("Summary 30: the rope held.") < following.index("Passage 31, where the river rises.")
    # Once a batch the story so far is folded into the arc: the prefix still holds the system prompt, world, cast.
    this, following = strategist_prompt(briefing(24)), strategist_prompt(briefing(25))
    assert common_prefix(this, following) > this.index('\n "story_so_far": ')


@pytest.mark.django_db
def test_the_preprocessor_reads_the_arc_at_the_batch_boundary_and_every_summary_after_it(alice, settings):
    settings.BRIEFING_RECENT_TURNS, settings.BRIEFING_RECENT_BLOCK_TURNS = 4, 10
    settings.BRIEFING_SUMMARY_BATCH_TURNS = 20
    story = StoryFactory(user=alice)
    with acting_as(alice):
        for number in range(1, 45):
            turn = Turn.objects.create(user=alice, story=story, number=number, action=f"Action {number}.",
                                       prose=f"Passage {number}.", idempotency_key=f"t{number}",
                                       status=Turn.Status.COMPLETED)
            TurnSummary.objects.create(user=alice, story=story, turn=turn, number=number,
                                       summary=f"Summary {number}.", embedding=[1.0] * EMBEDDING_DIMENSIONS)
        for last in (10, 20, 30):  # the Dreamer has not folded turn 40 yet
            StoryArc.objects.create(user=alice, story=story, first_turn=last - 9, last_turn=last,
                                    summary=f"The story up to {last}.")
        at_35 = build_context(story=story, action="I wait.", turn_number=35)
        at_45 = build_context(story=story, action="I wait.", turn_number=45)
    assert at_35.arc_summaries == ["The story up to 20."]
    assert [note.number for note in at_35.turn_summaries] == list(range(21, 31))
    assert [past.number for past in at_35.recent_turns] == list(range(31, 35))
    # The arc at the boundary (40) is not written yet: the older one, and every summary after it.
    assert at_45.arc_summaries == ["The story up to 30."]
    assert [note.number for note in at_45.turn_summaries] == list(range(31, 41))
    assert {turn.number for turn in at_45.relevant_turns} <= set(range(1, 41))
