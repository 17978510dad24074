"""The three-way merge under source sync (DESIGN §5), as pure functions over texts by key.

``base`` is the version a fork last synced, ``source`` the author's new version, ``fork`` what the
fork reads now (its override, or the base text where it has none); a key missing from one of them
is an item it does not have. For each key (a turn's number, a chapter's number, a lore entry or
character's key), with texts or any other comparable values (a chapter's fields):

- changed only upstream: **applied** (an item the author added is added);
- changed only in the fork: **kept**;
- changed in both, the same way: nothing to do;
- changed in both, differently: a **conflict** the player resolves with ``source``, ``mine`` or
  ``both`` (the fork's text stays and the source's becomes an alternative of it).

Nothing is ever lost: a removal upstream is not applied (the fork keeps the text it reads), the
losing side of a resolved conflict stays as an alternative, and ``apply`` returns what ``undo``
needs to put the fork back exactly as it was. ``sync.py`` applies them to a fork's rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

CHOICES = ("source", "mine", "both")


@dataclass(frozen=True)
class MergeConflict:
    key: Hashable
    base: object | None
    source: object | None
    fork: object | None


@dataclass
class MergePlan:
    applied: dict = field(default_factory=dict)  # key -> the source's text, taken by the fork
    kept: list = field(default_factory=list)  # keys the fork changed (or the source removed)
    conflicts: list[MergeConflict] = field(default_factory=list)


@dataclass(frozen=True)
class ForkText:
    """What the fork reads for a key: its text and the alternatives kept beside it."""

    text: str
    alternatives: tuple[str, ...] = ()


def three_way(base: Mapping, source: Mapping, fork: Mapping, keys=None) -> MergePlan:
    """Plan the merge over ``keys`` (default: every key of the three; a missing key is ``None``)."""
    plan = MergePlan()
    for key in sorted(set(base) | set(source) | set(fork) if keys is None else keys, key=_order):
        ours, theirs, was = fork.get(key), source.get(key), base.get(key)
        if theirs == was:
            if ours != was:
                plan.kept.append(key)
        elif theirs is None:
            if ours is not None:
                plan.kept.append(key)  # removed upstream: the fork keeps what it reads
        elif ours == was:
            plan.applied[key] = theirs
        elif ours != theirs:
            plan.conflicts.append(MergeConflict(key=key, base=was, source=theirs, fork=ours))
    return plan


def resolve(conflict: MergeConflict, current: ForkText, choice: str) -> ForkText:
    """The fork's text after a resolution; the side that loses stays as an alternative."""
    if choice not in CHOICES:
        raise ValueError(f"The choice is one of {', '.join(CHOICES)}, not {choice!r}.")
    if choice == "mine":
        return current
    if choice == "both":
        return ForkText(current.text, _with(current.alternatives, conflict.source))
    return ForkText(conflict.source, _with(current.alternatives, current.text))


def apply(state: Mapping[Hashable, ForkText], plan: MergePlan) -> tuple[dict, dict]:
    """The fork's texts with the applied changes, and the record ``undo`` needs (the previous texts)."""
    merged, previous = dict(state), {}
    for key, text in plan.applied.items():
        previous[key] = state.get(key)  # None: the item was added, and undo removes it
        merged[key] = ForkText(text, state[key].alternatives if key in state else ())
    return merged, previous


def undo(state: Mapping[Hashable, ForkText], previous: Mapping[Hashable, ForkText | None]) -> dict:
    restored = dict(state)
    for key, before in previous.items():
        if before is None:
            restored.pop(key, None)
        else:
            restored[key] = before
    return restored


def _with(alternatives: tuple[str, ...], text: str | None) -> tuple[str, ...]:
    return alternatives if text is None or text in alternatives else (*alternatives, text)


def _order(key):
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))
