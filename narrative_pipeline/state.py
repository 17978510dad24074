"""The story's state after a turn: deterministic, not left to the LLM alone (DESIGN §3).

Names the story knows (its cast) are matched in the action and the prose; the Strategist's
``state_updates`` are applied on top.
"""

from __future__ import annotations

import re

from .contracts import StateUpdates, StoryState


def mentioned(name: str, text: str) -> bool:
    return bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None


def _without(items: list[str], removed: list[str]) -> list[str]:
    gone = {item.casefold() for item in removed}
    return [item for item in items if item.casefold() not in gone]


def _with(items: list[str], added: list[str]) -> list[str]:
    result = list(items)
    for item in added:
        if item and item.casefold() not in {existing.casefold() for existing in result}:
            result.append(item)
    return result


def next_state(state: StoryState, *, cast: list[str], player: str | None, action: str, prose: str,
               updates: StateUpdates) -> StoryState:
    present = list(state.present_characters)
    # Cast members named in this turn are in the scene (the player character is always there).
    present = _with(present, [name for name in cast if name != player and (mentioned(name, prose)
                                                                           or mentioned(name, action))])
    present = _with(present, updates.characters_entering)
    present = _without(present, updates.characters_leaving)
    inventory = _without(_with(state.inventory, updates.items_gained), updates.items_lost)
    flags = _without(_with(state.flags, updates.flags_set), updates.flags_cleared)
    location = (updates.location or "").strip() or state.location
    return StoryState(location=location[:200], present_characters=present[:30], inventory=inventory[:100],
                      flags=flags[:200], tracked=state.tracked)
