"""The Dreamer, after a turn commits (in Celery): the turn's summary and embedding, the story
so far every N turns, and how the characters named in the turn have changed."""

from __future__ import annotations

from django.conf import settings

from accounts.rls import acting_as

from .. import embeddings, storage
from ..calls import AgentCaller
from ..llm import LLMRequest
from ..models import Character, CharacterSnapshot, StoryArc, Turn, TurnSummary
from ..state import mentioned
from .prompts import DREAMER_SYSTEM, data_block


def _ask(caller: AgentCaller, instruction: str, payload: dict, max_tokens: int) -> str:
    messages = [{"role": "system", "content": DREAMER_SYSTEM},
                {"role": "user", "content": instruction + "\n" + data_block(payload)}]
    return caller.complete(LLMRequest(agent="dreamer", messages=messages, payload=payload, max_tokens=max_tokens,
                                      temperature=0.3)).text.strip()


def dream(*, user_id: str, turn_id: str) -> None:
    """Idempotent: a redelivered task finds the work done and stops."""
    with acting_as(user_id):
        turn = Turn.objects.select_related("story").filter(pk=turn_id, status=Turn.Status.COMPLETED).first()
        if turn is None:
            return  # undone, or rerolled into a newer task
        has_summary = TurnSummary.objects.filter(turn=turn).exists()
        cast = list(Character.objects.filter(story=turn.story, is_player=False))
    story, caller = turn.story, AgentCaller(user=user_id, story=turn.story, turn=turn)
    if not has_summary:
        _summarize_turn(user_id, caller, turn)
    if turn.number % settings.ARC_INTERVAL_TURNS == 0:
        _summarize_arc(user_id, caller, story, last=turn.number)
    for character in cast:
        if mentioned(character.name, turn.prose):
            _snapshot(user_id, caller, turn, character)


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
