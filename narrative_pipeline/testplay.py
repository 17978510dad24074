"""Test-play for authors: N scripted turns in a scratch copy of a story (same chapters, cast and state; not a
fork), the Dreamer run inline after each turn. It runs on the offline narrator unless the author picks a model;
a model's run is priced first (``run_cost``: turns × the four agents' calls at the connection's prices),
so one click never spends a paid model's calls unseen."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.models import ChapterDivergenceLog, ChapterProgress
from core import task_queue

from . import orchestrator, selectors, services
from .llm import AGENTS, OFFLINE
from .llm.connections import ModelChoice, choices_for, connection_named, connections, offline_narrator
from .models import Story

OFFLINE_RUN = ""  # the model option that runs on the offline narrator
STORY_MODELS = "story"  # the model option that runs on the story's own models
# A writers' room call's size, for the estimate before a model's run: a turn's prompts carry the story so far,
# the lore and the chapter brief (a few thousand tokens); the answers are a passage or a short JSON.
ESTIMATED_PROMPT_TOKENS = 3_000
ESTIMATED_COMPLETION_TOKENS = 500

WANDER = ["I wander off to the market.", "I sit in a quiet tavern and listen.", "I walk to the mill.",
          "I count the clouds from a hilltop.", "I buy bread and think of nothing in particular."]


# The rungs of the healing ladder as an author reads them (any other logged strategy is shown as it is).
TIER_WORDS = {"nudge": "Nudged toward the player", "relax": "Conditions relaxed", "adapt": "Chapter adapted",
              "alternate": "Replaced by an alternate"}


def tier_in_words(strategy: str) -> str:
    return TIER_WORDS.get(strategy, strategy.replace("_", " ").capitalize())


@dataclass
class TestPlayResult:
    points: list[dict] = field(default_factory=list)  # per turn: chapter, divergence, tier
    adaptations: list[dict] = field(default_factory=list)
    scratch_story_id: str | None = None


def following_actions(chapters: list[dict]):
    """Actions that walk the chapters' conditions: go where they happen, take what they need."""
    for chapter in itertools.cycle(chapters or [{}]):
        conditions = chapter.get("trigger_conditions", {})
        places = conditions.get("location", [])
        place = places if isinstance(places, str) else (places[0] if places else "")
        items = conditions.get("has_item", [])
        item = items if isinstance(items, str) else (items[0] if items else "")
        people = conditions.get("character_present", [])
        person = people if isinstance(people, str) else (people[0] if people else "")
        yield f"I walk to the {place}." if place else "I look around carefully."
        if item:
            yield f"I take the {item}."
        yield f"I talk to {person}." if person else "I press on with what must be done."


def model_options(*, user, story: Story) -> list[tuple[str, str]]:
    """What a test-play may run on: the offline narrator (first, the default), the story's own models, and each
    model the site offers, by connection."""
    effective = story_models(user=user, story=story)
    options = [(OFFLINE_RUN, "The offline narrator (free, no model server)")]
    if any(choice.connection != OFFLINE for choice in effective.values()):
        options.append((STORY_MODELS, "This story's models (" + ", ".join(
            f"{agent}: {choice.model}" for agent, choice in effective.items()) + ")"))
    options += [(f"{connection.name}:{model}", f"{connection.label}: {model}")
                for connection in connections().values() if connection.name != OFFLINE for model in connection.models]
    return options


def story_models(*, user, story: Story) -> dict[str, ModelChoice]:
    """Each agent's model as the story's turns use it (its own choices, the account's, the operator's)."""
    with acting_as(user):
        account_choices = selectors.model_choices(user=user)
    return choices_for(account_choices=account_choices, story_overrides=story.llm_overrides)


def models_chosen(*, user, story: Story, option: str) -> dict[str, ModelChoice] | None:
    """The agents' models for a model option (``model_options``); None for the offline narrator."""
    if option == OFFLINE_RUN:
        return None
    if option == STORY_MODELS:
        return story_models(user=user, story=story)
    name, _, model = option.partition(":")
    return {agent: ModelChoice(name, model) for agent in AGENTS}


@dataclass(frozen=True)
class RunCost:
    calls: int
    cost_usd: Decimal
    models: str  # which models, in words


def run_cost(*, turns: int, models: dict[str, ModelChoice]) -> RunCost:
    """What a run on ``models`` costs: a call per agent per turn, each of the estimated size, at its
    connection's prices (a model without a price costs 0)."""
    per_turn = Decimal(0)
    for choice in models.values():
        connection = connection_named(choice.connection)
        if connection is not None:
            per_turn += connection.cost_usd(choice.model, ESTIMATED_PROMPT_TOKENS, ESTIMATED_COMPLETION_TOKENS)
    names = sorted({f"{choice.connection}: {choice.model}" for choice in models.values()})
    return RunCost(calls=turns * len(models), cost_usd=per_turn * turns, models=", ".join(names))


def test_play(*, user, story: Story, turns: int, mode: str, keep: bool = False,
              models: dict[str, ModelChoice] | None = None) -> TestPlayResult:
    """The run, on ``models`` (every agent's, as ``models_chosen`` gives them) or, without, the offline
    narrator whatever the story, account and operator choose."""
    if models is None:
        with offline_narrator():
            return _test_play(user=user, story=story, turns=turns, mode=mode, keep=keep, models=None)
    return _test_play(user=user, story=story, turns=turns, mode=mode, keep=keep, models=models)


def _test_play(*, user, story: Story, turns: int, mode: str, keep: bool,
               models: dict[str, ModelChoice] | None) -> TestPlayResult:
    with acting_as(user):
        chapters = chapter_services.chapters_export(story_id=story.pk)
        cast = [{"name": c.name, "description": c.description, "personality": c.personality,
                 "is_player": c.is_player} for c in story.characters.all()]
    scratch = services.story_create(user=user, title=f"[test-play] {story.title}"[:200], premise=story.premise,
                                    genre=story.genre, setting=story.setting, memory=story.memory,
                                    authors_note=story.authors_note, state=story.state, characters=cast)
    result = TestPlayResult(scratch_story_id=str(scratch.pk) if keep else None)
    try:
        with acting_as(user):
            if models is not None:  # the scratch story's own choices come before the account's and operator's
                Story.objects.filter(pk=scratch.pk).update(llm_overrides={
                    agent: {"connection": choice.connection, "model": choice.model} for agent, choice in models.items()})
            for chapter in chapters:
                chapter.pop("source", None)
            chapter_services.chapters_import(story_id=scratch.pk, user_id=user.pk, chapters=chapters,
                                             created_by="manual")
        actions = following_actions(chapters) if mode == "follow" else itertools.cycle(WANDER)
        with task_queue.held():
            for number in range(1, turns + 1):
                turn, _ = orchestrator.turn_submit(user=user, story_id=scratch.pk, action=next(actions),
                                                   idempotency_key=f"test-play-{uuid.uuid4().hex}")
                turn = orchestrator.turn_generate(user=user, turn=turn)
                task_queue.run_held()
                with acting_as(user):
                    row = (ChapterProgress.objects.filter(story=scratch).exclude(status="completed")
                           .select_related("chapter").order_by("chapter__number").first())
                    fired = list(ChapterDivergenceLog.objects.filter(story=scratch, turn_number=turn.number)
                                 .order_by("created_at").values_list("strategy", flat=True))
                # No chapter current is not "on track": its divergence is None, never a score of 0.
                result.points.append({"turn": number, "action": turn.action,
                                      "chapter": row.chapter.number if row else None,
                                      "divergence": row.divergence_score if row else None,
                                      "tier": ", ".join(tier_in_words(strategy) for strategy in fired)})
        with acting_as(user):
            result.adaptations = [
                {"turn": log.turn_number, "chapter": log.chapter.number, "strategy": tier_in_words(log.strategy),
                 "score": log.score, "reason": log.reason}
                for log in ChapterDivergenceLog.objects.filter(story=scratch).select_related("chapter")
                .order_by("created_at")]
    finally:
        if not keep:
            services.story_delete(user=user, story=scratch)
    return result
