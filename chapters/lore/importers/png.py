"""Character cards inside PNG images: the card's JSON, base64-encoded, in a ``chara`` (V2) or
``ccv3`` (V3) text chunk. Read and written with Pillow; ``ccv3`` wins where both exist."""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .document import FormatError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_CHUNKS = ("ccv3", "chara")
# Pillow refuses text chunks over 1 MB by default; cards with big books are larger (DESIGN §6).
PngImagePlugin.MAX_TEXT_CHUNK = 64 * 1024 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 128 * 1024 * 1024


def is_png(data: bytes) -> bool:
    return data.startswith(SIGNATURE)


def card_text(data: bytes) -> str:
    """The card JSON a PNG carries."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            chunks = dict(getattr(image, "text", {}) or {})
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise FormatError(f"the PNG image cannot be read ({error}).") from error
    for keyword in CARD_CHUNKS:
        if keyword in chunks:
            try:
                return base64.b64decode(chunks[keyword], validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError) as error:
                raise FormatError(f"the PNG's {keyword!r} chunk is not base64 of UTF-8 JSON.") from error
    raise FormatError("the PNG image carries no character card (no 'chara' or 'ccv3' text chunk).")


def card_png(card_json: str, *, keyword: str, image: bytes | None) -> bytes:
    """``image`` (or a plain placeholder) with the card in its ``keyword`` chunk; other text chunks kept."""
    if image:
        with Image.open(io.BytesIO(image)) as source:
            source.load()
            picture = source.copy()
            kept = {k: v for k, v in (getattr(source, "text", {}) or {}).items() if k not in CARD_CHUNKS}
    else:
        picture, kept = Image.new("RGB", (400, 600), (32, 36, 48)), {}
    info = PngImagePlugin.PngInfo()
    for key, value in kept.items():
        info.add_text(key, value)
    info.add_text(keyword, base64.b64encode(card_json.encode("utf-8")).decode("ascii"))
    out = io.BytesIO()
    picture.save(out, format="PNG", pnginfo=info)
    return out.getvalue()
