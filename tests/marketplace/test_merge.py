"""The source-sync merge rules as unit and property tests (pure, no database)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.merge import ForkText, MergeConflict, apply, resolve, three_way, undo


def test_the_issue_s_life_of_a_fork():
    base = {n: f"turn {n}" for n in range(1, 31)}
    source = {**base, 2: "turn 2, improved", 7: "turn 7, the author's"}
    fork = {**base, 3: "turn 3, mine", 7: "turn 7, mine"}
    plan = three_way(base, source, fork)
    assert plan.applied == {2: "turn 2, improved"}
    assert plan.kept == [3]
    assert plan.conflicts == [MergeConflict(key=7, base="turn 7", source="turn 7, the author's", fork="turn 7, mine")]


def test_same_change_on_both_sides_is_no_conflict_and_upstream_removal_is_kept():
    plan = three_way({1: "a", 2: "b"}, {1: "c"}, {1: "c", 2: "b"})
    assert plan.applied == {} and plan.conflicts == [] and plan.kept == [2]


def test_an_item_added_upstream_is_added_and_one_the_fork_removed_stays_removed():
    plan = three_way({1: "a"}, {1: "a", 2: "new"}, {})
    assert plan.applied == {2: "new"} and plan.kept == [1]
    merged, previous = apply({}, plan)
    assert merged == {2: ForkText("new")} and undo(merged, previous) == {}


def test_an_item_the_fork_removed_and_the_author_changed_is_a_conflict():
    assert three_way({1: "a"}, {1: "b"}, {}).conflicts == [MergeConflict(key=1, base="a", source="b", fork=None)]


@pytest.mark.parametrize(("choice", "text", "alternatives"), [
    ("source", "theirs", ("older", "mine")), ("mine", "mine", ("older",)), ("both", "mine", ("older", "theirs"))])
def test_each_resolution_keeps_the_losing_side(choice, text, alternatives):
    conflict = MergeConflict(key=7, base="base", source="theirs", fork="mine")
    assert resolve(conflict, ForkText("mine", ("older",)), choice) == ForkText(text, alternatives)


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="source, mine, both"):
        resolve(MergeConflict(key=1, base="a", source="b", fork="c"), ForkText("c"), "theirs")


texts = st.sampled_from(["a", "b", "c", "d"])
versions = st.dictionaries(st.integers(1, 12), texts, max_size=12)
removals = st.sets(st.integers(1, 12), max_size=4)


@settings(max_examples=200, deadline=None)
@given(base=versions, source_changes=versions, fork_changes=versions, source_removed=removals, fork_removed=removals)
def test_applying_then_undoing_restores_the_fork_and_no_text_disappears(base, source_changes, fork_changes,
                                                                       source_removed, fork_removed):
    source = {key: text for key, text in {**base, **source_changes}.items() if key not in source_removed}
    fork = {key: text for key, text in {**base, **fork_changes}.items() if key not in fork_removed}
    state = {key: ForkText(text) for key, text in fork.items()}
    plan = three_way(base, source, fork)
    merged, previous = apply(state, plan)
    assert undo(merged, previous) == state
    for key, text in fork.items():  # every text the fork had is still read, or kept for undo
        assert merged[key].text == text or previous[key].text == text
    for conflict in plan.conflicts:  # the fork's side always stays; the source's stays in its version
        if conflict.fork is None:
            continue  # the fork removed the item: resolving it is the caller's (sync.py) business
        for choice in ("source", "mine", "both"):
            resolved = resolve(conflict, merged[conflict.key], choice)
            assert conflict.fork in {resolved.text, *resolved.alternatives}
            if choice != "mine":
                assert conflict.source in {resolved.text, *resolved.alternatives}
    assert set(plan.kept) <= set(fork) | set(base)
    assert all(key in fork or key not in base for key in plan.applied)  # never re-adds what the fork removed
    assert all(source[key] == text for key, text in plan.applied.items())
