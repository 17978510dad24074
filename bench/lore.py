"""Lore: activation per turn with 10 vs 2,000 entries, the import of a 2,000-entry book, and a whole
turn with no lore against a turn with the largest book the caps allow (hostile regex keys included)."""

import json
import os
import random
import statistics
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from accounts.rls import acting_as
from bench import bench_database
from chapters.lore import activation
from chapters.lore import limits as lore_limits
from chapters.lore import services as lore
from chapters.models import Lorebook
from core import task_queue
from narrative_pipeline import lore_files, orchestrator
from narrative_pipeline.models import Turn
from narrative_pipeline.services import story_create

TITLE = "Lore: activation per turn, import of a big book, a turn with the largest book allowed"
SIZES, ROUNDS = (10, 2_000), 300
TURNS, WARM_UP = 110, 5
# Patterns that backtrack catastrophically (or nearly) on a run of "a"s, "x"s or words not followed by what they
# want; the turns' actions below carry such runs.
HOSTILE = [r"(a+)+$", r"(a|aa)+$", r"(a|aa)+b$", r"(\w|\w\w)+!$", r"(x+x+)+y", r"(.*a){12}$", r"^(\w+\s?)*$",
           r"(a|a?)+z", r"([a-z]+)*=", r"(\s*\w+\s*)+;"]
ACTIONS = ["I ask Captain Hale about the ship aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.",
           "I walk to the lighthouse, calling xxxxxxxxxxxxxxxxxxxxxxxxxxxx into the wind.",
           "I take the brass lantern and whisper the old words over and over again without end",
           "I search the tide pools for clues, aaaaaaaaaaaaaaaaaaaaaaaaaaab."]
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


def _largest_book(rng: random.Random) -> tuple[bytes, int]:
    """A World Info book at every cap: the most entries, the most regex keys (hostile ones), the longest keys,
    the most keys on an entry. Returns the file and its number of regex keys."""
    caps = lore_limits.limits()
    entries = {}
    for uid in range(caps.entries_per_book):
        name = _word(rng).capitalize()
        keys = [name, *(_word(rng) for _ in range(2))]
        if uid < caps.regex_keys_per_book:
            pattern = HOSTILE[uid % len(HOSTILE)]
            keys = [f"/{pattern}(?#{uid})/i"]  # a comment makes each a different key
        elif uid == caps.regex_keys_per_book:
            keys = [(name * caps.key_length)[: caps.key_length - 1] + str(i % 10) for i in range(caps.keys_per_entry)]
        entries[str(uid)] = {"uid": uid, "key": keys, "keysecondary": [], "comment": name, "order": rng.randint(1, 200),
                             "content": f"{name} is a place of the old kingdom. " * 6, "constant": uid % 1000 == 999}
    return json.dumps({"entries": entries}).encode(), min(caps.regex_keys_per_book, caps.entries_per_book)


def _turns_ms(user, stories) -> list[list[float]]:
    """Whole turns (the writers' room with the offline provider), one in each story in turn, so a busier moment
    of the machine falls on all of them; the Dreamer runs between turns, untimed. Milliseconds per story."""
    timings = [[] for _ in stories]
    with task_queue.held():
        for number in range(1, TURNS + 1):
            for story, story_timings in zip(stories, timings, strict=True):
                started = time.perf_counter()
                turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, idempotency_key=f"bench-{number}",
                                                   action=ACTIONS[number % len(ACTIONS)])
                turn = orchestrator.turn_generate(user=user, turn=turn)
                story_timings.append((time.perf_counter() - started) * 1000)
                assert turn.status == Turn.Status.COMPLETED, turn.error
                task_queue.run_held()
    return [story_timings[WARM_UP:] for story_timings in timings]


def _largest_book_turns(user) -> dict:
    data, regex_keys = _largest_book(random.Random(11))
    plain = story_create(user=user, title="No lore", state={"location": "the harbour"})
    loaded = story_create(user=user, title="The largest book", state={"location": "the harbour"})
    started = time.perf_counter()
    lore_files.import_file(user=user, story=loaded, data=data, filename="largest.json")
    imported = time.perf_counter() - started
    without, with_book = _turns_ms(user, [plain, loaded])
    with acting_as(user):
        last = Turn.objects.filter(story=loaded).order_by("-number").first()
    skipped = sum(skip["entries"] for skip in last.briefing["lore_skipped"])
    with acting_as(user):
        book = Lorebook.objects.get(story=loaded)
        action = ACTIONS[1]
        samples = []
        for turn in range(ROUNDS):
            started = time.perf_counter()
            lore.lore_for_turn(story_id=loaded.pk, action=action, recent=[ACTIONS[0], ACTIONS[3]], seed=str(turn))
            samples.append((time.perf_counter() - started) * 1000)
        entries = book.entries.count()
    return {"without": statistics.median(without), "with": statistics.median(with_book), "p95_with": sorted(
        with_book)[int(len(with_book) * 0.95)], "matching": statistics.median(samples), "skipped": skipped,
        "entries": entries, "regex_keys": regex_keys, "size": len(data), "imported": imported}


def _refused_seconds(user) -> tuple[float, str]:
    """How long the refusal of a 100,000-entry book takes (the file is read and checked, nothing written)."""
    entries = {str(uid): {"uid": uid, "key": [f"k{uid}"], "content": "x"} for uid in range(100_000)}
    data = json.dumps({"entries": entries}).encode()
    story = story_create(user=user, title="refused")
    started = time.perf_counter()
    try:
        lore_files.import_file(user=user, story=story, data=data, filename="huge.json")
    except ValidationError as error:
        return time.perf_counter() - started, "; ".join(error.messages)
    raise AssertionError("a 100,000-entry book was imported")


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
        fired = lore.lore_for_turn(story_id=story.pk, action=action, recent=recent, seed="0").fired
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
        largest = _largest_book_turns(user)
        refused, message = _refused_seconds(user)
    small, large = results[SIZES[0]], results[SIZES[1]]
    caps = lore_limits.limits()
    return f"""
Lore activation per turn (`chapters.lore.services.lore_for_turn`, what the Preprocessor calls: the action and
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

A whole turn (`turn_submit` and `turn_generate`, the writers' room with the offline provider; the Dreamer
between turns, untimed), median of {TURNS - WARM_UP} turns each, taken in turn, in a story with no lore and in
one with the largest book the caps allow: {largest["entries"]:,} entries ({largest["size"] / 1e6:.1f} MB,
imported in {largest["imported"]:.1f} s), {largest["regex_keys"]} different regex keys, all hostile (`(a+)+$`,
`(a|aa)+$`, `(\\w|\\w\\w)+!$`, … against actions holding long runs of `a` and `x`), an entry with
{caps.keys_per_entry} keys of {caps.key_length} characters; the turn's lore budget `LORE_TURN_BUDGET_MS` =
{settings.LORE_TURN_BUDGET_MS:g} ms of CPU time, each regex search at most {1000 * activation.REGEX_TIMEOUT:g} ms:

| story | ms per turn (median) |
| --- | ---: |
| no lore | {largest["without"]:.1f} |
| the largest book allowed | {largest["with"]:.1f} (p95 {largest["p95_with"]:.1f}) |
| **ratio** (goal ≤ 1.5×) | **{largest["with"] / largest["without"]:.2f}×** |

Its key matching alone (`lore_for_turn`, matcher cached) takes {largest["matching"]:.1f} ms a turn (median of
{ROUNDS}); the last turn reported {largest["skipped"]} entries skipped (`lore_skipped`, shown in the writers'
room). Load average during the run: {" / ".join(f"{load:.1f}" for load in os.getloadavg())} (1 / 5 / 15 min)
on {os.cpu_count()} cores. A 100,000-entry book (the file that once took 17 s to import) is refused in {refused:.2f} s, nothing
written: “{message}”
"""
