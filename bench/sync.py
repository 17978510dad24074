"""Source sync: a 1,000-turn fork against a 10-turn one, each with 1% of the turns changed upstream;
and a fork whose lorebook has 2,000 entries against one with 20, each with 1% of them changed."""

import json
import statistics
import time

from accounts.rls import acting_as
from bench import bench_database
from bench.marketplace import _story, _user
from chapters.lore import services as lore
from chapters.models import LoreEntry
from marketplace import forks, services, sync
from narrative_pipeline import lore_files, snapshots
from narrative_pipeline.models import Story, Turn

TITLE = "Source sync: time per sync, 1,000 vs 10 turns"
FORKS = 20
WORLD_FORKS = 6


def _sync_ms(author, reader, turns: int) -> tuple[float, int]:
    story = _story(author, turns, f"{turns} turns")
    listing = services.listing_publish(user=author, story=story, licence="CC-BY")
    records = [forks.fork_create(user=reader, listing_id=listing.pk) for _ in range(FORKS)]
    changed = max(1, turns // 100)
    for record in records:  # each fork rewrote one of the turns the author will change: a conflict
        snapshots.turn_text_set(user=reader, story=Story(pk=record.story_id, user_id=reader.pk, base_turn=turns),
                                number=1, prose="The fork's own first turn.")
    with acting_as(author):
        Turn.objects.filter(story=story, number__lte=changed).update(prose="Rewritten by the author.")
    services.listing_publish(user=author, story=story, licence="CC-BY", changelog="1% rewritten")
    return _median_sync_ms(reader, records, warm_up=2)


def _median_sync_ms(reader, records, *, warm_up: int) -> tuple[float, int]:
    """The median time to sync each fork, the first ``warm_up`` left out; and what the last one merged."""
    samples = []
    for record in records:
        started = time.perf_counter()
        run = sync.fork_sync(user=reader, fork_id=record.pk)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[warm_up:]), run.applied + run.conflict_count


def _world_sync_ms(author, reader, entries: int) -> tuple[float, int]:
    story = _story(author, 10, f"{entries} entries")
    book = {"entries": {str(uid): {"uid": uid, "key": [f"place{uid}"], "content": f"What is known of place {uid}."}
                        for uid in range(entries)}}
    lore_files.import_file(user=author, story=story, filename="world.json", data=json.dumps(book).encode())
    listing = services.listing_publish(user=author, story=story, licence="CC-BY")
    records = [forks.fork_create(user=reader, listing_id=listing.pk) for _ in range(WORLD_FORKS)]
    with acting_as(author):
        for entry in LoreEntry.objects.filter(story=story, position__lt=max(1, entries // 100)):
            entry.content = "Rewritten by the author."
            lore.entry_save(entry)
    services.listing_publish(user=author, story=story, licence="CC-BY", changelog="1% of the lore rewritten")
    return _median_sync_ms(reader, records, warm_up=1)


def run() -> str:
    with bench_database("sync"):
        author, reader = _user("author"), _user("reader")
        small, large = _sync_ms(author, reader, 10), _sync_ms(author, reader, 1_000)
        small_world, large_world = _world_sync_ms(author, reader, 20), _world_sync_ms(author, reader, 2_000)
    return f"""
Time of `marketplace.sync.sync` (read the turns the new version changed, merge them with the fork's,
move the fork's base, record conflicts), median of {FORKS - 2} forks, each with one conflicting edit:

| fork of | turns changed upstream | ms per sync |
| ---: | ---: | ---: |
| 10 turns | {small[1]} | {small[0]:.1f} |
| 1,000 turns | {large[1]} | {large[0]:.1f} |
| **growth** (goal ≤ 1.5×) | | **{large[0] / small[0]:.2f}×** |

The world (chapters, lore, cast) is the fork's own rows and is compared whole: a sync grows with
the world, which is bounded, not with the story. Median of {WORLD_FORKS - 1} forks:

| fork whose lorebook has | entries changed upstream | ms per sync |
| ---: | ---: | ---: |
| 20 entries | {small_world[1]} | {small_world[0]:.1f} |
| 2,000 entries | {large_world[1]} | {large_world[0]:.1f} |
"""
