"""Structured output from real models: the one place an agent's JSON answer is read.

Real models do not answer with a bare JSON object. They think first (``<think>…</think>``, sometimes with a
draft plan inside), wrap the object in code fences and prose (prose that may itself contain braces), write
``"High"`` for ``"high"``, ``"fast"`` for ``"brisk"``, beats as plain strings, ``"about 160 words"`` for a
number, and leave trailing commas. Each of those used to cost a repair call and then fail the turn.

Reading goes in three steps, each forgiving only what it can read unambiguously:

1. Reasoning is never content: it is taken out by the one rule for every model output,
   ``llm/reasoning.py`` (``visible_and_unclosed``). The visible text is read first; the text of a block
   opened and never closed only when the visible text holds no valid answer.
2. ``json_objects``: top-level ``{…}`` spans found by scanning braces with strings and escapes respected
   (a greedy regex swallows prose between two objects), each read strictly, then with trailing commas,
   single quotes and Python literals forgiven.
3. A contract-specific reading (``plan_normalize``) that maps what the model meant onto the contract, then
   pydantic validation. The LAST object that validates wins: models restate the final answer after drafts.

Plain Python, no Django: tested and benchmarked on its own (tests/narrative_pipeline/test_structured_output.py, bench/structured.py).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import TypeVar, get_args

from pydantic import BaseModel, ValidationError

from ..contracts import Beat, ResponseTemplate, StateUpdates
from ..llm.reasoning import visible_and_unclosed

Model = TypeVar("Model", bound=BaseModel)

MAX_UNCLOSED_SCANS, MAX_NESTED_SEARCH = 32, 3


class NoValidObject(ValueError):
    """No JSON object in the answer reads as the contract; ``reason`` is what the repair call is told."""


def object_spans(text: str) -> Iterator[str]:
    """Top-level balanced ``{…}`` spans in order. Inside a span, braces in double-quoted strings do not count;
    an opening brace that never closes is skipped and scanning resumes just after it. Each such skip costs a
    scan to the end, so only ``MAX_UNCLOSED_SCANS`` are made: a degenerate ``{{{{…`` stays linear."""
    start, unclosed = text.find("{"), 0
    while start != -1:
        end = _matching_brace(text, start)
        if end is None:
            unclosed += 1
            if unclosed > MAX_UNCLOSED_SCANS:
                return
            start = text.find("{", start + 1)
            continue
        yield text[start:end + 1]
        start = text.find("{", end + 1)


def _matching_brace(text: str, start: int) -> int | None:
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def json_objects(text: str, *, depth: int = 0) -> Iterator[dict]:
    """Every top-level span that reads as a JSON object, strictly or leniently, in order. A span that does not
    read is searched inside: prose braces around the object (``I chose }{ pacing … {plan} … "brisk" }``) pair up
    and enclose it. ``MAX_NESTED_SEARCH`` levels deep at most, which keeps the cost linear."""
    for span in object_spans(text):
        data = lenient_loads(span)
        if isinstance(data, dict):
            yield data
        elif depth < MAX_NESTED_SEARCH:
            yield from json_objects(span[1:-1], depth=depth + 1)


_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_PYTHON_WORDS = {"true": "True", "false": "False", "null": "None"}
_BARE_WORD = re.compile(r"\b(true|false|null)\b")


def lenient_loads(span: str):
    """JSON, else JSON without trailing commas, else a Python literal (single quotes, True/None); ``None`` if none."""
    try:
        return json.loads(span, strict=False)  # strict=False: raw newlines inside strings
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(_outside_strings(span, lambda part: _TRAILING_COMMA.sub(r"\1", part)), strict=False)
    except (ValueError, RecursionError):
        pass
    try:  # ast.literal_eval evaluates literals only: safe on any text
        return ast.literal_eval(_outside_strings(span, lambda part: _BARE_WORD.sub(
            lambda word: _PYTHON_WORDS[word.group(1)], part)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _outside_strings(span: str, change: Callable[[str], str]) -> str:
    """``span`` with ``change`` applied to the parts outside quoted strings (double or single quotes)."""
    parts, start, quote, index = [], 0, "", 0
    while index < len(span):
        char = span[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                parts.append(span[start:index + 1])
                start, quote = index + 1, ""
        elif char in "\"'":
            parts.append(change(span[start:index]))
            start, quote = index, char
        index += 1
    parts.append(span[start:] if quote else change(span[start:]))
    return "".join(parts)


def parse(text: str, contract: type[Model], normalize: Callable[[dict], dict] = lambda data: data) -> Model:
    """The last JSON object in ``text`` that, read through ``normalize``, validates as ``contract``.
    Raises ``NoValidObject`` saying why the best candidate failed (for the repair call)."""
    visible, unclosed = visible_and_unclosed(text)
    reason = "no JSON object in the answer"
    for where in (visible, unclosed):
        for data in reversed(list(json_objects(where))):
            try:
                return contract.model_validate(normalize(data))
            except ValidationError as error:
                if reason == "no JSON object in the answer":
                    reason = _validation_reason(error)
            except (ValueError, TypeError, OverflowError, RecursionError):
                continue  # a shape the reading did not foresee: the next candidate, else the repair call
    raise NoValidObject(reason)


def _validation_reason(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"


# The plan (ResponseTemplate) ---------------------------------------------------------------------------------

PRIORITIES: tuple[str, ...] = get_args(Beat.model_fields["priority"].annotation)
PACINGS: tuple[str, ...] = get_args(ResponseTemplate.model_fields["pacing"].annotation)
# What models write for our enum values (read lower-case, word by word when the whole does not match).
PRIORITY_SYNONYMS = {
    "high": "high", "critical": "high", "crucial": "high", "essential": "high", "important": "high",
    "must": "high", "required": "high", "key": "high", "major": "high", "top": "high", "primary": "high",
    "urgent": "high", "highest": "high", "1": "high",
    "medium": "medium", "med": "medium", "normal": "medium", "moderate": "medium", "mid": "medium",
    "average": "medium", "standard": "medium", "should": "medium", "secondary": "medium", "2": "medium",
    "low": "low", "minor": "low", "optional": "low", "could": "low", "nice": "low", "background": "low",
    "lowest": "low", "trivial": "low", "3": "low",
}
PACING_SYNONYMS = {
    "slow": "slow", "leisurely": "slow", "languid": "slow", "gentle": "slow", "relaxed": "slow", "calm": "slow",
    "unhurried": "slow", "contemplative": "slow", "lingering": "slow", "quiet": "slow",
    "measured": "measured", "moderate": "measured", "steady": "measured", "medium": "measured",
    "normal": "measured", "even": "measured", "balanced": "measured", "deliberate": "measured",
    "brisk": "brisk", "fast": "brisk", "quick": "brisk", "rapid": "brisk", "lively": "brisk", "snappy": "brisk",
    "swift": "brisk", "energetic": "brisk", "upbeat": "brisk", "dynamic": "brisk",
    "urgent": "urgent", "frantic": "urgent", "breakneck": "urgent", "frenetic": "urgent", "intense": "urgent",
    "tense": "urgent", "hurried": "urgent", "rushed": "urgent", "desperate": "urgent", "pressing": "urgent",
}
assert set(PRIORITY_SYNONYMS.values()) == set(PRIORITIES) and set(PACING_SYNONYMS.values()) == set(PACINGS)
KEY_SYNONYMS = {"length": "target_length", "word_count": "target_length", "target_words": "target_length",
                "words": "target_length", "state": "state_updates", "updates": "state_updates",
                "plan_beats": "beats", "story_beats": "beats"}
BEAT_TEXT_KEYS = ("beat", "description", "text", "event", "content", "summary", "desc", "what", "action")
STATE_LIST_FIELDS = [name for name in StateUpdates.model_fields if name != "location"]
MAX_BEATS = next(rule.max_length for rule in ResponseTemplate.model_fields["beats"].metadata
                 if hasattr(rule, "max_length"))
BEAT_CHARS, TONE_CHARS = 500, 80
LENGTH_RANGE = (40, 1_200)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def parse_plan(text: str) -> ResponseTemplate:
    return parse(text, ResponseTemplate, plan_normalize)


def enum_value(value, synonyms: dict[str, str]) -> str | None:
    """``"High"``, ``"Fast-paced"``, ``"very fast"`` → our value, or ``None`` when nothing reads as one."""
    if not isinstance(value, str | int):
        return None
    words = str(value).strip().lower()
    if words in synonyms:
        return synonyms[words]
    return next((synonyms[word] for word in re.findall(r"[a-z0-9]+", words) if word in synonyms), None)


def number_in(value) -> int | None:
    """160, 160.0, "160", "about 160 words", "150-200" (the middle) → an int; ``None`` when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return round(value) if math.isfinite(value) else None
    if isinstance(value, str):
        numbers = [float(found.replace(",", "")) for found in _NUMBER.findall(value)][:2]
        if numbers:
            return round(sum(numbers) / len(numbers))
    return None


def beats_normalize(beats) -> list[dict]:
    """Beats as dicts of {beat, priority}: plain strings become beats (the first high, the rest
    medium), other wordings of the text and the priority are read, empty beats dropped."""
    if isinstance(beats, str | dict):
        beats = [beats]
    if not isinstance(beats, list):
        return beats
    normalized = []
    for index, beat in enumerate(beats):
        if isinstance(beat, str):
            if beat.strip():
                normalized.append({"beat": beat[:BEAT_CHARS],
                                   "priority": "high" if index == 0 else "medium"})
            continue
        if not isinstance(beat, dict):
            continue
        beat = {str(key).strip().lower(): value for key, value in beat.items()}
        text = next((beat[key] for key in BEAT_TEXT_KEYS if isinstance(beat.get(key), str) and beat[key].strip()),
                    None)
        if text is None:
            continue
        priority = enum_value(beat.get("priority", beat.get("importance")), PRIORITY_SYNONYMS) or "medium"
        normalized.append({"beat": text[:BEAT_CHARS], "priority": priority})
    return normalized


def plan_normalize(data: dict) -> dict:
    """What the model meant by its plan, in the contract's words. Only unambiguous readings: anything else is
    left for validation to reject (and the repair call to fix)."""
    data = _keys_normalized(data)
    if "beats" not in data:  # {"plan": {...}} and other one-level wrappers
        inner = next((value for value in data.values() if isinstance(value, dict) and "beats" in
                      _keys_normalized(value)), None)
        if inner is not None:
            data = _keys_normalized(inner)
    plan = {key: value for key, value in data.items() if value is not None}
    if "beats" in plan:
        plan["beats"] = beats_normalize(plan["beats"])
        if isinstance(plan["beats"], list):
            plan["beats"] = plan["beats"][:MAX_BEATS]
    if "pacing" in plan:
        _set_or_drop(plan, "pacing", enum_value(plan["pacing"], PACING_SYNONYMS))
    if "target_length" in plan:
        length = number_in(plan["target_length"])
        _set_or_drop(plan, "target_length", None if length is None else min(max(length, LENGTH_RANGE[0]),
                                                                              LENGTH_RANGE[1]))
    if "tone" in plan:
        tone = plan["tone"]
        tone = ", ".join(str(part) for part in tone) if isinstance(tone, list) else tone
        _set_or_drop(plan, "tone", str(tone).strip()[:TONE_CHARS] if isinstance(tone, str | int | float) else None)
    if "state_updates" in plan:
        _set_or_drop(plan, "state_updates", _state_updates(plan["state_updates"]))
    if "chapter_beats_addressed" in plan:
        plan["chapter_beats_addressed"] = _strings(plan["chapter_beats_addressed"])
    return plan


def _keys_normalized(data: dict) -> dict:
    normalized = {}
    for key, value in data.items():
        name = re.sub(r"[\s-]+", "_", str(key).strip().lower())
        normalized.setdefault(KEY_SYNONYMS.get(name, name), value)
    return normalized


def _set_or_drop(plan: dict, key: str, value) -> None:
    """An optional key read as ``value``, or left to its default when it could not be read."""
    if value is None:
        plan.pop(key)
    else:
        plan[key] = value


def _strings(value) -> list[str]:
    """A list of names: a lone name becomes a list, numbers become text, empty entries go."""
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if isinstance(item, str | int | float) and str(item).strip()]


def _state_updates(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    updates = {key: item for key, item in _keys_normalized(value).items() if item is not None}
    cleaned = {name: _strings(updates[name]) for name in STATE_LIST_FIELDS if name in updates}
    location = updates.get("location")
    if isinstance(location, str | int | float) and str(location).strip():
        cleaned["location"] = str(location)
    return cleaned


# Free-form objects (the Dreamer's chapter drafts) ------------------------------------------------------------

def parse_object(text: str, *, required: str) -> dict:
    """The last JSON object in ``text`` with a non-empty ``required`` key, keys in lower case and beats
    (``suggested_beats``) read as in a plan. Raises ``NoValidObject``."""
    visible, unclosed = visible_and_unclosed(text)
    for where in (visible, unclosed):
        for data in reversed(list(json_objects(where))):
            data = _keys_normalized(data)
            if data.get(required) not in (None, "", [], {}):
                if "suggested_beats" in data:
                    data["suggested_beats"] = beats_normalize(data["suggested_beats"])
                return data
    raise NoValidObject(f"no JSON object with {required!r} in the answer")


# The Dreamer's beat confirmation -----------------------------------------------------------------------------

CARRIED_KEYS = ("carried", "beats_carried", "confirmed", "addressed", "beats_addressed", "told", "beats", "done")


def parse_carried(text: str, beats: list[str]) -> list[str]:
    """Which of ``beats`` the Dreamer says the passage carried, in their order. Read leniently: the list under
    ``carried`` (or a synonym) may hold beat numbers (1-based, numbers or text), the beats' texts (case, spacing
    and end punctuation aside) or objects ``{"beat" or "number", "carried": true|false}``; an object mapping each
    beat's text to true or false reads too. Raises ``NoValidObject`` when no object answers the question."""
    visible, unclosed = visible_and_unclosed(text)
    for where in (visible, unclosed):
        for data in reversed(list(json_objects(where))):
            data = _keys_normalized(data)
            listed = next((data[key] for key in CARRIED_KEYS if key in data), None)
            if listed is not None:
                return _beats_named(listed if isinstance(listed, list) else [listed], beats)
            by_text = {_beat_key(key): value for key, value in data.items()}
            if any(_beat_key(beat) in by_text for beat in beats):
                return [beat for beat in beats if _true(by_text.get(_beat_key(beat)))]
    raise NoValidObject("no JSON object saying which beats were carried")


def _beat_key(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", str(text).casefold()))


def _true(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes", "carried", "done"))


def _beats_named(items: list, beats: list[str]) -> list[str]:
    by_text = {_beat_key(beat): beat for beat in beats}
    named: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            item = _keys_normalized(item)
            if "carried" in item and not _true(item["carried"]):
                continue
            item = next((item[key] for key in ("number", "index", "id", *BEAT_TEXT_KEYS) if key in item), None)
        if isinstance(item, bool) or item is None:
            continue
        number = number_in(item) if isinstance(item, int | float) or re.fullmatch(r"\s*#?\d+\s*", str(item)) \
            else None
        if number is not None and 1 <= number <= len(beats):
            named.add(beats[number - 1])
        elif _beat_key(item) in by_text:
            named.add(by_text[_beat_key(item)])
    return [beat for beat in beats if beat in named]
