"""Chapters in Django admin, one module per room: the chapter editor (with the story's chapter inline), the
Dreamer's suggestions, and the lore admin (``chapters.lore.admin``). Importing this package registers them."""

from ..lore import admin as lore_admin  # noqa: F401 — registers the lore admin
from . import chapter_editor, knowledge, suggestions  # noqa: F401 — register the chapter, knowledge, suggestion admins
