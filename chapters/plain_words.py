"""Chapters told to the player in plain words: why the next chapter has not begun, how a finished one
ended, and one note per change (a chapter began, was completed, or healed). Pure functions: the
selector decides what the player may see (hidden chapters) and hands in only that.

Titles are authors' and the Dreamer's text, so notes are built with ``format_html`` (escaped, the
titles in <em>)."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from .beats import beat_text
from .triggers import CONDITION_KEYS

CHANGED_BY_HEALING = ("relaxed", "adapted")  # completion methods of a chapter the ladder rewrote


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def with_article(name: str) -> str:
    # Authors write places as "lighthouse" or "Old Bridge": a common noun reads better with "the".
    if name[:1].islower() and not name.casefold().startswith(("the ", "a ", "an ")):
        return f"the {name}"
    return name


def _joined(names: list[str], word: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def waiting_reason(conditions: dict, unmet: list[str]) -> str:
    """Why a chapter the story is heading to has not begun: its unmet conditions, in words."""
    parts = []
    for key in sorted(unmet, key=CONDITION_KEYS.index):
        value = conditions.get(key)
        if key == "location":
            parts.append(f"at {_joined([with_article(name) for name in _names(value)], 'or')}")
        elif key == "character_present":
            parts.append(f"with {_joined(_names(value), 'and')}")
        elif key == "has_item":
            parts.append(f"carrying {_joined([with_article(name) for name in _names(value)], 'or')}")
        elif key == "flag":
            parts.append("once the moment is right")  # flags are the story's own markers, not words for players
        elif key == "min_turn":
            parts.append(f"from turn {value} on")
    return f"Waits for you {', '.join(parts)}." if parts else "Begins with your next turn."


def outcome(method: str, *, replaced_by: str = "", alternate: bool = False, alternate_of: str = "") -> str:
    """How a done chapter ended. An ``alternate`` took the place of ``alternate_of`` ("" when the player may
    not know that one); ``replaced_by`` names the alternate that took this one's place."""
    if alternate:
        return f"completed, another road to “{alternate_of}”" if alternate_of else "completed, by another road"
    if method == "diverged_alternate":
        return f"replaced by another road: “{replaced_by}”" if replaced_by else "replaced by another road"
    if method in CHANGED_BY_HEALING:
        return "completed after the story changed it"
    return "completed"  # naturally, or nudged: the chapter itself was not changed


def began(title: str, turn: int) -> SafeString:
    return format_html("<em>{}</em> began at turn {}.", title, turn)


def completed(title: str, method: str) -> SafeString:
    if method in CHANGED_BY_HEALING:
        return format_html("<em>{}</em> was completed, after the story changed it.", title)
    return format_html("<em>{}</em> was completed.", title)


def _dead(impossible: list[str], names: list[str]) -> list[str]:
    """"character_present: aldric is dead" (folded by the trigger check) as "Aldric is dead", with the
    name as the author wrote it."""
    spelled = {name.casefold(): name for name in names}
    reasons = []
    for text in impossible:
        reason = text.split(": ", 1)[-1]
        name = reason.removesuffix(" is dead")
        reasons.append(f"{spelled.get(name, name)} is dead" if reason.endswith(" is dead") else reason)
    return reasons


def healed(*, strategy: str, title: str, changes: dict, breakdown: dict, reveal_place: bool = True,
           characters: str | list[str] | None = None, alternate_title: str = "") -> SafeString:
    """One healing of a chapter (a ``ChapterDivergenceLog`` row) told to the player. For an alternate,
    ``title`` is "" when the replaced chapter was never the player's to see, ``alternate_title`` "" when
    the alternate is not theirs to see yet, and ``characters`` the chapter's ``character_present``."""
    if strategy == "nudge":
        return format_html("Something pulls the story toward <em>{}</em>.", title)
    if strategy == "alternate":
        reasons = _dead(breakdown.get("impossible") or [], _names(characters))
        lost = format_html("<em>{}</em>", title) if title else "A chapter ahead"
        why = format_html(" ({})", "; ".join(reasons)) if reasons else ""
        road = format_html("<em>{}</em>", alternate_title) if alternate_title else "another road"
        return format_html("{} could no longer happen{}; {} takes its place.", lost, why, road)
    places = _names(((changes.get("trigger_conditions") or {}).get("before") or {}).get("location"))
    moved = "location" in (breakdown.get("unmet") or []) and places and reveal_place
    cause = (format_html("The story moved away from {}", _joined([with_article(p) for p in places], "and"))
             if moved else "The story went its own way")
    if strategy == "adapt":
        return format_html("{}, so <em>{}</em> was rewritten to meet you where you are.", cause, title)
    return format_html("{}, so <em>{}</em> will meet you where you are.", cause, title)


# The writers' room names rungs and conditions in words too.
RUNGS = {"none": "on track, no healing", "nudge": "nudge: a hook brings the chapter toward the player",
         "relax": "relax: its conditions asked less", "adapt": "adapt: its content rewritten to the story",
         "alternate": "alternate: another road to its goal"}
CONDITIONS = {"location": "the place", "character_present": "who is present", "has_item": "an item carried",
              "flag": "a story flag", "min_turn": "the turn reached"}


def brief_in_words(brief: dict) -> dict:
    """A stored ``ChapterBrief`` (a turn's ``briefing["chapter"]``) for the writers' room. Briefs stored
    before a field existed (status, nudge, divergence parts, healing; beats as {"description"}) still read."""
    parts = brief.get("divergence_parts") or {}
    addressed = set(brief.get("beats_addressed") or [])
    beats = [{"beat": beat_text(beat), "priority": beat.get("priority", "medium")}
             for beat in brief.get("beats") or []]
    return {
        "number": brief.get("number"), "title": brief.get("title", ""), "version": brief.get("version", 0),
        "begun": brief.get("status", "active") == "active",
        "instructions": brief.get("narrative_instructions", ""),
        "beats": [{**beat, "done": beat["beat"] in addressed} for beat in beats],
        "nudge": brief.get("nudge", ""),
        "score": parts.get("score", brief.get("divergence", 0.0)),
        "parts": parts and {"hard": parts.get("hard", 0.0), "soft": parts.get("soft", 0.0),
                            "similarity": parts.get("similarity", 1.0),
                            "unmet": [CONDITIONS.get(key, key) for key in parts.get("unmet") or []],
                            "impossible": _dead(parts.get("impossible") or [], [])},
        "tier": RUNGS.get(brief.get("tier", "none"), brief.get("tier", "")),
        "healing": RUNGS.get(brief["healing"], brief["healing"]) if brief.get("healing") else "",
    }
