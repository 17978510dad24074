"""Untrusted JSON and text, bounded: the API's request bodies and every uploaded file go through here.

Two things reach the database as a 500 unless refused first: nesting deep enough to exhaust Python's
recursion (the parser's and every walk after it), and control characters, of which PostgreSQL refuses
NUL outright in text and jsonb. Tab, line feed and carriage return are text; the other C0 controls and
DEL are not, and no story, lore entry or name needs them.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # objects and arrays inside each other; real lore and cards nest fewer than 10
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UntrustedInputError(ValueError):
    """Input refused whole, with a message that says what and where."""


def control_character_message(text: str, where: str = "") -> str | None:
    """Why ``text`` is refused (naming the first control character), or None when it is fine."""
    found = CONTROL_CHARACTERS.search(text)
    if found is None:
        return None
    place = f" in {where}" if where else ""
    return (f"Text{place} contains a control character (U+{ord(found.group()):04X}); "
            "only tab, line feed and carriage return are allowed.")


def check_text(text: str, where: str = "") -> None:
    message = control_character_message(text, where)
    if message:
        raise UntrustedInputError(message)


def check_value(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk parsed JSON (iteratively: the walk itself must not recurse) checking depth and every string,
    keys included."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise UntrustedInputError(f"The JSON nests deeper than {max_depth} levels.")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                path = f"{where}.{key}" if where and isinstance(key, str) else (
                    f"{where}[{key}]" if isinstance(key, int) else str(key))
                if isinstance(key, str):
                    check_text(key, f"a key of {where}" if where else "a key")
                stack.append((child, depth + 1, path))


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    raise UntrustedInputError(f"The JSON contains {name}, which JSON does not allow.")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted input: too deep, NaN or Infinity, or with control characters is
    refused. Malformed JSON raises ``json.JSONDecodeError`` as before (callers word it)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as error:  # nested past the interpreter's own limit, long before ours matters
        raise UntrustedInputError(f"The JSON nests deeper than {max_depth} levels.") from error
    check_value(value, max_depth=max_depth)
    return value
