"""Chapter triggers, prerequisites, divergence and tiers: pure logic, no database."""

import pytest

from chapters.divergence import divergence, tier
from chapters.triggers import (
    ConditionError,
    evaluate,
    prerequisite_cycle,
    prerequisites_met,
    relaxed,
    validate_conditions,
)
from core.contracts import StoryState

THRONE = {"location": "throne room", "character_present": "King Aldric", "has_item": "Royal Decree"}
CAMP = StoryState(location="forest camp", present_characters=["King Aldric"], inventory=["stolen crown"])


def test_the_visions_example_hard_part_is_two_thirds_of_point_seven():
    result = divergence(evaluate(THRONE, CAMP, 12), similarity=1.0)
    assert result.unmet == ["location", "has_item"]
    assert result.hard == pytest.approx(0.7 * 2 / 3)
    assert result.soft == 0 and result.score == pytest.approx(0.7 * 2 / 3)


def test_soft_part_uses_clipped_cosine():
    met = evaluate({}, CAMP, 1)
    assert divergence(met, similarity=0.2).score == pytest.approx(0.3 * 0.8)
    assert divergence(met, similarity=-0.5).soft == pytest.approx(0.3)
    assert divergence(met, similarity=1.7).soft == 0


def test_no_conditions_means_no_hard_part():
    result = divergence(evaluate({}, CAMP, 1), similarity=1.0)
    assert result.hard == 0 and result.score == 0 and tier(result, threshold=0.4) == "none"


def scored(score: float):
    """A divergence with exactly this score (all of it soft)."""
    from chapters.divergence import Divergence

    return Divergence(score=score, hard=0, soft=score, unmet=[], similarity=1 - score / 0.3, impossible=[])


@pytest.mark.parametrize(("score", "expected"), [
    (0.0, "none"), (0.3999, "none"), (0.4, "relax"), (0.6999, "relax"), (0.7, "adapt"), (0.8999, "adapt"),
    (0.9, "alternate"), (1.0, "alternate"),
])
def test_tier_boundaries_are_half_open(score, expected):
    assert tier(scored(score), threshold=0.4) == expected


def test_a_chapters_own_threshold_moves_the_relax_boundary():
    assert tier(scored(0.45), threshold=0.5) == "none"
    assert tier(scored(0.5), threshold=0.5) == "relax"


def test_healing_off_never_fires():
    assert tier(scored(0.95), threshold=0.4, allow_divergence=False) == "none"


def test_a_dead_required_character_makes_the_chapter_impossible():
    state = StoryState(location="throne room", present_characters=[], flags=["dead:King Aldric"])
    result = divergence(evaluate(THRONE, state, 5), similarity=1.0)
    assert result.impossible == ["character_present: king aldric is dead"]
    assert tier(result, threshold=0.4) == "alternate"


class TestConditions:
    def test_location_any_of_characters_all_of_items_any_of(self):
        state = StoryState(location="The Old Bridge", present_characters=["Mara", "Tobin"], inventory=["rope"],
                           flags=["night"])
        met = evaluate({"location": ["North Gate", "old bridge"], "character_present": ["mara", "Tobin"],
                        "has_item": ["horn", "Rope"], "flag": "night", "min_turn": 3}, state, 3).met
        assert all(met.values())
        assert not evaluate({"character_present": ["Mara", "Orla"]}, state, 3).all_met
        assert not evaluate({"min_turn": 4}, state, 3).all_met

    @pytest.mark.parametrize("bad", [
        {"weather": "rain"}, {"location": 5}, {"location": []}, {"has_item": ["ok", 3]}, {"min_turn": "5"},
        {"min_turn": -1}, {"min_turn": True}, {"flag": "  "}, ["location"],
    ])
    def test_malformed_conditions_are_errors(self, bad):
        with pytest.raises(ConditionError):
            validate_conditions(bad)


class TestPrerequisites:
    def test_required_and_blocked(self):
        assert prerequisites_met([1, 2], [], {1, 2})
        assert not prerequisites_met([1, 2], [], {1})
        assert not prerequisites_met([], [3], {3})

    def test_cycles_are_found(self):
        assert prerequisite_cycle({1: [], 2: [1], 3: [2]}) is None
        assert set(prerequisite_cycle({1: [3], 2: [1], 3: [2]})) == {1, 2, 3}
        assert prerequisite_cycle({1: [1]}) == [1, 1]


def test_relax_keeps_critical_drops_location_and_accepts_held_items():
    relaxed_conditions = relaxed(THRONE, ["character_present"], CAMP)
    assert relaxed_conditions == {"character_present": "King Aldric", "has_item": ["Royal Decree", "stolen crown"]}
