"""The ``‹chapter-N›`` text format (``chapter_text``, DESIGN §4): parse and write.

    ‹chapter-2› The Bridge at Dawn
    requires: 1
    location: Old Bridge, North Gate
    beats:
    - [high] The guards change shift
    divergence: allow
    threshold: 0.5
    visibility: title
    secret: Hale rang the bell | known by: Hale, faction:smugglers
    reveal: location: Bell Tower; chapter_beat: The guards change shift

    Narrative instructions, free text, up to the next header.

Every error names its line. Writing a parsed file gives the same chapters back.
"""

from __future__ import annotations

import re

from .beats import DEFAULT_PRIORITY, PRIORITIES, beat_text
from .knowledge import rules as knowledge_rules
from .triggers import CONDITION_KEYS, ConditionError, validate_conditions

HEADER = re.compile(r"^(?:‹|<)chapter-(\d+)(?:›|>)[ \t]*(.*)$")
BEAT = re.compile(r"^-\s*(?:\[([^\]]*)\]\s*)?(.*)$")
KEY_LINE = re.compile(r"^([a-z_]+)\s*:\s*(.*)$")
KEYS = ("requires", "blocked_by", *CONDITION_KEYS, "critical", "beats", "divergence", "threshold", "visibility",
        "start_early", "description", "summary", "secret", "reveal")
LIST_CONDITIONS = ("location", "character_present", "has_item", "flag")
KNOWN_BY = re.compile(r"\s*\|\s*known by\s*:\s*", re.IGNORECASE)


class ChapterTextError(ValueError):
    """A line the format refuses: the message names the line, and the key for ``secret:`` / ``reveal:``."""

    def __init__(self, message: str, line: int | None = None, key: str | None = None):
        where = f"line {line}, {key}" if line and key else f"line {line}" if line else ""
        super().__init__(f"{where}: {message}" if where else message)
        self.line, self.key = line, key


def _numbers(value: str, key: str, line: int, within: str | None = None) -> list[int]:
    try:
        return [int(part) for part in _parts(value)]
    except ValueError as error:
        raise ChapterTextError(f"{key} takes chapter numbers separated by commas, not {value!r}", line,
                               within) from error


def _parts(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _new_chapter(number: int, title: str) -> dict:
    return {"number": number, "title": title, "description": "", "summary": "", "required_previous_chapters": [],
            "blocked_by": [], "trigger_conditions": {}, "critical": ["character_present"], "suggested_beats": [],
            "allow_divergence": True, "min_similarity_threshold": 0.4, "visibility": "shown", "start_early": False,
            "narrative_instructions": ""}


def _beat(line: str, index: int) -> dict:
    """``- [high] The guards change shift``; the priority in brackets is optional (medium)."""
    priority, text = BEAT.match(line.strip()).groups()
    if priority is not None and priority.strip().lower() not in PRIORITIES:
        raise ChapterTextError(f"a beat's priority is high, medium or low, not {priority!r}", index)
    if not text.strip():
        raise ChapterTextError("a beat needs its text after the '-'", index)
    return {"beat": text.strip(), "priority": (priority or DEFAULT_PRIORITY).strip().lower()}


def parse(text: str) -> list[dict]:
    """Chapters from ``chapter_text``; raises ``ChapterTextError`` naming the line. All or nothing."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    chapters, chapter, in_keys, in_beats, body, numbers = [], None, False, False, [], set()

    def finish():
        if chapter is not None:
            chapter["narrative_instructions"] = "\n".join(body).strip("\n")
            chapters.append(chapter)

    for index, line in enumerate(lines, start=1):
        header = HEADER.match(line.strip())
        if header:
            finish()
            number, title = int(header.group(1)), header.group(2).strip()
            if not title:
                raise ChapterTextError(f"chapter {number} has no title after its header", index)
            if number in numbers:
                raise ChapterTextError(f"chapter {number} appears twice", index)
            numbers.add(number)
            chapter, in_keys, in_beats, body = _new_chapter(number, title), True, False, []
            continue
        if chapter is None:
            if line.strip():
                raise ChapterTextError("text before the first ‹chapter-N› header", index)
            continue
        if in_keys:
            if not line.strip():
                in_keys = in_beats = False
                continue
            if in_beats and line.lstrip().startswith("-"):
                chapter["suggested_beats"].append(_beat(line, index))
                continue
            in_beats = False
            _key_line(chapter, line, index)
            in_beats = line.strip().startswith("beats:") and not line.split(":", 1)[1].strip()
            continue
        body.append(line)
    finish()
    if not chapters:
        raise ChapterTextError("no ‹chapter-N› header found")
    return chapters


def _key_line(chapter: dict, line: str, index: int) -> None:
    match = KEY_LINE.match(line.strip())
    if not match:
        raise ChapterTextError(f"expected 'key: value', found {line.strip()!r}", index)
    key, value = match.group(1), match.group(2).strip()
    if key not in KEYS:
        raise ChapterTextError(f"unknown key {key!r}; use {', '.join(KEYS)}", index)
    if key == "requires":
        chapter["required_previous_chapters"] = _numbers(value, key, index)
    elif key == "blocked_by":
        chapter["blocked_by"] = _numbers(value, key, index)
    elif key in LIST_CONDITIONS:
        parts = _parts(value)
        if not parts:
            raise ChapterTextError(f"{key} needs a value", index)
        chapter["trigger_conditions"][key] = parts[0] if len(parts) == 1 else parts
    elif key == "min_turn":
        if not value.isdigit():
            raise ChapterTextError(f"min_turn takes a whole number, not {value!r}", index)
        chapter["trigger_conditions"]["min_turn"] = int(value)
    elif key == "critical":
        parts = _parts(value)
        if any(part not in CONDITION_KEYS for part in parts):
            raise ChapterTextError(f"critical takes condition keys ({', '.join(CONDITION_KEYS)})", index)
        chapter["critical"] = parts
    elif key == "beats":
        if value:
            raise ChapterTextError("beats are listed on the lines below 'beats:', each starting with '-'", index)
    elif key == "divergence":
        if value not in ("allow", "forbid"):
            raise ChapterTextError(f"divergence is allow or forbid, not {value!r}", index)
        chapter["allow_divergence"] = value == "allow"
    elif key == "threshold":
        try:
            threshold = float(value)
        except ValueError:
            threshold = -1
        if not 0 <= threshold <= 1:
            raise ChapterTextError(f"threshold is a number from 0 to 1, not {value!r}", index)
        chapter["min_similarity_threshold"] = threshold
    elif key == "visibility":
        if value not in ("shown", "title", "hidden"):
            raise ChapterTextError(f"visibility is shown, title or hidden, not {value!r}", index)
        chapter["visibility"] = value
    elif key == "start_early":
        if value not in ("yes", "no"):
            raise ChapterTextError(f"start_early is yes or no, not {value!r}", index)
        chapter["start_early"] = value == "yes"
    elif key == "secret":
        chapter.setdefault("secrets", []).append(_secret(value, index))
    elif key == "reveal":
        secrets = chapter.get("secrets") or []
        if not secrets or secrets[-1]["reveal_when"]:
            raise ChapterTextError("a reveal follows the secret it reveals, one reveal per secret", index, "reveal")
        secrets[-1]["reveal_when"] = _reveal(value, index)
    else:  # description, summary
        chapter[key] = value
    try:
        validate_conditions(chapter["trigger_conditions"])
    except ConditionError as error:
        raise ChapterTextError(str(error), index) from error


def _secret(value: str, index: int) -> dict:
    """``Hale rang the bell | known by: Hale, faction:smugglers``; without ``known by`` no character knows it
    (only the narrator, who may foreshadow it)."""
    pieces = KNOWN_BY.split(value)
    if len(pieces) > 2:
        raise ChapterTextError("a secret has one '| known by:' part", index, "secret")
    try:
        fact = knowledge_rules.fact_validate(pieces[0])
        known_by = knowledge_rules.audience_validate(pieces[1]) if len(pieces) == 2 else [knowledge_rules.NOBODY]
    except knowledge_rules.KnowledgeError as error:
        raise ChapterTextError(str(error), index, "secret") from error
    if not known_by:
        raise ChapterTextError("a secret known by everyone is no secret; name who knows it after '| known by:'",
                               index, "secret")
    return {"fact": fact, "known_by": known_by, "reveal_when": {}}


def _reveal(value: str, index: int) -> dict:
    """``location: Bell Tower; min_turn: 5; chapter_completed: 2; chapter_beat: The bell rings``: the chapter
    conditions (lists comma-separated), ``;`` between them; ``chapter_beat`` repeats, one beat each."""
    conditions: dict = {}
    for part in filter(None, (part.strip() for part in value.split(";"))):
        match = KEY_LINE.match(part)
        if not match:
            raise ChapterTextError(f"reveal takes 'key: value' conditions separated by ';', not {part!r}", index,
                                   "reveal")
        key, condition = match.group(1), match.group(2).strip()
        if key not in knowledge_rules.REVEAL_KEYS:
            raise ChapterTextError(f"unknown reveal condition {key!r}; use {', '.join(knowledge_rules.REVEAL_KEYS)}",
                                   index, "reveal")
        if key in conditions and key != knowledge_rules.CHAPTER_BEAT:
            raise ChapterTextError(f"{key} is named twice", index, "reveal")
        if key == "min_turn":
            if not condition.isdigit():
                raise ChapterTextError(f"min_turn takes a whole number, not {condition!r}", index, "reveal")
            conditions[key] = int(condition)
        elif key == knowledge_rules.CHAPTER_COMPLETED:
            numbers = _numbers(condition, key, index, "reveal")
            conditions[key] = numbers[0] if len(numbers) == 1 else numbers
        elif key == knowledge_rules.CHAPTER_BEAT:
            beats = conditions.get(key, [])
            conditions[key] = condition if key not in conditions else [*([beats] if isinstance(beats, str) else
                                                                         beats), condition]
        else:
            parts = _parts(condition)
            conditions[key] = parts[0] if len(parts) == 1 else parts
    if not conditions:
        raise ChapterTextError("it needs at least one condition", index, "reveal")
    try:
        return knowledge_rules.reveal_validate(conditions)
    except knowledge_rules.KnowledgeError as error:
        raise ChapterTextError(str(error).removeprefix("reveal_when: "), index, "reveal") from error


def _secret_lines(secret: dict) -> list[str]:
    fact = " ".join(secret["fact"].split())  # one line; a fact edited elsewhere may hold line breaks
    knowers = [who for who in secret.get("known_by") or [] if who.casefold() != knowledge_rules.NOBODY]
    lines = [f"secret: {fact}" + (f" | known by: {', '.join(knowers)}" if knowers else "")]
    reveal_when = secret.get("reveal_when") or {}
    parts = []
    for key in knowledge_rules.REVEAL_KEYS:
        if key not in reveal_when:
            continue
        value = reveal_when[key]
        if key == knowledge_rules.CHAPTER_BEAT:
            parts += [f"{key}: {beat}" for beat in ([value] if isinstance(value, str) else value)]
        else:
            parts.append(f"{key}: {_joined(value)}")
    if parts:
        lines.append(f"reveal: {'; '.join(parts)}")
    return lines


def _joined(value) -> str:
    return str(value) if isinstance(value, (str, int)) else ", ".join(str(part) for part in value)


def write(chapters: list[dict]) -> str:
    """``chapter_text`` for chapters (dicts with the fields ``parse`` gives)."""
    blocks = []
    for chapter in sorted(chapters, key=lambda c: c["number"]):
        lines = [f"‹chapter-{chapter['number']}› {chapter['title']}"]
        if chapter.get("description"):
            lines.append(f"description: {chapter['description']}")
        if chapter.get("summary"):
            lines.append(f"summary: {chapter['summary']}")
        if chapter.get("required_previous_chapters"):
            lines.append(f"requires: {_joined(chapter['required_previous_chapters'])}")
        if chapter.get("blocked_by"):
            lines.append(f"blocked_by: {_joined(chapter['blocked_by'])}")
        for key in CONDITION_KEYS:
            if key in chapter.get("trigger_conditions", {}):
                lines.append(f"{key}: {_joined(chapter['trigger_conditions'][key])}")
        if chapter.get("critical", ["character_present"]) != ["character_present"]:
            lines.append(f"critical: {_joined(chapter['critical'])}")
        if chapter.get("suggested_beats"):
            lines.append("beats:")
            lines += [f"- [{beat.get('priority', 'medium')}] {beat_text(beat)}" for beat in chapter["suggested_beats"]]
        lines.append(f"divergence: {'allow' if chapter.get('allow_divergence', True) else 'forbid'}")
        lines.append(f"threshold: {chapter.get('min_similarity_threshold', 0.4):g}")
        lines.append(f"visibility: {chapter.get('visibility', 'shown')}")
        if chapter.get("start_early"):
            lines.append("start_early: yes")
        for secret in chapter.get("secrets", []):
            lines += _secret_lines(secret)
        block = "\n".join(lines)
        if chapter.get("narrative_instructions"):
            block += "\n\n" + chapter["narrative_instructions"]
        blocks.append(block)
    return "\n\n".join(blocks) + "\n"
