"""Reasoning is never story text. Reasoning models write their thinking inside ``<think>…</think>``
(also ``<thinking>``, ``<reasoning>``; any case) in the content itself; those blocks are taken out of
everything a player reads and kept aside for the writers' room.

The one rule, for streams and whole texts alike: ``ReasoningFilter`` is fed a stream's pieces and
returns only visible text, holding back a piece that might be the start of a tag ("<thi") until the
next piece says what it is, and everything inside a block until the block closes. ``reasoning_split``
runs the same filter over a whole text, so any split of a text into pieces gives the same visible
text; ``visible_and_unclosed`` does too, for the JSON parser (``agents/structured.py``), which needs to know
which reasoning came from a block never closed.

- A block runs from its opening tag to the first closing tag of the same name; an unclosed block
  runs to the end of the text (a model cut off mid-thought shows nothing of it). Its text is kept
  apart (``ReasoningFilter.unclosed``): a model that ran out of tokens may have written its answer
  there, and the parser reads it when nothing visible holds a valid answer, which beats a repair call
  that would re-ask the same model.
- A closing tag with no block open is dropped. Text before it stays visible: a stream cannot take
  back what the player already read, so servers whose chat template opens the block in the prompt
  (content starts mid-thought, only ``</think>`` is sent) need their reasoning parser switched on,
  which moves the thinking into the ``reasoning_content`` field (vLLM ``--reasoning-parser``,
  llama.cpp ``--reasoning-format``).
"""

from __future__ import annotations

import re

TAG_NAMES = ("think", "thinking", "reasoning")
TAG = re.compile(r"<(/?)(" + "|".join(TAG_NAMES) + r")>", re.IGNORECASE)
# Every tag as written, lower-case, to recognise a piece that ends part-way into one.
TAG_TEXTS = tuple(f"<{slash}{name}>" for name in TAG_NAMES for slash in ("", "/"))
LONGEST_TAG = max(len(text) for text in TAG_TEXTS)


def _partial_tag_start(text: str, tags: tuple[str, ...]) -> int:
    """Where a trailing unfinished tag begins in ``text`` (``len(text)`` if none could)."""
    for start in range(max(0, len(text) - LONGEST_TAG + 1), len(text)):
        if text[start] != "<":  # every tag starts with one: the cheap test first
            continue
        tail = text[start:].lower()
        if any(tag.startswith(tail) for tag in tags):
            return start
    return len(text)


class ReasoningFilter:
    """Feed it a stream's text pieces in order; it returns what the player may see of each."""

    def __init__(self) -> None:
        self.reasoning_parts: list[str] = []
        self._held = ""  # text not yet decided: a possible partial tag, or a block still open
        self._open_tag: str | None = None  # the name of the block we are inside, if any
        self._open_from = 0  # where that block's text begins in reasoning_parts

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    @property
    def unclosed(self) -> str:
        """After ``finish``: the text of the block the stream opened and never closed ("" if it closed them all)."""
        return "".join(self.reasoning_parts[self._open_from:]) if self._open_tag is not None else ""

    def feed(self, piece: str) -> str:
        text, visible = self._held + piece, []
        while True:
            if self._open_tag is None:
                match = TAG.search(text)
                if match is None:
                    keep_from = _partial_tag_start(text, TAG_TEXTS)
                    visible.append(text[:keep_from])
                    self._held = text[keep_from:]
                    return "".join(visible)
                visible.append(text[:match.start()])
                if not match.group(1):  # an opening tag; a stray closing one is just dropped
                    self._open_tag, self._open_from = match.group(2).lower(), len(self.reasoning_parts)
                text = text[match.end():]
            else:
                closing = f"</{self._open_tag}>"
                found = re.search(re.escape(closing), text, re.IGNORECASE)
                if found is None:
                    keep_from = _partial_tag_start(text, (closing,))
                    self.reasoning_parts.append(text[:keep_from])
                    self._held = text[keep_from:]
                    return "".join(visible)
                self.reasoning_parts.append(text[:found.start()])
                self._open_tag = None
                text = text[found.end():]

    def finish(self) -> str:
        """The stream ended: held text outside a block was plain text after all; inside one, reasoning."""
        held, self._held = self._held, ""
        if self._open_tag is not None:
            self.reasoning_parts.append(held)
            return ""
        return held


def reasoning_split(text: str) -> tuple[str, str]:
    """A whole answer as (what a reader may see, the reasoning taken out of it)."""
    cleaned = ReasoningFilter()
    visible = cleaned.feed(text) + cleaned.finish()
    return visible, cleaned.reasoning


def visible_and_unclosed(text: str) -> tuple[str, str]:
    """A whole answer as (what a reader may see, the text of a reasoning block it opened and never closed)."""
    cleaned = ReasoningFilter()
    visible = cleaned.feed(text) + cleaned.finish()
    return visible, cleaned.unclosed
