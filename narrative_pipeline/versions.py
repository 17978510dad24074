"""The versions of one passage: its current prose and its ``alternatives`` (earlier rerolls, texts a
sync kept), numbered 1…n so that choosing one never renumbers the others.

An alternative may carry its ``version``; one without (a reroll, a sync, older rows) takes the lowest
number not yet taken, in list order, and the current prose holds the one number left. A reroll appends
the replaced prose unnumbered, so it takes back exactly the number it held while current, and the new
passage becomes n + 1: the order readers see is the order the passages were written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Version:
    number: int
    prose: str
    current: bool


def alternatives_numbered(alternatives: list[dict]) -> tuple[list[dict], int]:
    """The alternatives, each with its ``version``, and the number of the current prose."""
    count = len(alternatives) + 1
    taken = {entry["version"] for entry in alternatives
             if isinstance(entry.get("version"), int) and 1 <= entry["version"] <= count}
    free = iter(sorted(set(range(1, count + 1)) - taken))
    numbered, seen = [], set()
    for entry in alternatives:
        number = entry.get("version")
        if number not in taken or number in seen:  # unnumbered, out of range, or a duplicate
            number = next(free)
        seen.add(number)
        numbered.append({**entry, "version": number})
    return numbered, next(free)


def versions(prose: str, alternatives: list[dict]) -> list[Version]:
    """Every version of the passage in the order it was written."""
    numbered, current = alternatives_numbered(alternatives)
    every = [Version(entry["version"], entry.get("prose", ""), False) for entry in numbered]
    every.append(Version(current, prose, True))
    return sorted(every, key=lambda version: version.number)


def version_chosen(prose: str, alternatives: list[dict], number: int, *, now: str) -> tuple[str, list[dict]]:
    """The passage reading version ``number`` and the alternatives keeping the prose it replaces.

    Raises ``LookupError`` for a number the passage does not have."""
    numbered, current = alternatives_numbered(alternatives)
    if number == current:
        return prose, numbered
    chosen = next((entry for entry in numbered if entry["version"] == number), None)
    if chosen is None:
        raise LookupError(number)
    kept = [entry for entry in numbered if entry is not chosen]
    kept.append({"prose": prose, "replaced_at": now, "version": current})
    return chosen["prose"], sorted(kept, key=lambda entry: entry["version"])
