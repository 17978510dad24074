"""Character Card V3 (``card_v3``, spec ``chara_card_v3``): V2 plus assets, sources, nickname,
multilingual notes and regex keys (kwaroran/character-card-spec-v3).

LUNA reads the character and its book like V2 and keeps every V3 field (``assets``, ``source``,
``nickname``, ``creation_date``, decorators inside content…) verbatim for export. A ``use_regex``
entry's keys become LUNA's ``/pattern/flags`` keys and are written back bare.
"""

from __future__ import annotations

from . import card_v2
from .document import LoreDocument, Written, load_json

NAME = "card_v3"
LABEL = "Character Card V3"
SPEC, SPEC_VERSION = "chara_card_v3", "3.0"


def detect(value) -> bool:
    return isinstance(value, dict) and value.get("spec") == SPEC


def parse(text: str, *, name: str = "") -> LoreDocument:
    return card_v2.read(load_json(text, "character card"), fmt=NAME)


def write(document: LoreDocument) -> Written:
    return card_v2.write(document, fmt=NAME, spec=SPEC, spec_version=SPEC_VERSION)
