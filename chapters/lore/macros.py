"""Character-card macros: ``{{user}}`` and ``{{char}}`` (and SillyTavern's older ``<USER>`` and ``<BOT>``) read
as names. Cards and lorebooks are written with them; every text that reaches a player or a model goes
through ``macros_filled`` with the story's names, so no reader ever sees the raw macro."""

from __future__ import annotations

import re

CARD_NAME = re.compile(r"\{\{\s*(user|char)\s*\}\}|<(USER|BOT)>", re.IGNORECASE)


def macros_filled(text: str, *, user: str, char: str) -> str:
    """``text`` with each name macro replaced: ``{{user}}``/``<USER>`` by ``user``, ``{{char}}``/``<BOT>`` by ``char``."""
    return CARD_NAME.sub(lambda match: user if (match.group(1) or match.group(2)).lower() == "user" else char, text)
