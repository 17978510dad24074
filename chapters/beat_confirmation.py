"""Does a passage carry a chapter beat? The deterministic reading of the prose (no model).

The offline Dreamer answers with it, so a beat counts as told only when the passage tells it,
never because the plan said so. It reads leniently: word order, regular endings ("lights",
"lighted") and small words do not matter; every content word of each of the beat's sentences must
appear in one sentence of the passage, so a word here and a word there does not count.
"""

from __future__ import annotations

import re

STOP_WORDS = frozenset(re.findall(r"\S+", """
    a an the and or but of to in on at by for with from into onto over under up down out off as is are was were be
    been being it its this that these those there their they them he him his she her we us our you your i me my some
    any all each every no not so then than too very just about what which who whom"""))
MACRO = re.compile(r"\{\{[^{}]*\}\}|<(?:USER|BOT)>", re.I)
SENTENCE_END = re.compile(r"[.!?。！？;\n]+")
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """A crude stem: "lights", "lighted", "lighting" → "light"; "king's" → "king"."""
    word = word.casefold().removesuffix("'s")
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_stems(text: str) -> frozenset[str]:
    return frozenset(stem(word) for word in WORD.findall(text) if word.casefold() not in STOP_WORDS)


def _sentences(text: str) -> list[frozenset[str]]:
    return [stems for part in SENTENCE_END.split(MACRO.sub(" ", text)) if (stems := content_stems(part))]


def passage_carries(beat: str, passage: str) -> bool:
    """Whether ``passage`` tells ``beat``: each sentence of the beat has all its content words in
    one sentence of the passage. A beat with no content words is carried by no passage."""
    wanted = _sentences(beat)
    told = _sentences(passage)
    return bool(wanted) and all(any(words <= sentence for sentence in told) for words in wanted)


def beats_carried(beats: list[str], passage: str) -> list[str]:
    """The beats among ``beats`` that ``passage`` carries, in their order."""
    return [beat for beat in beats if passage_carries(beat, passage)]
