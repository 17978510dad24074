"""Cache-aware briefings (issue #21): each agent's prompt is a stable prefix and a volatile tail, serialized the
same way every time, so a provider's prompt cache reuses what the previous turn sent; and no fact the agents
were given is lost on the way."""

import json

from chapters.contracts import ChapterBrief, CharacterKnowledge, KnowledgeBrief, SecretNote
from narrative_pipeline.agents import strategist, writer
from narrative_pipeline.agents.preprocessor import recent_window_start
from narrative_pipeline.agents.prompts import briefing_laid_out
from narrative_pipeline.contracts import PastTurn, RelevantTurn, ResponseTemplate, StoryState, StrategistBriefing
from narrative_pipeline.llm import Completion

PLAN = ResponseTemplate.model_validate({"beats": [{"beat": "The rope frays", "priority": "high"}], "tone": "tense"})
SECRET = "The Ferryman is the Regent's spy."


def briefing(turn: int, **changes) -> StrategistBriefing:
    """Turn ``turn`` of a story: the recent turns are those the window quotes, as the Preprocessor reads them."""
    recent = [PastTurn(number=n, action=f"Action {n}.", prose=f"Passage {n}, where the river rises.")
              for n in range(recent_window_start(turn, 4), turn)]
    fields = dict(
        title="The Pass", genre="fantasy", premise="A pass held by ferrymen.", setting="Ash and rope bridges.",
        memory="Ilse owes the Ferryman a coin.", turn_number=turn, action=f"I cross, turn {turn}.",
        state=StoryState(location="the Pass of Ash", tracked={"trust": str(turn), "ash": "falling"}),
        recent_turns=recent, relevant_turns=[RelevantTurn(number=1, summary=f"Met at turn {turn % 3}", similarity=0.5)],
        arc_summaries=["Ilse came to the pass and bargained."],
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
    windows = {turn: range(recent_window_start(turn, 4), turn) for turn in range(1, 60)}
    for turn, window in windows.items():
        assert len(window) == min(turn - 1, len(window)) and (turn <= 5 or 4 <= len(window) <= 7), (turn, window)
        assert window.stop == turn  # always ends with the turn just played
    moves = [turn for turn in range(2, 60) if windows[turn].start != windows[turn - 1].start]
    assert moves == list(range(9, 60, 4))  # once a block, never turn by turn


def test_every_fact_the_agents_were_given_is_in_the_laid_out_briefing():
    brief = briefing(12)
    agents, laid_out = brief.for_agents(), briefing_laid_out(brief.for_agents())
    # Every value is there and nothing is added (a character with no latest change has no line for it).
    assert {str(leaf) for leaf in leaves(agents) if leaf != ""} == {str(leaf) for leaf in leaves(laid_out) if leaf != ""}
    assert len(leaves(laid_out)) >= len([leaf for leaf in leaves(agents) if leaf != ""])
    # Who knows what keeps its blocks per character, and the writers' room's report stays out.
    assert laid_out["knowledge"] == agents["knowledge"] and "withheld" not in laid_out["knowledge"]
    ferryman = next(block for block in laid_out["knowledge"]["characters"] if block["name"] == "The Ferryman")
    ilse = next(block for block in laid_out["knowledge"]["characters"] if block["name"] == "Ilse")
    assert ferryman["knows"] == [SECRET] and ilse["knows"] == []


def test_the_same_briefing_is_the_same_bytes_whatever_order_its_maps_were_filled_in():
    first = briefing(12)
    second = briefing(12, state=StoryState(location="the Pass of Ash", tracked={"ash": "falling", "trust": "12"}))
    assert strategist_prompt(first) == strategist_prompt(second)
    assert writer_prompt(first) == writer_prompt(second)


def test_the_stable_part_and_the_quoted_turns_come_first_and_what_changes_every_turn_last():
    prompt = writer_prompt(briefing(12))
    order = [f'\n "{key}": ' for key in ("world", "characters", "chapter", "story_so_far", "knowledge",
                                          "chapter_progress", "recent_turns", "character_changes", "chapter_score",
                                          "relevant_turns",
                                          "state", "action", "plan")]
    assert [prompt.index(key) for key in order] == sorted(prompt.index(key) for key in order)
    # What changes every turn is not inside the stable parts: a character's latest change, a chapter's score.
    stable = prompt[:prompt.index('\n "recent_turns": ')]
    assert "tired after" not in stable and "divergence" not in stable


def test_the_next_turns_prompt_starts_with_everything_this_turn_quoted():
    for prompt in (strategist_prompt, writer_prompt):
        this, following = prompt(briefing(10)), prompt(briefing(11))
        last_quoted = this.index("Passage 9, where the river rises.")
        assert common_prefix(this, following) > last_quoted, prompt.__name__
        assert common_prefix(this, following) / len(following) > 0.6
    # Once a block the window moves on: the prefix still holds the system prompt, the world and the cast.
    this, following = strategist_prompt(briefing(12)), strategist_prompt(briefing(13))
    assert common_prefix(this, following) > this.index('\n "story_so_far": ')
