"""The healing ladder (DESIGN §4): what to do about a chapter the story is not reaching, least invasive first.

The divergence score says whether the story is on track (``divergence.tier``); the ladder says what
to do about it: **nudge** (the Strategist's briefing carries a hook that brings the chapter toward the
player), then **relax**, **adapt**, **alternate**, each rung given its grace turns before the next.
The tier the score falls in caps the climb: a chapter off track at 0.5 (tier relax) is nudged, then
relaxed, and goes no further; only at 0.9 or more may it end as an alternate. A critical condition
that can never be met (a required character is dead) goes straight to the alternate. Back on track,
the ladder starts again from the bottom. The first rung waits ``grace`` turns from the turn the
story started heading to the chapter, so a new chapter (an alternate too) is never healed within
its own grace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.contracts import StoryState

from .divergence import Tier
from .plain_words import with_article
from .triggers import DEAD_FLAG, as_list, fold

Rung = Literal["nudge", "relax", "adapt", "alternate"]
LADDER: tuple[Rung, ...] = ("nudge", "relax", "adapt", "alternate")
# How far up the ladder each tier of the score lets a chapter go.
CAP: dict[Tier, int] = {"none": -1, "relax": LADDER.index("relax"), "adapt": LADDER.index("adapt"),
                        "alternate": LADDER.index("alternate")}


@dataclass(frozen=True)
class Step:
    """Where a chapter stands on the ladder after this turn."""

    rung: str  # the rung in force (one of LADDER), "" when on track
    applied_turn: int | None  # the turn that rung was applied
    triggered: bool  # the rung was applied this turn

    @property
    def healing(self) -> str:
        return self.rung if self.triggered else ""


def climb(*, tier: Tier, impossible: bool, last_rung: str, last_turn: int | None, since: int, turn_number: int,
          grace: int) -> Step:
    """The next step for a chapter: ``tier`` from its divergence (``none`` also when healing is off),
    ``last_rung`` applied at ``last_turn`` ("" and None when none), ``since`` the turn the story
    started heading to it."""
    if tier == "none":
        return Step(rung="", applied_turn=None, triggered=False)  # on track: the ladder starts again
    stay = Step(rung=last_rung, applied_turn=last_turn, triggered=False)
    if turn_number - since < grace or last_rung == "alternate":
        return stay
    if impossible:  # no rung below can bring a dead character back
        return Step(rung="alternate", applied_turn=turn_number, triggered=True)
    if last_turn is not None and turn_number - last_turn < grace:
        return stay
    following = LADDER.index(last_rung) + 1 if last_rung else 0
    if following > CAP[tier]:
        return stay
    return Step(rung=LADDER[following], applied_turn=turn_number, triggered=True)


def nudge_hook(*, title: str, conditions: dict, unmet: list[str], state: StoryState) -> str:
    """A hook that brings the chapter toward the player, written from its unmet conditions: someone
    it needs arrives, a message or a rumour points to its place or thing; else a sign pointing to the
    chapter. No model call."""
    dead = {fold(flag[len(DEAD_FLAG):]) for flag in state.flags if fold(flag).startswith(DEAD_FLAG)}
    present = {fold(name) for name in state.present_characters}
    place = with_article(as_list(conditions["location"])[0]) if "location" in unmet else ""
    item = with_article(as_list(conditions["has_item"])[0]) if "has_item" in unmet else ""
    missing = [name for name in as_list(conditions.get("character_present", []))
               if fold(name) not in present and fold(name) not in dead] if "character_present" in unmet else []
    about = place or item or title
    if missing:
        return f"{missing[0]} arrives with news of {about}."
    if place:
        return f"A message arrives asking you to come to {place}."
    if item:
        return f"A rumour tells of {item}, and where it might be found."
    return f"Something happens that points the way toward “{title}”."  # a flag, a turn, or only the mood
