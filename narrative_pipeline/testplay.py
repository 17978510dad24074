"""Test-play for authors: N scripted turns with the offline writers' room in a scratch copy of
a story (same chapters, cast and state; not a fork), the Dreamer run inline after each turn."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.models import ChapterDivergenceLog, ChapterProgress
from core import task_queue

from . import orchestrator, services
from .models import Story

WANDER = ["I wander off to the market.", "I sit in a quiet tavern and listen.", "I walk to the mill.",
          "I count the clouds from a hilltop.", "I buy bread and think of nothing in particular."]


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


def test_play(*, user, story: Story, turns: int, mode: str, keep: bool = False) -> TestPlayResult:
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
                result.points.append({"turn": number, "action": turn.action,
                                      "chapter": row.chapter.number if row else None,
                                      "divergence": row.divergence_score if row else 0.0,
                                      "tier": row.healing_rung or "none" if row else "none"})
        with acting_as(user):
            result.adaptations = [
                {"turn": log.turn_number, "chapter": log.chapter.number, "strategy": log.strategy,
                 "score": log.score, "reason": log.reason}
                for log in ChapterDivergenceLog.objects.filter(story=scratch).select_related("chapter")
                .order_by("created_at")]
    finally:
        if not keep:
            services.story_delete(user=user, story=scratch)
    return result
