"""The Dreamer, an agent that works after a turn commits (in Celery): it reads what it is given and
answers with contracts — a turn's summary, the story so far, who died, how a character changed, a
next chapter, a chapter rewritten for where the story now is. It writes nothing: ``dreams.py``
reads the story for it and stores its answers."""

from __future__ import annotations

import re
from typing import Protocol

from chapters.beats import beats_from_model
from chapters.knowledge.rules import learned_from_passage
from core import embeddings
from core.contracts import StoryState

from ..contracts import ArcNote, ChapterDraft, CharacterChange, Learned, TurnSummaryNote
from ..llm import Completion, LLMError, LLMRequest
from ..state import mentioned
from .prompts import DREAMER_SYSTEM, data_block
from .structured import NoValidObject, parse_carried, parse_object


class AgentCaller(Protocol):
    """What the Dreamer calls models through (``calls.AgentCaller``, which records and budgets each call)."""

    def complete(self, request: LLMRequest) -> Completion: ...


def _ask(caller: AgentCaller, instruction: str, payload: dict, max_tokens: int, *, json_mode: bool = False) -> str:
    messages = [{"role": "system", "content": DREAMER_SYSTEM},
                {"role": "user", "content": instruction + "\n" + data_block(payload)}]
    return caller.complete(LLMRequest(agent="dreamer", messages=messages, payload=payload, max_tokens=max_tokens,
                                      json_mode=json_mode, temperature=0.3)).text.strip()


def deaths(*, names: list[str], text: str) -> list[str]:
    """The cast members ``text`` says died (they get the ``dead:<name>`` flag, which chapters read)."""
    return [name for name in names if died(name, text)]


def died(name: str, text: str) -> bool:
    pattern = (rf"(?<!\w){re.escape(name)}(?!\w)[^.!?]{{0,40}}?\b(dies|died|is killed|was killed|is dead|"
               rf"falls dead|breathes (?:his|her|their) last)\b")
    return re.search(pattern, text, re.IGNORECASE) is not None


def turn_summary(caller: AgentCaller, *, number: int, action: str, prose: str) -> TurnSummaryNote:
    summary = _ask(caller, "Summarize this turn in one or two sentences.",
                   {"task": "turn_summary", "number": number, "action": action, "prose": prose}, 120)
    return TurnSummaryNote(summary=summary, embedding=embeddings.embed_one(summary))


def beats_carried(caller: AgentCaller, *, passage: str, beats: list[str]) -> list[str]:
    """Which of the chapter's open ``beats`` the passage carried (told as happening), read from the prose:
    what the Strategist planned does not count until the passage tells it."""
    payload = {"task": "beats_carried", "passage": passage,
               "beats": [{"number": number, "beat": beat} for number, beat in enumerate(beats, 1)]}
    answer = _ask(caller, "Which of these chapter beats does the passage show happening? A beat only hinted at, "
                  'planned or still to come is not carried. Answer with JSON: {"carried": [beat numbers]}.',
                  payload, 80, json_mode=True)
    try:
        return parse_carried(answer, beats)
    except NoValidObject as error:
        raise LLMError("The Dreamer's answer on the chapter beats was not valid JSON.") from error


def arc_summary(caller: AgentCaller, *, first: int, last: int, previous: str, summaries: list[str]) -> ArcNote:
    """The story so far up to turn ``last``: the previous arc folded with the turns' summaries."""
    summary = _ask(caller, "Write the story so far in one paragraph: fold the previous summary and these turns.",
                   {"task": "arc_summary", "first": first, "last": last, "previous": previous,
                    "summaries": summaries}, 300)
    return ArcNote(first_turn=first, last_turn=last, summary=summary)


def chapter_suggestion(caller: AgentCaller, *, state: dict, title: str, story_so_far: str,
                       recent: list[str]) -> ChapterDraft:
    """The next chapter, proposed from the story so far and the latest turns' summaries (oldest first)."""
    payload = {"task": "suggest_chapter", "state": state, "title": title, "story_so_far": story_so_far,
               "recent": recent}
    answer = _ask(caller, 'Propose the next chapter as JSON: {"title", "summary", "narrative_instructions", '
                  '"suggested_beats": [{"beat", "priority"}]}.', payload, 500, json_mode=True)
    try:
        data = parse_object(answer, required="title")
    except NoValidObject as error:
        raise LLMError("The Dreamer's chapter suggestion was not valid JSON.") from error
    return ChapterDraft(title=str(data["title"]).strip()[:200] or "What comes next",
                        summary=str(data.get("summary", ""))[:2_000],
                        narrative_instructions=str(data.get("narrative_instructions", ""))[:8_000],
                        suggested_beats=beats_from_model(data.get("suggested_beats")))


def character_change(caller: AgentCaller, *, name: str, number: int, prose: str) -> CharacterChange:
    mentions = [sentence for sentence in prose.replace("\n", " ").split(". ") if mentioned(name, sentence)]
    summary = _ask(caller, f"In one sentence: how is {name} now, after this turn?",
                   {"task": "character_snapshot", "name": name, "number": number, "mentions": mentions[-3:]}, 100)
    return CharacterChange(name=name, turn_number=number, summary=summary)


def chapter_rewrite(caller: AgentCaller, *, tier: str, state: StoryState, story: dict, chapter_number: int,
                    chapter: dict) -> ChapterDraft:
    """A chapter the story moved away from, rewritten: ``adapt`` keeps its intent for where the story
    now is, ``alternate`` reaches the same goal by another road."""
    payload = {"task": f"{tier}_chapter", "state": state.model_dump(), "story": story, "chapter": chapter}
    instruction = ("Rewrite this chapter's instructions and beats for where the story now is, keeping its intent. "
                   if tier == "adapt" else "Write a new chapter that reaches the same narrative goal by another road. ")
    answer = _ask(caller, instruction + 'Answer with JSON: {"title", '
                  '"narrative_instructions", "suggested_beats": [{"beat", "priority"}]}.', payload, 600,
                  json_mode=True)
    try:
        data = parse_object(answer, required="narrative_instructions")
    except NoValidObject as error:
        raise LLMError(f"The Dreamer's {tier} of chapter {chapter_number} was not valid JSON.") from error
    return ChapterDraft(title=str(data.get("title", "")), narrative_instructions=str(data["narrative_instructions"]),
                        suggested_beats=beats_from_model(data.get("suggested_beats")))


# Who knows what (issue #20) ---------------------------------------------------------------------------------

LEARNED_KEYS = ("learned", "learnt", "learning", "knowledge", "facts")


def learned(caller: AgentCaller, *, passage: str, present: list[str], secrets: list[str]) -> list[Learned]:
    """What the characters in the scene learned from the passage (a secret told aloud before them, or a
    passage saying one of them learned something). Read leniently: items as objects with ``character``
    (or ``who``, ``name``) and ``fact`` (or ``what``, ``knowledge``), or as "<name> learned that <fact>"
    sentences; a name not in the scene is dropped, never stored."""
    payload = {"task": "knowledge_learned", "passage": passage, "present": present, "secrets": secrets}
    answer = _ask(caller, "Which characters in the scene learned a fact from this passage (a secret said before "
                  "them, or something they found out)? Answer with JSON: "
                  '{"learned": [{"character": name, "fact": one sentence}]}; an empty list when none.',
                  payload, 300, json_mode=True)
    try:
        data = next(parse_object(answer, required=key) for key in LEARNED_KEYS if f'"{key}"' in answer.lower())
    except (NoValidObject, StopIteration):
        return []  # nothing learned is a valid answer; an unreadable one teaches nothing
    items = next((data[key] for key in LEARNED_KEYS if isinstance(data.get(key), list)), [])
    in_scene = {name.casefold(): name for name in present}
    found = []
    for item in items:
        if isinstance(item, str):
            found += [Learned(character=who, fact=fact) for who, fact in learned_from_passage(item, present, [])]
            continue
        if not isinstance(item, dict):
            continue
        who = next((str(item[key]) for key in ("character", "who", "name") if item.get(key)), "")
        fact = next((str(item[key]) for key in ("fact", "what", "knowledge") if item.get(key)), "").strip()
        if who.strip().casefold() in in_scene and 0 < len(fact) <= 1_000:
            found.append(Learned(character=in_scene[who.strip().casefold()], fact=fact))
    return found
