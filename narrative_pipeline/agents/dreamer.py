"""The Dreamer, after a turn commits (in Celery): the turn's summary and embedding, the story
so far every N turns, and how the characters named in the turn have changed."""

from __future__ import annotations

import re

from django.conf import settings

from accounts.rls import acting_as
from chapters import evaluation as chapter_evaluation
from chapters import healing
from chapters.models import ChapterSuggestion, StoryChapter
from core import embeddings
from core.contracts import StoryState

from .. import storage
from ..calls import AgentCaller
from ..llm import LLMError, LLMRequest
from ..models import Character, CharacterSnapshot, Story, StoryArc, Turn, TurnSummary
from ..state import mentioned
from .prompts import DREAMER_SYSTEM, data_block
from .structured import NoValidObject, parse_object


def _ask(caller: AgentCaller, instruction: str, payload: dict, max_tokens: int, *, json_mode: bool = False) -> str:
    messages = [{"role": "system", "content": DREAMER_SYSTEM},
                {"role": "user", "content": instruction + "\n" + data_block(payload)}]
    return caller.complete(LLMRequest(agent="dreamer", messages=messages, payload=payload, max_tokens=max_tokens,
                                      json_mode=json_mode, temperature=0.3)).text.strip()


def dream(*, user_id: str, turn_id: str) -> None:
    """Idempotent: a redelivered task finds the work done and stops."""
    with acting_as(user_id):
        turn = Turn.objects.select_related("story").filter(pk=turn_id, status=Turn.Status.COMPLETED).first()
        if turn is None:
            return  # undone, or rerolled into a newer task
        has_summary = TurnSummary.objects.filter(turn=turn).exists()
        cast = list(Character.objects.filter(story=turn.story, is_player=False))
    story, caller = turn.story, AgentCaller(user=user_id, story=turn.story, turn=turn)
    _mark_deaths(user_id, turn, cast)
    if not has_summary:
        _summarize_turn(user_id, caller, turn)
        with acting_as(user_id):
            # Confirm the chapter beats the Strategist says this passage addressed.
            chapter_evaluation.record_beats_addressed(story_id=story.pk, turn_number=turn.number,
                                                      addressed=(turn.template or {}).get("chapter_beats_addressed", []))
    if turn.number % settings.ARC_INTERVAL_TURNS == 0:
        _summarize_arc(user_id, caller, story, last=turn.number)
    if turn.number % settings.CHAPTER_SUGGESTION_TURNS == 0:
        _suggest_chapter(user_id, caller, turn)
    for character in cast:
        if mentioned(character.name, turn.prose):
            _snapshot(user_id, caller, turn, character)


def _mark_deaths(user_id, turn: Turn, cast: list[Character]) -> None:
    """A cast member the turn says died gets the ``dead:<name>`` flag, which chapters read."""
    dead = [character.name for character in cast if died(character.name, f"{turn.action}\n{turn.prose}")]
    if not dead:
        return
    with acting_as(user_id):
        story = Story.objects.select_for_update().get(pk=turn.story_id)
        flags = list(story.state.get("flags", []))
        new = [f"dead:{name}" for name in dead if f"dead:{name}" not in flags]
        if new:
            story.state = {**story.state, "flags": flags + new}
            story.save(update_fields=["state", "updated_at"])


def died(name: str, text: str) -> bool:
    pattern = (rf"(?<!\w){re.escape(name)}(?!\w)[^.!?]{{0,40}}?\b(dies|died|is killed|was killed|is dead|"
               rf"falls dead|breathes (?:his|her|their) last)\b")
    return re.search(pattern, text, re.IGNORECASE) is not None


def _summarize_turn(user_id, caller, turn: Turn) -> None:
    summary = _ask(caller, "Summarize this turn in one or two sentences.",
                   {"task": "turn_summary", "number": turn.number, "action": turn.action, "prose": turn.prose}, 120)
    vector = embeddings.embed_one(summary)
    with acting_as(user_id):
        if Turn.objects.filter(pk=turn.pk, prose=turn.prose).exists() and not TurnSummary.objects.filter(
                turn=turn).exists():
            TurnSummary.objects.create(user_id=turn.user_id, turn=turn, story_id=turn.story_id, number=turn.number,
                                       summary=summary, embedding=vector)
            storage.dreamer_added(user=user_id, story=turn.story, turn=turn, text=summary, embedded=True)


def _summarize_arc(user_id, caller, story, *, last: int) -> None:
    first = last - settings.ARC_INTERVAL_TURNS + 1
    with acting_as(user_id):
        if StoryArc.objects.filter(story=story, first_turn=first).exists():
            return
        summaries = list(TurnSummary.objects.filter(story=story, number__gte=first, number__lte=last)
                         .order_by("number").values_list("summary", flat=True))
        previous = (StoryArc.objects.filter(story=story, last_turn__lt=first).order_by("-first_turn")
                    .values_list("summary", flat=True).first())
    summary = _ask(caller, "Write the story so far in one paragraph: fold the previous summary and these turns.",
                   {"task": "arc_summary", "first": first, "last": last, "previous": previous or "",
                    "summaries": summaries}, 300)
    with acting_as(user_id):
        arc, created = StoryArc.objects.get_or_create(user_id=story.user_id, story=story, first_turn=first,
                                                      defaults={"last_turn": last, "summary": summary})
        if created:
            storage.dreamer_added(user=user_id, story=story, turn=None, text=summary)


def _suggest_chapter(user_id, caller, turn: Turn) -> None:
    """When the story has no chapter left to head to, propose the next one from the story so far."""
    with acting_as(user_id):
        if chapter_evaluation.heading_to(story_id=turn.story_id) is not None or ChapterSuggestion.objects.filter(
                story_id=turn.story_id, status=ChapterSuggestion.Status.OPEN).exists():
            return
        story = Story.objects.get(pk=turn.story_id)
        recent = list(TurnSummary.objects.filter(story=story).order_by("-number").values_list("summary", flat=True)[:5])
        so_far = StoryArc.objects.filter(story=story).order_by("-first_turn").values_list("summary", flat=True).first()
    payload = {"task": "suggest_chapter", "state": story.state, "title": story.title, "story_so_far": so_far or "",
               "recent": recent[::-1]}
    answer = _ask(caller, 'Propose the next chapter as JSON: {"title", "summary", "narrative_instructions", '
                  '"suggested_beats": [{"description", "priority"}]}.', payload, 500, json_mode=True)
    try:
        data = parse_object(answer, required="title")
        title = str(data["title"]).strip()[:200]
    except NoValidObject as error:
        raise LLMError("The Dreamer's chapter suggestion was not valid JSON.") from error
    with acting_as(user_id):
        ChapterSuggestion.objects.create(
            user_id=story.user_id, story=story, title=title or "What comes next",
            summary=str(data.get("summary", ""))[:2_000],
            narrative_instructions=str(data.get("narrative_instructions", ""))[:8_000],
            suggested_beats=healing.clean_beats(data.get("suggested_beats")), created_turn=turn.number)


def _snapshot(user_id, caller, turn: Turn, character: Character) -> None:
    with acting_as(user_id):
        if CharacterSnapshot.objects.filter(character=character, turn_number=turn.number).exists():
            return
    mentions = [sentence for sentence in turn.prose.replace("\n", " ").split(". ") if mentioned(character.name, sentence)]
    summary = _ask(caller, f"In one sentence: how is {character.name} now, after this turn?",
                   {"task": "character_snapshot", "name": character.name, "number": turn.number,
                    "mentions": mentions[-3:]}, 100)
    with acting_as(user_id):
        CharacterSnapshot.objects.create(user_id=turn.user_id, story_id=turn.story_id, character=character,
                                         turn_number=turn.number, summary=summary)
        storage.dreamer_added(user=user_id, story=turn.story, turn=None, text=summary)


def heal(*, user_id: str, chapter_id: str, turn_number: int, tier: str) -> None:
    """Heal a chapter the story moved away from: relax its conditions, adapt it, or write an alternate."""
    with acting_as(user_id):
        chapter = StoryChapter.objects.filter(pk=chapter_id).first()
        if chapter is None:
            return  # deleted meanwhile
        story = Story.objects.get(pk=chapter.story_id)
        state = StoryState(**story.state)
    moment = embeddings.embed_one(" ".join(filter(None, [state.location, *state.present_characters])))
    if tier == "relax":
        with acting_as(user_id):
            healing.relax(chapter, state=state, turn_number=turn_number, state_vector=moment)
        return
    text = chapter_evaluation.current_version(chapter) or chapter
    payload = {"task": f"{tier}_chapter", "state": state.model_dump(),
               "story": {"title": story.title, "premise": story.premise},
               "chapter": {"title": chapter.title, "summary": chapter.summary,
                           "narrative_instructions": text.narrative_instructions, "beats": text.suggested_beats}}
    instruction = ("Rewrite this chapter's instructions and beats for where the story now is, keeping its intent. "
                   if tier == "adapt" else "Write a new chapter that reaches the same narrative goal by another road. ")
    answer = _ask(AgentCaller(user=user_id, story=story), instruction + 'Answer with JSON: {"title", '
                  '"narrative_instructions", "suggested_beats": [{"description", "priority"}]}.', payload, 600,
                  json_mode=True)
    try:
        data = parse_object(answer, required="narrative_instructions")
        instructions = str(data["narrative_instructions"])
    except NoValidObject as error:
        raise LLMError(f"The Dreamer's {tier} of chapter {chapter.number} was not valid JSON.") from error
    with acting_as(user_id):
        if tier == "adapt":
            healing.adapt(chapter, state=state, turn_number=turn_number, instructions=instructions,
                          beats=data.get("suggested_beats"), state_vector=moment)
        else:
            healing.alternate(chapter, state=state, turn_number=turn_number, title=str(data.get("title", "")),
                              instructions=instructions, beats=data.get("suggested_beats"), state_vector=moment)
