"""Lore, a room of its own inside chapters: lorebooks and their entries (``services``), which entries fire for
a turn (``activation``), the size caps (``limits``), the file formats (``importers``) and the lore admin
(``admin``). The models stay in ``chapters.models`` (their tables are ``chapters_lorebook`` and friends)."""
