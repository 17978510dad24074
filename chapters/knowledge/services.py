"""Writes to the story's knowledge: add, edit, delete a fact, a character learning one, and the per-turn step
(``knowledge_for_turn``) that reveals secrets whose condition first holds and briefs each point of view.

Callers run as the story's owner or a co-author (inside ``acting_as``); RLS keeps other stories out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from core.contracts import StoryState

from ..contracts import KnowledgeBrief
from ..models import ChapterProgress, Knowledge, LoreEntry
from . import rules
from .rules import CHAPTER_KEYS, Fact, Member

logger = logging.getLogger("luna.knowledge")
MIRRORED = (Knowledge.Source.LORE_ENTRY, Knowledge.Source.CHARACTER)


@dataclass(frozen=True)
class SourceFact:
    """A lore entry or a character that carries ``known_by``: mirrored into a Knowledge row each turn."""

    source: str
    ref: str
    text: str
    known_by: list[str]
    reveal_when: dict


@transaction.atomic
def knowledge_add(*, story_id, user_id, fact, known_by=None, reveal_when=None, source=Knowledge.Source.MANUAL,
                  source_ref: str = "", evidence_turn: int | None = None) -> Knowledge:
    return Knowledge.objects.create(
        story_id=story_id, user_id=user_id, fact=rules.fact_validate(fact), known_by=rules.audience_validate(known_by),
        reveal_when=rules.reveal_validate(reveal_when), source=source, source_ref=source_ref[:200],
        evidence_turn=evidence_turn)


@transaction.atomic
def knowledge_edit(*, knowledge: Knowledge, fact=None, known_by=None, reveal_when=None,
                   revealed: bool | None = None, turn_number: int | None = None) -> Knowledge:
    """Change a fact; ``revealed=True`` reveals it by hand (from ``turn_number``), ``False`` hides it again."""
    if fact is not None:
        knowledge.fact = rules.fact_validate(fact)
    if known_by is not None:
        knowledge.known_by = rules.audience_validate(known_by)
    if reveal_when is not None:
        knowledge.reveal_when = rules.reveal_validate(reveal_when)
    if revealed is True and knowledge.revealed_at_turn is None:
        knowledge.revealed_at_turn, knowledge.revealed_by = turn_number or 0, "manual"
    elif revealed is False:
        knowledge.revealed_at_turn, knowledge.revealed_by = None, ""
    knowledge.save()
    return knowledge


@transaction.atomic
def knowledge_delete(*, knowledge: Knowledge) -> None:
    knowledge.delete()


@transaction.atomic
def knowledge_learn(*, story_id, user_id, character: str, fact: str, turn_number: int) -> Knowledge | None:
    """``character`` learned ``fact`` in turn ``turn_number`` (the turn is the evidence). A fact already
    recorded (same text, folded) gains the character among its knowers; a new one is recorded for them
    alone. Returns None when they knew it already (so a redelivered Dreamer task changes nothing)."""
    text = rules.fact_validate(fact)
    existing = next((row for row in Knowledge.objects.select_for_update().filter(story_id=story_id)
                     if rules.fold(row.fact) == rules.fold(text)), None)
    if existing is None:
        return Knowledge.objects.create(story_id=story_id, user_id=user_id, fact=text, known_by=[character],
                                        source=Knowledge.Source.TURN, evidence_turn=turn_number,
                                        learned_at={character: turn_number})
    if not existing.known_by or any(rules.fold(who) == rules.fold(character) for who in existing.known_by):
        return None
    existing.known_by = [*existing.known_by, character]
    existing.evidence_turn = existing.evidence_turn or turn_number
    existing.learned_at = {**existing.learned_at, character: turn_number}
    existing.save(update_fields=["known_by", "evidence_turn", "learned_at", "updated_at"])
    return existing


KEPT_FIELDS = ("fact", "known_by", "reveal_when", "revealed_at_turn", "revealed_by", "evidence_turn", "source",
               "source_ref", "learned_at")


PASSAGE = "passage"  # revealed by a chapter beat (or completion) the turn's passage told (``knowledge_reveal_told``)


def _revealed_by_turn(row: Knowledge, turn_number: int, passage_only: bool) -> bool:
    """Whether turn ``turn_number`` or a later one revealed the fact (a reveal by hand is the author's); with
    ``passage_only``, whether the passage of such a turn did."""
    if row.revealed_at_turn is None or row.revealed_at_turn < turn_number or row.revealed_by == "manual":
        return False
    return not passage_only or row.revealed_by == PASSAGE


@transaction.atomic
def knowledge_turn_undo(*, story_id, turn_number: int, passage_only: bool = False) -> list[dict]:
    """Forget what turn ``turn_number`` (and any later one) did to the story's facts, as its undo: its reveals
    are hidden again (a reveal by hand stays), those who learned a fact from its prose no longer know it (a fact
    only the prose taught goes). ``passage_only``: only what its passage did (its prose's learning and the
    reveals of the beats it told), as when the passage is replaced; reveals judged from the state before the turn
    stand. Returns the facts as they were, for ``knowledge_turn_redo``."""
    kept = []
    for row in Knowledge.objects.select_for_update().filter(story_id=story_id).order_by("id"):
        hidden = _revealed_by_turn(row, turn_number, passage_only)
        if not hidden and all(turn < turn_number for turn in row.learned_at.values()):
            continue
        kept.append({"id": row.pk, **{name: getattr(row, name) for name in KEPT_FIELDS}})
        forgotten = {who for who, turn in row.learned_at.items() if turn >= turn_number}
        row.learned_at = {who: turn for who, turn in row.learned_at.items() if who not in forgotten}
        row.known_by = [who for who in row.known_by if who not in forgotten]
        if row.source == Knowledge.Source.TURN and not row.known_by:
            row.delete()  # only this turn's prose taught it ("known by nobody left" is not "everyone")
            continue
        if hidden:
            row.revealed_at_turn, row.revealed_by = None, ""
        if row.evidence_turn is not None and row.evidence_turn >= turn_number:  # the evidence was that turn's
            row.evidence_turn = min(row.learned_at.values(), default=None)
        row.save()
    return kept


@transaction.atomic
def knowledge_turn_redo(*, story_id, user_id, kept: list[dict]) -> None:
    """Put back the facts ``knowledge_turn_undo`` returned, as the turn's redo."""
    for image in kept:
        fields = {name: image[name] for name in KEPT_FIELDS}
        Knowledge.objects.update_or_create(pk=image["id"], story_id=story_id,
                                           defaults={**fields, "user_id": user_id})


def _mirror(story_id, user_id, sources: list[SourceFact]) -> None:
    """Lore entries and characters that carry ``known_by`` become Knowledge rows (their reveal state kept)."""
    rows = {(row.source, row.source_ref): row
            for row in Knowledge.objects.filter(story_id=story_id, source__in=MIRRORED)}
    for item in sources:
        row = rows.pop((item.source, item.ref), None)
        if row is None:
            Knowledge.objects.create(story_id=story_id, user_id=user_id, fact=item.text[: rules.MAX_FACT_CHARS],
                                     known_by=item.known_by, reveal_when=item.reveal_when, source=item.source,
                                     source_ref=item.ref)
        elif (row.fact, row.known_by, row.reveal_when) != (item.text[: rules.MAX_FACT_CHARS], item.known_by,
                                                           item.reveal_when):
            row.fact, row.known_by, row.reveal_when = item.text[: rules.MAX_FACT_CHARS], item.known_by, item.reveal_when
            row.save(update_fields=["fact", "known_by", "reveal_when", "updated_at"])
    Knowledge.objects.filter(pk__in=[row.pk for row in rows.values()]).delete()  # no longer secret at the source


def lore_sources(story_id) -> list[SourceFact]:
    entries = LoreEntry.objects.filter(story_id=story_id, enabled=True).exclude(known_by=[])
    return [SourceFact(source=Knowledge.Source.LORE_ENTRY, ref=str(entry.pk), text=entry.content,
                       known_by=entry.known_by, reveal_when=entry.reveal_when)
            for entry in entries.only("pk", "content", "known_by", "reveal_when") if entry.content.strip()]


def _chapters_told(story_id) -> tuple[set[int], set[str]]:
    """The story's completed chapters (numbers) and the chapter beats the Dreamer confirmed told (folded)."""
    completed, beats = set(), set()
    for number, status, addressed in ChapterProgress.objects.filter(story_id=story_id).values_list(
            "chapter__number", "status", "beats_addressed"):
        if status == ChapterProgress.Status.COMPLETED:
            completed.add(number)
        beats |= {rules.fold(beat) for beat in addressed}
    return completed, beats


def _reveal(row: Knowledge, state: StoryState, turn_number: int, told: tuple[set[int], set[str]]) -> bool:
    """Update the row's reveal for this turn; True when it becomes common knowledge in this turn.

    A reveal stands once an earlier turn made it; one made in this turn or a later one (a reroll, a turn
    played again after an undo) is judged again from this turn's state, so it lands on the turn its
    condition first holds."""
    if row.revealed_by == "manual" or not row.reveal_when:
        return False
    if row.revealed_at_turn is not None and row.revealed_at_turn < turn_number:
        return False
    holds = rules.reveal_holds(row.reveal_when, state, turn_number, *told)
    if holds:
        by = "chapter" if set(row.reveal_when) <= set(CHAPTER_KEYS) else "condition"
        if (row.revealed_at_turn, row.revealed_by) != (turn_number, by):
            row.revealed_at_turn, row.revealed_by = turn_number, by
            row.save(update_fields=["revealed_at_turn", "revealed_by", "updated_at"])
            logger.info("knowledge %s of story %s revealed at turn %s (%s)", row.pk, row.story_id, turn_number, by)
        return True
    if row.revealed_at_turn is not None:
        row.revealed_at_turn, row.revealed_by = None, ""
        row.save(update_fields=["revealed_at_turn", "revealed_by", "updated_at"])
    return False


@transaction.atomic
def knowledge_reveal_told(*, story_id, state: StoryState, turn_number: int) -> list[Knowledge]:
    """The secrets a chapter reveals (``chapter_beat``, ``chapter_completed``) that hold now that the Dreamer
    confirmed what turn ``turn_number``'s passage told: revealed on that turn, with it as evidence, so a beat's
    reveal lands on the turn whose prose carries it, not on the next one. ``state``: the state before that
    turn, as the Preprocessor judged the turn's other conditions."""
    told = _chapters_told(story_id)
    revealed = []
    for row in Knowledge.objects.select_for_update().filter(story_id=story_id, revealed_at_turn__isnull=True):
        if (not set(row.reveal_when) & set(CHAPTER_KEYS) or row.revealed_by == "manual"
                or not rules.reveal_holds(row.reveal_when, state, turn_number, *told)):
            continue
        row.revealed_at_turn, row.evidence_turn = turn_number, row.evidence_turn or turn_number
        row.revealed_by = PASSAGE  # so replacing the passage hides it again (``knowledge_turn_undo``)
        row.save(update_fields=["revealed_at_turn", "revealed_by", "evidence_turn", "updated_at"])
        logger.info("knowledge %s of story %s revealed at turn %s by a chapter the passage told", row.pk, story_id,
                    turn_number)
        revealed.append(row)
    return revealed


@transaction.atomic
def knowledge_for_turn(*, story_id, user_id, state: StoryState, turn_number: int, cast: list[Member],
                       sources: list[SourceFact]) -> KnowledgeBrief:
    """The turn's knowledge step, run by the Preprocessor on the state before the turn: mirror the lore
    entries and characters that carry ``known_by`` (``sources``; the lore ones are read here), reveal each
    secret whose ``reveal_when`` first holds, and brief each point of view (``rules.knowledge_brief``)."""
    _mirror(story_id, user_id, [*lore_sources(story_id), *sources])
    told = _chapters_told(story_id)
    facts, revealed_now = [], []
    for row in Knowledge.objects.select_for_update().filter(story_id=story_id).order_by("id"):
        now = _reveal(row, state, turn_number, told)
        revealed = row.revealed_at_turn is not None and row.revealed_at_turn <= turn_number
        fact = Fact(id=row.pk, text=row.fact, known_by=tuple(row.known_by), revealed=revealed)
        facts.append(fact)
        if now:
            revealed_now.append(fact)
    present = [name for name in state.present_characters]
    return rules.knowledge_brief(facts, cast, present, revealed_now)
