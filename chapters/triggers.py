"""Trigger conditions and prerequisites of chapters (DESIGN §4), as pure functions.

Condition keys: ``location`` (a string, or a list meaning any of), ``character_present``
(a string, or a list meaning all of), ``has_item`` (any of), ``flag`` (a string, or a list
meaning all of) and ``min_turn`` (a whole number). Each key is one condition for the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.contracts import StoryState

CONDITION_KEYS = ("location", "character_present", "has_item", "flag", "min_turn")
# What the conditions are called where an author reads them (a version diff, a sync conflict).
CONDITION_LABELS = {"location": "Location", "character_present": "Characters present", "has_item": "Items held",
                    "flag": "Flags", "min_turn": "From turn"}
DEFAULT_CRITICAL = ("character_present",)
DEAD_FLAG = "dead:"


class ConditionError(ValueError):
    """A chapter's conditions are malformed; the message names the key."""


def as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def validate_conditions(conditions) -> dict:
    """The conditions, checked: unknown keys and wrong types are errors, never ignored."""
    if not isinstance(conditions, dict):
        raise ConditionError("trigger_conditions must be an object of condition keys.")
    for key, value in conditions.items():
        if key not in CONDITION_KEYS:
            raise ConditionError(f"Unknown condition key {key!r}; use {', '.join(CONDITION_KEYS)}.")
        if key == "min_turn":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConditionError("min_turn must be a whole number of turns, 0 or more.")
        elif isinstance(value, str):
            if not value.strip():
                raise ConditionError(f"{key} must not be empty.")
        elif not (isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)):
            raise ConditionError(f"{key} must be text or a non-empty list of texts.")
    return conditions


def validate_critical(critical) -> list[str]:
    if not isinstance(critical, list) or not all(key in CONDITION_KEYS for key in critical):
        raise ConditionError(f"critical must be a list of condition keys ({', '.join(CONDITION_KEYS)}).")
    return critical


@dataclass(frozen=True)
class ConditionResult:
    met: dict[str, bool] = field(default_factory=dict)
    impossible: list[str] = field(default_factory=list)  # e.g. "character_present: Aldric is dead"

    @property
    def unmet(self) -> list[str]:
        return [key for key, ok in self.met.items() if not ok]

    @property
    def all_met(self) -> bool:
        return all(self.met.values())


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


def evaluate(conditions: dict, state: StoryState, turn_number: int, *, critical=DEFAULT_CRITICAL) -> ConditionResult:
    """Which conditions the story's state meets now, and which critical ones can never be met."""
    location = fold(state.location)
    present = {fold(name) for name in state.present_characters}
    inventory = {fold(item) for item in state.inventory}
    flags = {fold(flag) for flag in state.flags}
    dead = {flag[len(DEAD_FLAG):].strip() for flag in flags if flag.startswith(DEAD_FLAG)}
    met, impossible = {}, []
    for key, value in conditions.items():
        if key == "location":
            met[key] = any(fold(place) == location or (fold(place) and fold(place) in location)
                           for place in as_list(value))
        elif key == "character_present":
            names = [fold(name) for name in as_list(value)]
            met[key] = all(name in present for name in names)
            impossible += [f"{key}: {name} is dead" for name in names if name in dead and key in critical]
        elif key == "has_item":
            met[key] = any(fold(item) in inventory for item in as_list(value))
        elif key == "flag":
            met[key] = all(fold(flag) in flags for flag in as_list(value))
        elif key == "min_turn":
            met[key] = turn_number >= value
    return ConditionResult(met=met, impossible=impossible)


def prerequisites_met(required: list[int], blocked_by: list[int], completed: set[int]) -> bool:
    return all(number in completed for number in required) and not any(number in completed for number in blocked_by)


def prerequisite_cycle(chapters: dict[int, list[int]]) -> list[int] | None:
    """A cycle among ``{number: required numbers}``, as the chapter numbers on it, or None."""
    visiting, done = set(), set()

    def visit(number, path):
        if number in visiting:
            return path[path.index(number):] + [number]
        if number in done or number not in chapters:
            return None
        visiting.add(number)
        for required in chapters[number]:
            if cycle := visit(required, path + [number]):
                return cycle
        visiting.discard(number)
        done.add(number)
        return None

    for number in chapters:
        if cycle := visit(number, []):
            return cycle
    return None


def relaxed(conditions: dict, critical, state: StoryState) -> dict:
    """Relax tier: keep the critical conditions, drop location, and accept items actually held."""
    kept = {}
    for key, value in conditions.items():
        if key in critical:
            kept[key] = value
        elif key == "has_item":
            held = [item for item in state.inventory if item]
            kept[key] = sorted(set(as_list(value)) | set(held)) if held else value
        elif key in ("flag", "min_turn"):
            kept[key] = value
    return kept
