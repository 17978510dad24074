"""A chapter's beats in the seed's shape, ``{"beat": text, "priority": "high" | "medium" | "low"}`` (DESIGN §4).

Authors' beats (the API, the admin, imported files) are checked strictly: a beat without text or with a
priority that is not one of the three is an error naming its row. The text may come as ``description``,
the shape this project used before, and is stored as ``beat``. A model's beats (the Dreamer's adaptations,
alternates and suggestions) are read leniently instead: what is not a beat is dropped, not refused.
"""

from __future__ import annotations

PRIORITIES = ("high", "medium", "low")
DEFAULT_PRIORITY = "medium"
BEAT_CHARS = 500
MAX_BEATS = 20
TEXT_KEYS = ("beat", "description")  # ``description``: accepted on input as an alias


class BeatError(ValueError):
    """A beat is malformed; the message names its row (counted from 1)."""


def beat_text(beat: dict) -> str:
    """A beat's text, from either key (payloads published before the seed's shape say ``description``)."""
    return next((beat[key] for key in TEXT_KEYS if isinstance(beat.get(key), str)), "")


def beats_validate(beats) -> list[dict]:
    """An author's beats in the seed's shape, or ``BeatError`` saying which row is wrong and how."""
    if beats is None:
        return []
    if not isinstance(beats, list):
        raise BeatError("Beats are a list of {\"beat\": text, \"priority\": high, medium or low}.")
    if len(beats) > MAX_BEATS:
        raise BeatError(f"A chapter has at most {MAX_BEATS} beats, not {len(beats)}.")
    checked = []
    for row, beat in enumerate(beats, start=1):
        if not isinstance(beat, dict):
            raise BeatError(f"Beat {row} is not an object with a \"beat\" and a \"priority\".")
        unknown = sorted(set(beat) - {*TEXT_KEYS, "priority"})
        if unknown:
            raise BeatError(f"Beat {row} has an unknown key {unknown[0]!r}; a beat has \"beat\" and \"priority\".")
        text = beat_text(beat).strip()
        if not text:
            raise BeatError(f"Beat {row} needs its text (\"beat\").")
        if len(text) > BEAT_CHARS:
            raise BeatError(f"Beat {row} is longer than {BEAT_CHARS} characters.")
        priority = beat.get("priority", DEFAULT_PRIORITY)
        if priority not in PRIORITIES:
            raise BeatError(f"Beat {row} has priority {priority!r}; choose high, medium or low.")
        checked.append({"beat": text, "priority": priority})
    return checked


def beats_from_model(beats) -> list[dict]:
    """Beats a model wrote, in the seed's shape: anything that is not a beat is dropped, an unknown
    priority reads as medium, at most 8."""
    cleaned = []
    for beat in beats if isinstance(beats, list) else []:
        text = beat_text(beat).strip() if isinstance(beat, dict) else ""
        if text:
            priority = beat.get("priority") if beat.get("priority") in PRIORITIES else DEFAULT_PRIORITY
            cleaned.append({"beat": text[:BEAT_CHARS], "priority": priority})
    return cleaned[:8]


def high_beats(beats: list[dict]) -> list[str]:
    """The texts that complete a chapter: its high beats, or every beat when none is high."""
    return [beat_text(beat) for beat in beats if beat.get("priority") == "high"] or [beat_text(b) for b in beats]
