"""Briefings per point of view (issue #20): the Preprocessor's knowledge step.

The cast and their secrets are read here and handed to ``chapters.knowledge`` (which reveals what is due and
builds a block per character in the scene); then every part of the briefing the agents share (lore notes,
the cast's notes) is cleared of secret text, so a secret reaches the agents only as a marked secret and in
the blocks of the characters who know it.
"""

from __future__ import annotations

from chapters.contracts import KnowledgeBrief
from chapters.knowledge import services as knowledge_services
from chapters.knowledge.rules import Member, mentions
from chapters.models import Knowledge
from core.contracts import StoryState

from ..contracts import CharacterNote, LoreNote
from ..models import Story


def about(description: str, personality: str) -> str:
    """A character's description fields as one fact (what a character's ``known_by`` keeps secret)."""
    return "\n".join(part for part in (description.strip(), personality.strip()) if part)


def knowledge_for(*, story: Story, state: StoryState, turn_number: int) -> KnowledgeBrief:
    cast = list(story.characters.only("pk", "name", "is_player", "factions", "known_by", "reveal_when",
                                      "description", "personality"))
    sources = [knowledge_services.SourceFact(source=Knowledge.Source.CHARACTER, ref=str(character.pk),
                                             text=about(character.description, character.personality),
                                             known_by=character.known_by, reveal_when=character.reveal_when)
               for character in cast if character.known_by and about(character.description, character.personality)]
    return knowledge_services.knowledge_for_turn(
        story_id=story.pk, user_id=story.user_id, state=state, turn_number=turn_number, sources=sources,
        cast=[Member(name=c.name, is_player=c.is_player, factions=tuple(c.factions)) for c in cast])


def _secret(text: str, knowledge: KnowledgeBrief) -> bool:
    return any(mentions(text, secret.fact) for secret in knowledge.secrets)


def characters_told(notes: list[CharacterNote], knowledge: KnowledgeBrief) -> list[CharacterNote]:
    """The cast's notes without their secret description fields (they live in the knowers' blocks)."""
    secrets = {secret.fact for secret in knowledge.secrets}
    told = []
    for note in notes:
        hidden = about(note.description, note.personality) in secrets
        told.append(note.model_copy(update={
            "description": "" if hidden or _secret(note.description, knowledge) else note.description,
            "personality": "" if hidden or _secret(note.personality, knowledge) else note.personality,
            "latest_change": "" if _secret(note.latest_change, knowledge) else note.latest_change}))
    return told


def lore_told(notes: list[LoreNote], knowledge: KnowledgeBrief) -> list[LoreNote]:
    """The fired lore without the entries that state a secret."""
    return [note for note in notes if not _secret(note.content, knowledge)]
