"""The story's state after a turn: deterministic, not left to the LLM alone (DESIGN §3).

The change read from the action and the passage (``state_extraction``: items from verbs of getting and
parting, location from verbs of movement, presence from arriving and leaving) comes first; the
Strategist's ``state_updates`` are applied on top.
"""

from __future__ import annotations

import re

from .contracts import StateUpdates, StoryState
from .state_extraction import COMPANION_FLAG, Scene, companions_in, state_change


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
               updates: StateUpdates, places: tuple[str, ...] = ()) -> StoryState:
    """The state after a turn: the deterministic change read from the action and the passage
    (``state_extraction``), then the Strategist's ``updates`` on top."""
    scene = Scene(location=state.location, present=tuple(state.present_characters), inventory=tuple(state.inventory),
                  cast=tuple(name for name in cast if name != player), player=player, places=places,
                  companions=companions_in(state.flags))
    change = state_change(action, scene=scene, prose=prose)
    present = _with(_without(list(state.present_characters), change.leaving), change.entering)
    present = _without(_with(present, updates.characters_entering), updates.characters_leaving)
    inventory = _without(_with(state.inventory, change.items_gained), change.items_lost)
    inventory = _without(_with(inventory, updates.items_gained), updates.items_lost)
    flags = _without(_with(state.flags, [COMPANION_FLAG + name for name in change.companions_joining]),
                     [COMPANION_FLAG + name for name in change.companions_parting])
    flags = _without(_with(flags, updates.flags_set), updates.flags_cleared)
    location = (updates.location or "").strip() or change.location or state.location
    return StoryState(location=location[:200], present_characters=present[:30], inventory=inventory[:100],
                      flags=flags[:200], tracked=state.tracked)
