"""Who knows a fact, when it becomes common knowledge, and what each character is briefed on: pure functions.

A fact's ``known_by`` lists character names, faction tags (``faction:smugglers``, matching a character's
``factions``), ``player`` (the player character), ``everyone`` or ``nobody`` (no character: a secret only the narrator holds,
as an imported "AI only" one); empty means everyone. ``reveal_when`` is a
chapter trigger condition (``chapters.triggers``: location, character_present, has_item, flag, min_turn — the
same evaluator, one rule in one place) plus ``chapter_completed`` (a chapter number or a list of them, all
completed) and ``chapter_beat`` (a beat's text or a list of them: revealed once the Dreamer confirmed a passage
told each, so a chapter beat reveals it). A fact is common knowledge when everyone knows it or once it is revealed; until then it is a
secret: only its knowers' blocks carry it, and the narrator sees it marked as a secret it may foreshadow
but must not state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.contracts import StoryState

from ..contracts import CharacterKnowledge, KnowledgeBrief, SecretNote, WithheldSecret
from ..triggers import CONDITION_KEYS, ConditionError, evaluate, fold, validate_conditions

EVERYONE, PLAYER, FACTION, NOBODY = "everyone", "player", "faction:", "nobody"
CHAPTER_COMPLETED, CHAPTER_BEAT = "chapter_completed", "chapter_beat"
CHAPTER_KEYS = (CHAPTER_COMPLETED, CHAPTER_BEAT)
REVEAL_KEYS = (*CONDITION_KEYS, *CHAPTER_KEYS)
SECRET_MARK = "secret — may foreshadow, must not state"
MAX_FACT_CHARS, MAX_KNOWERS, MAX_FACTS_PER_BLOCK, LABEL_CHARS = 1_000, 50, 16, 80


class KnowledgeError(ValueError):
    """A fact's ``known_by`` or ``reveal_when`` is malformed; the message says which."""


def audience_validate(known_by) -> list[str]:
    """``known_by``, checked and trimmed: a list of names, ``faction:<tag>``, ``player`` or ``everyone``."""
    if known_by is None:
        return []
    if isinstance(known_by, str):
        known_by = [part for part in known_by.split(",")]
    if not isinstance(known_by, list) or not all(isinstance(who, str) for who in known_by):
        raise KnowledgeError("known_by must be a list of names, faction:<tag>, player or everyone.")
    knowers = [" ".join(who.split()) for who in known_by if who.strip()]
    if len(knowers) > MAX_KNOWERS or any(len(who) > 200 for who in knowers):
        raise KnowledgeError(f"known_by holds at most {MAX_KNOWERS} names of up to 200 characters.")
    if any(fold(who) == FACTION or (fold(who).startswith(FACTION) and not who[len(FACTION):].strip())
           for who in knowers):
        raise KnowledgeError("A faction in known_by needs its tag: faction:<tag>.")
    return [] if any(fold(who) == EVERYONE for who in knowers) else knowers


def factions_validate(factions) -> list[str]:
    """A character's ``factions``: tags such as ``smugglers`` (a ``faction:`` prefix is dropped), as
    ``known_by``'s ``faction:<tag>`` names them."""
    if factions is None:
        return []
    if isinstance(factions, str):
        factions = factions.split(",")
    if not isinstance(factions, list) or not all(isinstance(tag, str) for tag in factions):
        raise KnowledgeError("factions must be a list of tags, e.g. [\"smugglers\"].")
    tags = [" ".join((tag.strip()[len(FACTION):] if fold(tag).startswith(FACTION) else tag).split()) for tag in factions]
    tags = [tag for tag in tags if tag]
    if len(tags) > MAX_KNOWERS or any(len(tag) > 200 for tag in tags):
        raise KnowledgeError(f"factions holds at most {MAX_KNOWERS} tags of up to 200 characters.")
    return list(dict.fromkeys(tags))


def reveal_validate(reveal_when) -> dict:
    """``reveal_when``, checked: the chapter condition keys (unknown keys are errors) and ``chapter_completed``."""
    if not reveal_when:
        return {}
    if not isinstance(reveal_when, dict):
        raise KnowledgeError("reveal_when must be an object of condition keys.")
    conditions = {key: value for key, value in reveal_when.items() if key not in CHAPTER_KEYS}
    try:
        validate_conditions(conditions)
    except ConditionError as error:
        raise KnowledgeError(f"reveal_when: {error} (or {', '.join(CHAPTER_KEYS)}).") from error
    if CHAPTER_BEAT in reveal_when:
        beats = reveal_when[CHAPTER_BEAT]
        beats = [beats] if isinstance(beats, str) else beats
        if not isinstance(beats, list) or not beats or not all(isinstance(b, str) and b.strip() for b in beats):
            raise KnowledgeError(f"{CHAPTER_BEAT} must be a beat's text or a list of them.")
    if CHAPTER_COMPLETED in reveal_when:
        chapters = reveal_when[CHAPTER_COMPLETED]
        chapters = [chapters] if isinstance(chapters, int) else chapters
        if not isinstance(chapters, list) or not chapters or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in chapters):
            raise KnowledgeError(f"{CHAPTER_COMPLETED} must be a chapter number or a list of them.")
    return reveal_when


def fact_validate(fact) -> str:
    if not isinstance(fact, str) or not fact.strip():
        raise KnowledgeError("The fact must be text.")
    if "\x00" in fact or len(fact) > MAX_FACT_CHARS:
        raise KnowledgeError(f"The fact must be at most {MAX_FACT_CHARS} characters of text.")
    return fact.strip()


def reveal_holds(reveal_when: dict, state: StoryState, turn_number: int, completed: set[int],
                 beats_told: set[str] = frozenset()) -> bool:
    """Whether the fact's reveal condition holds now (never, without one); ``beats_told``: the chapter beats the
    Dreamer confirmed a passage told (folded)."""
    if not reveal_when:
        return False
    conditions = {key: value for key, value in reveal_when.items() if key not in CHAPTER_KEYS}
    chapters = reveal_when.get(CHAPTER_COMPLETED, [])
    chapters = [chapters] if isinstance(chapters, int) else chapters
    beats = reveal_when.get(CHAPTER_BEAT, [])
    beats = [beats] if isinstance(beats, str) else beats
    return (evaluate(conditions, state, turn_number).all_met and all(number in completed for number in chapters)
            and all(fold(beat) in beats_told for beat in beats))


@dataclass(frozen=True)
class Fact:
    id: int
    text: str
    known_by: tuple[str, ...] = ()
    revealed: bool = False

    @property
    def common(self) -> bool:
        return self.revealed or not self.known_by or any(fold(who) == EVERYONE for who in self.known_by)


@dataclass(frozen=True)
class Member:
    """A cast member as the knowledge rules read it."""

    name: str
    is_player: bool = False
    factions: tuple[str, ...] = field(default_factory=tuple)


def knows(fact: Fact, member: Member) -> bool:
    if fact.common:
        return True
    tags = {fold(tag) for tag in member.factions}
    for who in map(fold, fact.known_by):
        if who == NOBODY:
            continue
        if who == fold(member.name) or (who == PLAYER and member.is_player):
            return True
        if who.startswith(FACTION) and who[len(FACTION):].strip() in tags:
            return True
    return False


def mentions(text: str, fact: str) -> bool:
    """Whether ``text`` states ``fact`` (folded string match, the measure the bench uses)."""
    return bool(fact.strip()) and fold(fact) in fold(text)


def knowledge_brief(facts: list[Fact], cast: list[Member], present: list[str], revealed_now: list[Fact]
                    ) -> KnowledgeBrief:
    """Per point of view: the common facts, a block per character in the scene (the player character and
    those present) holding only the secrets that character knows, the secrets marked for the narrator, and
    which secrets were withheld from whom (for the writers' room, not the agents)."""
    if not facts:
        return KnowledgeBrief()  # a story without facts has nothing to brief
    in_scene = {fold(name) for name in present}
    scene = [member for member in cast if member.is_player or fold(member.name) in in_scene]
    secrets = [fact for fact in facts if not fact.common]
    return KnowledgeBrief(
        common=[fact.text for fact in facts if fact.common][-MAX_FACTS_PER_BLOCK:],
        characters=[CharacterKnowledge(name=member.name, knows=[fact.text for fact in secrets
                                                               if knows(fact, member)][:MAX_FACTS_PER_BLOCK])
                    for member in scene],
        secrets=[SecretNote(fact=fact.text, known_by=list(fact.known_by), note=SECRET_MARK)
                 for fact in secrets][:MAX_FACTS_PER_BLOCK],
        withheld=[WithheldSecret(knowledge_id=fact.id, label=label(fact.text),
                                 withheld_from=[member.name for member in scene if not knows(fact, member)])
                  for fact in secrets if any(not knows(fact, member) for member in scene)],
        revealed=[fact.text for fact in revealed_now],
    )


def label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


# Learning, read from a passage (the Dreamer's deterministic rule; a model answers the same question) ----------

LEARNS = re.compile(r"(?<![\w'])(?P<who>[A-Z][\w'-]*(?: [A-Z][\w'-]*)?)\s+(?:now\s+)?(?:learns|learned|has learned|"
                    r"knows|finds out|found out|discovers|discovered|realizes|realised|realises|realized)\s+that\s+"
                    r"(?P<fact>[^.!?\n]{3,300})")


def learned_from_passage(passage: str, present: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    """``(character, fact)`` pairs a passage teaches: a character in the scene "learns that …" (any fact;
    that sentence teaches only them), and everyone in the scene learns a secret the rest of the passage states."""
    in_scene = {fold(name): name for name in present}
    pairs = []
    for match in LEARNS.finditer(passage):
        who = in_scene.get(fold(match.group("who")))
        if who is not None:
            pairs.append((who, match.group("fact").strip()))
    aloud = LEARNS.sub(" ", passage)
    for secret in secrets:
        if mentions(aloud, secret):
            pairs += [(name, secret) for name in present]
    return list(dict.fromkeys(pairs))
