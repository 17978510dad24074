"""The three-way merge under source sync (DESIGN §5), as pure functions over texts by key.

``base`` is the version a fork last synced, ``source`` the author's new version, ``fork`` what the
fork reads now (its override, or the base text where it has none). For each key (a turn's number,
a chapter's number, a lore entry or character's key):

- changed only upstream: **applied**;
- changed only in the fork: **kept**;
- changed in both, the same way: nothing to do;
- changed in both, differently: a **conflict** the player resolves with ``source``, ``mine`` or
  ``both`` (the fork's text stays and the source's becomes an alternative of it).

Nothing is ever lost: a removal upstream is not applied (the fork keeps the text it reads), the
losing side of a resolved conflict stays as an alternative, and ``apply`` returns what ``undo``
needs to put the fork back exactly as it was. The database side (the sync run, its conflicts,
Celery for large syncs) builds on these in the sync issue.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

CHOICES = ("source", "mine", "both")


@dataclass(frozen=True)
class Conflict:
    key: Hashable
    base: str | None
    source: str | None
    fork: str


@dataclass
class MergePlan:
    applied: dict = field(default_factory=dict)  # key -> the source's text, taken by the fork
    kept: list = field(default_factory=list)  # keys the fork changed (or the source removed)
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass(frozen=True)
class ForkText:
    """What the fork reads for a key: its text and the alternatives kept beside it."""

    text: str
    alternatives: tuple[str, ...] = ()


def three_way(base: Mapping, source: Mapping, fork: Mapping) -> MergePlan:
    """Plan the merge over every key the fork reads (texts are ``str``; a missing key is ``None``)."""
    plan = MergePlan()
    for key in sorted(fork, key=_order):
        ours, theirs, was = fork[key], source.get(key), base.get(key)
        if theirs == was:
            if ours != was:
                plan.kept.append(key)
        elif theirs is None:
            plan.kept.append(key)  # removed upstream: the fork keeps what it reads
        elif ours == was:
            plan.applied[key] = theirs
        elif ours != theirs:
            plan.conflicts.append(Conflict(key=key, base=was, source=theirs, fork=ours))
    return plan


def resolve(conflict: Conflict, current: ForkText, choice: str) -> ForkText:
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
        previous[key] = state[key]
        merged[key] = ForkText(text, state[key].alternatives)
    return merged, previous


def undo(state: Mapping[Hashable, ForkText], previous: Mapping[Hashable, ForkText]) -> dict:
    restored = dict(state)
    restored.update(previous)
    return restored


def _with(alternatives: tuple[str, ...], text: str | None) -> tuple[str, ...]:
    return alternatives if text is None or text in alternatives else (*alternatives, text)


def _order(key):
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))
