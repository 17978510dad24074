"""A listing's cover when it has no picture: a title card drawn as SVG from its title, genre and kind.

The colours come from a hash of the title and genre, so a listing keeps its card from page to page and two
listings rarely share one. Every piece of text is XML-escaped: a title is what an author typed."""

from __future__ import annotations

import hashlib
import textwrap

from django.utils.html import escape

WIDTH, HEIGHT = 320, 180
LINE_CHARS = 18  # characters per line of the title at the card's type size
MAX_LINES = 3
KIND_LABELS = {"story": "Story", "chapters": "Chapter set", "character": "Character"}


def cover_hues(title: str, genre: str) -> tuple[int, int]:
    """Two hues (0–359) for the card's gradient, fixed by the title and genre."""
    digest = hashlib.sha256(f"{title}\n{genre}".encode()).digest()
    first = int.from_bytes(digest[:2], "big") % 360
    return first, (first + 40 + digest[2] % 80) % 360


def title_lines(title: str) -> list[str]:
    """The title wrapped to the card, the last line ending in … when it does not fit."""
    lines = textwrap.wrap(title.strip() or "Untitled", LINE_CHARS, break_long_words=True) or ["Untitled"]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][:LINE_CHARS - 1].rstrip() + "…"
    return lines


def title_card_svg(*, title: str, genre: str = "", kind: str = "story") -> str:
    """The card as an SVG document: a dark gradient (light text on it reads at any hue), the title, and the
    kind and genre above it."""
    start, end = cover_hues(title, genre)
    lines = title_lines(title)
    line_height = 30
    top = HEIGHT / 2 - (len(lines) - 1) * line_height / 2 + 10
    text = "".join(f'<tspan x="24" y="{top + index * line_height:.0f}">{escape(line)}</tspan>'
                   for index, line in enumerate(lines))
    label = " · ".join(part for part in (KIND_LABELS.get(kind, ""), genre.strip()) if part)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({start},45%,22%)"/><stop offset="1" stop-color="hsl({end},50%,14%)"/>'
        f'</linearGradient></defs>'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#g)"/>'
        f'<circle cx="{WIDTH - 40}" cy="36" r="18" fill="hsl({end},60%,80%)" fill-opacity="0.35"/>'
        f'<text x="24" y="30" fill="#f3efe6" font-family="Georgia, serif" font-size="13" letter-spacing="1">'
        f'{escape(label.upper())}</text>'
        f'<text fill="#ffffff" font-family="Georgia, serif" font-size="24" font-weight="bold">{text}</text>'
        f'</svg>'
    )
