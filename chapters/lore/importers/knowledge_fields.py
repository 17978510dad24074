"""Who knows what (issue #20) in a file's own extension object: formats with no such field (SillyTavern
World Info, character cards) carry an entry's ``known_by`` / ``reveal_when`` and a character's ``factions``
too in ``extensions.luna``; formats with no extension object (NovelAI lorebooks, Agnai memory books) in a
``luna`` object beside the entry's own fields. So exporting and importing again loses none of them. Only set
values are written, and a file without them reads as everyone knowing everything.
"""

from __future__ import annotations

from ...knowledge import rules
from .document import FormatError

KEY = "luna"
ENTRY_FIELDS = ("known_by", "reveal_when")
CHARACTER_FIELDS = ("factions", "known_by", "reveal_when")


def read(extensions, names: tuple[str, ...], *, entry=None, where: str = "extensions.") -> dict:
    """The fields ``names`` from an ``extensions`` object (absent ones left out, so they keep their defaults);
    ``where`` names that object in errors (``""`` when it is the entry itself)."""
    luna = extensions.get(KEY) if isinstance(extensions, dict) else None
    if not isinstance(luna, dict):
        return {}
    values = {}
    try:
        if "known_by" in names and "known_by" in luna:
            values["known_by"] = rules.audience_validate(luna["known_by"])
        if "reveal_when" in names and "reveal_when" in luna:
            values["reveal_when"] = rules.reveal_validate(luna["reveal_when"])
    except rules.KnowledgeError as error:
        raise FormatError(str(error), entry=entry, field_name=f"{where}{KEY}") from error
    if "factions" in names and "factions" in luna:
        factions = luna["factions"]
        if not isinstance(factions, list) or not all(isinstance(tag, str) and tag.strip() for tag in factions):
            raise FormatError("must be a list of faction tags.", entry=entry, field_name=f"{where}{KEY}.factions")
        values["factions"] = factions
    return values


def write_beside(holder: dict, item, names: tuple[str, ...]) -> None:
    """Set ``holder["luna"]`` to the item's set values of ``names`` (removed when none is set)."""
    luna = dict(holder[KEY]) if isinstance(holder.get(KEY), dict) else {}
    for name in names:
        if getattr(item, name):
            luna[name] = getattr(item, name)
        else:
            luna.pop(name, None)
    if luna:
        holder[KEY] = luna
    else:
        holder.pop(KEY, None)


def write(holder: dict, item, names: tuple[str, ...]) -> None:
    """Set ``holder["extensions"]["luna"]`` to the item's values of ``names``: set ones written, empty ones removed."""
    extensions = holder.get("extensions")
    luna = dict(extensions.get(KEY) or {}) if isinstance(extensions, dict) and isinstance(
        extensions.get(KEY), dict) else {}
    for name in names:
        value = getattr(item, name)
        if value:
            luna[name] = value
        else:
            luna.pop(name, None)
    if luna:
        holder["extensions"] = {**(extensions if isinstance(extensions, dict) else {}), KEY: luna}
    elif isinstance(extensions, dict) and KEY in extensions:
        holder["extensions"] = {key: value for key, value in extensions.items() if key != KEY}
