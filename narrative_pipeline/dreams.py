"""The Dreamer's work, stored: the body of the ``dream_turn`` and ``heal_chapter`` tasks.

The agent (``agents/dreamer.py``) answers with contracts; this module reads the story for it and
writes its answers: the dead, a turn's summary and embedding, the chapter beats the passage
carried, the story so far every N turns, a next chapter when none is left, how the characters
named in the turn changed, and a chapter healed. Each step checks its work is not done yet, so a
redelivered task stops where it finished.
"""

from __future__ import annotations

import logging

from django.conf import settings

from accounts.rls import acting_as
from chapters import evaluation as chapter_evaluation
from chapters import healing
from chapters import selectors as chapter_selectors
from chapters.knowledge import rules as knowledge_rules
from chapters.knowledge import selectors as knowledge_selectors
from chapters.knowledge import services as knowledge_services
from chapters.models import ChapterDivergenceLog, ChapterSuggestion, StoryChapter
from core import embeddings
from core.contracts import StoryState

from . import quota_accounting, selectors
from .agents import dreamer
from .calls import AgentCaller
from .contracts import ArcNote, ChapterDraft, CharacterChange, TurnSummaryNote
from .models import Character, CharacterSnapshot, Story, StoryArc, Turn, TurnSummary
from .state import mentioned

logger = logging.getLogger("luna.dreams")


def _owner_for(editor_id: str, model, pk) -> str | None:
    """Tasks are queued as the user who acted (the outbox's RLS holds a row to its writer); the work is the
    story owner's, done as them once the writer is shown to be the owner or a co-author who may edit the story
    the ``model`` row ``pk`` belongs to. None: the row is gone, or the story is not theirs to change."""
    with acting_as(editor_id):
        story_id = model.objects.filter(pk=pk).values_list("story_id", flat=True).first()
        owner_id = selectors.story_owner_for_editor(editor_id=editor_id, story_id=story_id) if story_id else None
    if story_id and owner_id is None:
        logger.warning("task queued by %s for story %s, which they may not change; dropped", editor_id, story_id)
    return owner_id


def turn_dream(*, user_id: str, turn_id: str) -> None:
    """The Dreamer's work for one committed turn, queued by ``user_id`` (the owner or an editing co-author),
    done as the story's owner."""
    user_id = _owner_for(user_id, Turn, turn_id)
    if user_id is None:
        return  # undone meanwhile, or not theirs to change
    with acting_as(user_id):
        turn = Turn.objects.select_related("story").filter(pk=turn_id, status=Turn.Status.COMPLETED).first()
        if turn is None:
            return  # undone, or rerolled into a newer task
        has_summary = TurnSummary.objects.filter(turn=turn).exists()
        cast = list(Character.objects.filter(story=turn.story, is_player=False))
    story, caller = turn.story, AgentCaller(user=user_id, story=turn.story, turn=turn, reserves_each_call=True)
    story_deaths_mark(user_id=user_id, story_id=turn.story_id,
                      names=dreamer.deaths(names=[character.name for character in cast],
                                           text=f"{turn.action}\n{turn.prose}"))
    turn_chapter_beats(user_id=user_id, turn=turn, caller=caller)
    if not has_summary:
        turn_summary_add(user_id=user_id, turn=turn,
                         note=dreamer.turn_summary(caller, number=turn.number, action=turn.action, prose=turn.prose))
    if turn.number % settings.ARC_INTERVAL_TURNS == 0:
        _arc(user_id, caller, story, last=turn.number)
    if turn.number % settings.CHAPTER_SUGGESTION_TURNS == 0:
        _chapter_suggestion(user_id, caller, turn)
    for character in cast:
        if mentioned(character.name, turn.prose):
            _character_change(user_id, caller, turn, character)
    _knowledge_learned(user_id, caller, turn)


def _knowledge_learned(user_id, caller: AgentCaller, turn: Turn) -> None:
    """Who learned what in the passage (issue #20), stored as knowledge with the turn as evidence. Asked only
    when the story has secrets or the passage says someone learned something; learning is a union, so a
    redelivered task adds nothing."""
    with acting_as(user_id):
        names = list(Character.objects.filter(story_id=turn.story_id).values_list("name", "is_player"))
        secrets = [row.fact for row in knowledge_selectors.knowledge_list(story_id=turn.story_id)
                   if row.known_by and row.revealed_at_turn is None]
    in_scene = set((turn.briefing or {}).get("state", {}).get("present_characters", []))
    present = [name for name, is_player in names if is_player or name in in_scene or mentioned(name, turn.prose)]
    if not present or not (secrets or knowledge_rules.LEARNS.search(turn.prose)):
        return
    learned = dreamer.learned(caller, passage=turn.prose, present=present, secrets=secrets)
    with acting_as(user_id):
        for item in learned:
            knowledge_services.knowledge_learn(story_id=turn.story_id, user_id=turn.user_id, character=item.character,
                                               fact=item.fact, turn_number=turn.number)


def turn_chapter_beats(*, user_id, turn: Turn, caller: AgentCaller | None = None) -> None:
    """Confirm from the passage which open beats of the chapter it was written for it carried; the
    Strategist's plan alone ticks nothing. The secrets those beats (or the chapter's completion) reveal are
    revealed on this turn, in the same transaction. Ticking is a union, so a redelivered task changes nothing."""
    brief = (turn.briefing or {}).get("chapter")
    if not brief:
        return
    with acting_as(user_id):
        beats = chapter_selectors.beats_open(story_id=turn.story_id, chapter_number=brief["number"])
        story = turn.story
    if not beats:
        return
    caller = caller or AgentCaller(user=user_id, story=story, turn=turn, reserves_each_call=True)
    carried = dreamer.beats_carried(caller, passage=turn.prose, beats=beats)
    with acting_as(user_id):
        chapter_evaluation.record_beats_addressed(story_id=turn.story_id, chapter_number=brief["number"],
                                                  turn_number=turn.number, carried=carried)
        knowledge_services.knowledge_reveal_told(story_id=turn.story_id, state=StoryState(**turn.state_before),
                                                 turn_number=turn.number)


def story_deaths_mark(*, user_id, story_id, names: list[str]) -> None:
    """Each of ``names`` gets the ``dead:<name>`` flag in the story's state, once."""
    if not names:
        return
    with acting_as(user_id):
        story = Story.objects.select_for_update().get(pk=story_id)
        flags = list(story.state.get("flags", []))
        new = [f"dead:{name}" for name in names if f"dead:{name}" not in flags]
        if new:
            story.state = {**story.state, "flags": flags + new}
            story.save(update_fields=["state", "updated_at"])


def turn_summary_add(*, user_id, turn: Turn, note: TurnSummaryNote) -> None:
    """Store the turn's summary, unless the turn was rewritten meanwhile or already has one."""
    with acting_as(user_id):
        if Turn.objects.filter(pk=turn.pk, prose=turn.prose).exists() and not TurnSummary.objects.filter(
                turn=turn).exists():
            TurnSummary.objects.create(user_id=turn.user_id, turn=turn, story_id=turn.story_id, number=turn.number,
                                       summary=note.summary, embedding=note.embedding)
            quota_accounting.dreamer_added(user=user_id, story=turn.story, turn=turn, text=note.summary, embedded=True)


def _arc(user_id, caller: AgentCaller, story: Story, *, last: int) -> None:
    first = last - settings.ARC_INTERVAL_TURNS + 1
    with acting_as(user_id):
        if StoryArc.objects.filter(story=story, first_turn=first).exists():
            return
        summaries = list(TurnSummary.objects.filter(story=story, number__gte=first, number__lte=last)
                         .order_by("number").values_list("summary", flat=True))
        previous = (StoryArc.objects.filter(story=story, last_turn__lt=first).order_by("-first_turn")
                    .values_list("summary", flat=True).first())
    arc_add(user_id=user_id, story=story,
            note=dreamer.arc_summary(caller, first=first, last=last, previous=previous or "", summaries=summaries))


def arc_add(*, user_id, story: Story, note: ArcNote) -> None:
    """Store the story so far up to ``note.last_turn``, once per arc."""
    with acting_as(user_id):
        _, created = StoryArc.objects.get_or_create(user_id=story.user_id, story=story, first_turn=note.first_turn,
                                                    defaults={"last_turn": note.last_turn, "summary": note.summary})
        if created:
            quota_accounting.dreamer_added(user=user_id, story=story, turn=None, text=note.summary)


def _chapter_suggestion(user_id, caller: AgentCaller, turn: Turn) -> None:
    """When the story has no chapter left to head to, propose the next one from the story so far."""
    with acting_as(user_id):
        if chapter_evaluation.heading_to(story_id=turn.story_id) is not None or ChapterSuggestion.objects.filter(
                story_id=turn.story_id, status=ChapterSuggestion.Status.OPEN).exists():
            return
        story = Story.objects.get(pk=turn.story_id)
        recent = list(TurnSummary.objects.filter(story=story).order_by("-number").values_list("summary", flat=True)[:5])
        so_far = StoryArc.objects.filter(story=story).order_by("-first_turn").values_list("summary", flat=True).first()
    draft = dreamer.chapter_suggestion(caller, state=story.state, title=story.title, story_so_far=so_far or "",
                                       recent=recent[::-1])
    chapter_suggestion_add(user_id=user_id, story=story, draft=draft, turn_number=turn.number)


def chapter_suggestion_add(*, user_id, story: Story, draft: ChapterDraft, turn_number: int) -> None:
    """Offer the Dreamer's next chapter to the player, who accepts it or not."""
    with acting_as(user_id):
        ChapterSuggestion.objects.create(
            user_id=story.user_id, story=story, title=draft.title, summary=draft.summary,
            narrative_instructions=draft.narrative_instructions, suggested_beats=draft.suggested_beats,
            created_turn=turn_number)


def _character_change(user_id, caller: AgentCaller, turn: Turn, character: Character) -> None:
    with acting_as(user_id):
        if CharacterSnapshot.objects.filter(character=character, turn_number=turn.number).exists():
            return
    character_snapshot_add(user_id=user_id, turn=turn, character=character,
                           change=dreamer.character_change(caller, name=character.name, number=turn.number,
                                                           prose=turn.prose))


def character_snapshot_add(*, user_id, turn: Turn, character: Character, change: CharacterChange) -> None:
    """Store how ``character`` is after ``turn``."""
    with acting_as(user_id):
        CharacterSnapshot.objects.create(user_id=turn.user_id, story_id=turn.story_id, character=character,
                                         turn_number=change.turn_number, summary=change.summary)
        quota_accounting.dreamer_added(user=user_id, story=turn.story, turn=None, text=change.summary)


def chapter_heal(*, user_id: str, chapter_id: str, turn_number: int, tier: str) -> None:
    """Take the healing ladder's rung ``tier`` for a chapter the story moved away from: relax its
    conditions, or have the Dreamer adapt it or write an alternate, stored by the chapters' healing
    services."""
    user_id = _owner_for(user_id, StoryChapter, chapter_id)
    if user_id is None:
        return  # deleted meanwhile, or not theirs to change
    with acting_as(user_id):
        chapter = StoryChapter.objects.filter(pk=chapter_id).first()
        if chapter is None or ChapterDivergenceLog.objects.filter(chapter=chapter, turn_number=turn_number,
                                                                  strategy=tier).exists():
            return  # deleted meanwhile, or a redelivered task whose rung is already taken
        story = Story.objects.get(pk=chapter.story_id)
        state = StoryState(**story.state)
    moment = embeddings.embed_moment(state)
    if tier == "relax":
        with acting_as(user_id):
            healing.relax(chapter, state=state, turn_number=turn_number, state_vector=moment)
        return
    text = chapter_evaluation.current_version(chapter) or chapter
    draft = dreamer.chapter_rewrite(
        AgentCaller(user=user_id, story=story, reserves_each_call=True), tier=tier, state=state, chapter_number=chapter.number,
        story={"title": story.title, "premise": story.premise},
        chapter={"title": chapter.title, "summary": chapter.summary,
                 "narrative_instructions": text.narrative_instructions, "beats": text.suggested_beats})
    with acting_as(user_id):
        if tier == "adapt":
            healing.adapt(chapter, state=state, turn_number=turn_number, instructions=draft.narrative_instructions,
                          beats=draft.suggested_beats, state_vector=moment)
        else:
            healing.alternate(chapter, state=state, turn_number=turn_number, title=draft.title,
                              instructions=draft.narrative_instructions, beats=draft.suggested_beats,
                              state_vector=moment)
