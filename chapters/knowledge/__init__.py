"""Who knows what (issue #20), a room of its own inside chapters: facts of the story and who knows them
(``rules``: pure; ``services``: writes and the per-turn step; ``selectors``: reads). The model is
``chapters.models.Knowledge``; lore entries and characters carry ``known_by``/``reveal_when`` too, mirrored
into Knowledge rows each turn so one rule decides for all of them."""
