"""The healing ladder as pure functions: least invasive first, each rung after its grace (DESIGN §4)."""

import pytest

from chapters.ladder import climb, nudge_hook
from core.contracts import StoryState

GRACE = 5


def walk(tier: str, *, turns: range, since: int = 1, impossible: bool = False, rung: str = "",
         at: int | None = None) -> list[tuple[int, str]]:
    """The rungs a chapter takes over ``turns`` while its tier stays ``tier``: (turn, rung) when one fires."""
    fired = []
    for turn in turns:
        step = climb(tier=tier, impossible=impossible, last_rung=rung, last_turn=at, since=since, turn_number=turn,
                     grace=GRACE)
        rung, at = step.rung, step.applied_turn
        if step.triggered:
            fired.append((turn, step.healing))
    return fired


def test_far_off_track_it_climbs_every_rung_each_after_its_grace():
    assert walk("alternate", turns=range(1, 40)) == [(6, "nudge"), (11, "relax"), (16, "adapt"), (21, "alternate")]


def test_nothing_fires_within_the_first_grace():
    assert walk("alternate", turns=range(1, 6)) == []


def test_merely_off_track_it_is_nudged_and_relaxed_and_never_replaced():
    assert walk("relax", turns=range(1, 60)) == [(6, "nudge"), (11, "relax")]


def test_in_the_adapt_interval_it_stops_at_adapt():
    assert walk("adapt", turns=range(1, 60)) == [(6, "nudge"), (11, "relax"), (16, "adapt")]


def test_on_track_nothing_fires_and_the_ladder_starts_again():
    assert walk("none", turns=range(1, 30)) == []
    back = climb(tier="none", impossible=False, last_rung="relax", last_turn=11, since=1, turn_number=12, grace=GRACE)
    assert (back.rung, back.applied_turn, back.triggered) == ("", None, False)
    # Off track again later: the nudge comes first once more, counted from when the chapter was first headed to.
    assert walk("alternate", turns=range(20, 22), since=1) == [(20, "nudge")]


def test_a_dead_critical_character_goes_straight_to_the_alternate():
    assert walk("alternate", impossible=True, turns=range(1, 30)) == [(6, "alternate")]
    # Even from a lower rung, and without waiting out that rung's grace once the first grace is over.
    assert walk("adapt", impossible=True, rung="nudge", at=9, turns=range(10, 12)) == [(10, "alternate")]


def test_an_alternate_is_never_healed_within_its_own_grace():
    # An alternate the story headed into at turn 21 is left alone until turn 26, impossible or not.
    assert walk("alternate", since=21, turns=range(21, 26)) == []
    assert walk("alternate", since=21, impossible=True, turns=range(21, 26)) == []
    assert walk("alternate", since=21, turns=range(21, 27)) == [(26, "nudge")]


def test_an_alternate_rung_is_taken_once():
    assert walk("alternate", rung="alternate", at=21, turns=range(22, 60)) == []


def test_healing_off_is_the_none_tier():
    # divergence.tier answers "none" when allow_divergence is false, and the ladder never moves on none.
    from chapters.divergence import Divergence, tier

    far = Divergence(score=0.99, hard=0.7, soft=0.29, unmet=["location"], similarity=0.0, impossible=["x"])
    assert tier(far, threshold=0.4, allow_divergence=False) == "none"
    assert walk(tier(far, threshold=0.4, allow_divergence=False), impossible=True, turns=range(1, 30)) == []


@pytest.mark.parametrize(("conditions", "unmet", "state", "hook"), [
    ({"location": "lighthouse", "character_present": "Captain Hale"}, ["location", "character_present"],
     StoryState(location="market"), "Captain Hale arrives with news of the lighthouse."),
    ({"location": ["cove", "beach"]}, ["location"], StoryState(), "A message arrives asking you to come to the cove."),
    ({"has_item": "lantern"}, ["has_item"], StoryState(), "A rumour tells of the lantern, and where it might be found."),
    ({"flag": "bell rung"}, ["flag"], StoryState(), "Something happens that points the way toward “The Bell”."),
    ({"min_turn": 9}, ["min_turn"], StoryState(), "Something happens that points the way toward “The Bell”."),
])
def test_the_nudge_hook_is_written_from_the_unmet_conditions(conditions, unmet, state, hook):
    assert nudge_hook(title="The Bell", conditions=conditions, unmet=unmet, state=state) == hook


def test_the_nudge_brings_only_the_living_who_are_missing():
    conditions = {"character_present": ["Orla", "Hale", "Abbess"], "location": "chapel"}
    state = StoryState(present_characters=["Orla"], flags=["dead:Hale"])
    assert nudge_hook(title="T", conditions=conditions, unmet=["character_present"], state=state) == (
        "Abbess arrives with news of T.")
