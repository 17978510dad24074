"""Lore: activation per turn with 10 vs 2,000 entries, and the import of a 2,000-entry book."""

import json
import random
import statistics
import time

from django.contrib.auth import get_user_model

from accounts.rls import acting_as
from bench import bench_database
from chapters import lore
from chapters.models import Lorebook
from narrative_pipeline import lore_files
from narrative_pipeline.services import story_create

TITLE = "Lore: activation per turn, import of a big book"
SIZES, ROUNDS = (10, 2_000), 300
SYLLABLES = ["ar", "bel", "cor", "dun", "el", "fen", "gar", "hal", "ith", "jor", "kel", "lum", "mor", "nar", "or",
             "pel", "quor", "ras", "sil", "tor", "ul", "vel", "wyn", "xan", "yr", "zor"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def _book(count: int, rng: random.Random) -> tuple[bytes, list[str]]:
    """A SillyTavern World Info book of invented names (1-3 keys, some regex, some secondary keys)."""
    entries, names = {}, []
    for uid in range(count):
        name = _word(rng).capitalize()
        names.append(name)
        keys = [name, *(_word(rng) for _ in range(rng.randint(0, 2)))]
        if uid % 50 == 0:
            keys.append(f"/\\b{name.lower()}s?\\b/i")
        entries[str(uid)] = {"uid": uid, "key": keys, "keysecondary": [_word(rng)] if uid % 7 == 0 else [],
                             "selectiveLogic": 2 if uid % 7 == 0 else 0, "comment": name, "order": rng.randint(1, 200),
                             "content": f"{name} is a place of the old kingdom. " * 6, "constant": uid % 400 == 0}
    return json.dumps({"entries": entries}).encode(), names


def _scene(names: list[str], rng: random.Random) -> tuple[str, list[str]]:
    """A turn's scanned text (~6,000 characters) naming five of the book's entries."""
    filler = "The wind moves over the water and the lamps burn low along the quay. "
    mentioned = rng.sample(names, min(5, len(names)))
    recent = [filler * 25 + f" They speak of {mentioned[0]} and {mentioned[1]}.",
              filler * 25 + f" A letter from {mentioned[2]} arrives."]
    return f"I ask about {mentioned[3]} and {mentioned[4]}.", recent


def _activation_ms(user, count: int) -> tuple[float, float, int]:
    rng = random.Random(count)
    data, names = _book(count, rng)
    story = story_create(user=user, title=f"{count} entries")
    lore_files.import_file(user=user, story=story, data=data, filename=f"book-{count}.json")
    action, recent = _scene(names, rng)
    with acting_as(user):
        book = Lorebook.objects.get(story=story)
        lore._matchers.pop(book.pk, None)
        started = time.perf_counter()
        fired = lore.lore_for_turn(story_id=story.pk, action=action, recent=recent, seed="0")
        first = (time.perf_counter() - started) * 1000  # builds the book's matcher
        samples = []
        for turn in range(ROUNDS):
            started = time.perf_counter()
            lore.lore_for_turn(story_id=story.pk, action=action, recent=recent, seed=str(turn))
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[20:]), first, len(fired)


def _import_seconds(user) -> float:
    data, _ = _book(2_000, random.Random(7))
    samples = []
    for attempt in range(3):
        story = story_create(user=user, title=f"import {attempt}")
        started = time.perf_counter()
        lore_files.import_file(user=user, story=story, data=data, filename="big.json")
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run() -> str:
    with bench_database("lore"):
        user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-1234",
                                                    max_stories=100, storage_limit_mb=10_000)
        results = {count: _activation_ms(user, count) for count in SIZES}
        seconds = _import_seconds(user)
    small, large = results[SIZES[0]], results[SIZES[1]]
    return f"""
Lore activation per turn (`chapters.lore.lore_for_turn`, what the Preprocessor calls: the action and
the last turns, ~6,000 characters, scanned for every entry's keys, secondary-key logic, regex keys,
budget), median of {ROUNDS - 20} turns with the book's compiled matcher cached in the process:

| entries in the book | ms per turn | entries fired | first turn (builds the matcher), ms |
| ---: | ---: | ---: | ---: |
| {SIZES[0]} | {small[0]:.2f} | {small[2]} | {small[1]:.1f} |
| {SIZES[1]:,} | {large[0]:.2f} | {large[2]} | {large[1]:.1f} |
| **growth** (goal ≤ 1.5×) | **{large[0] / small[0]:.2f}×** | | |

Import of a 2,000-entry SillyTavern World Info book ({len(_book(2_000, random.Random(7))[0]) / 1e6:.1f} MB)
through `import_file` (parse, checks, one lorebook and 2,000 entries in one transaction), median of 3:
**{seconds:.2f} s**.
"""
