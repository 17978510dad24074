"""Marketplace: fork time, fork storage, reading a fork, browse at scale, version storage."""

import random
import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from accounts.rls import acting_as
from bench import bench_database
from marketplace import forks, selectors, services
from marketplace.models import Listing
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline import snapshots
from narrative_pipeline.models import SnapshotSeries, Story, StorySnapshot, Turn
from narrative_pipeline.services import story_create

TITLE = "Marketplace: forks, storage, reads, browse, versions"
TAGS = ["harbour", "tide", "bell", "lantern", "storm", "reef", "gull", "anchor", "ember", "forest", "tower", "wyrm", "glade", "ruin", "oath", "crown", "river", "market", "chapel", "lighthouse", "smuggler", "archive", "comet", "desert", "oasis", "caravan", "citadel", "heist", "romance", "war", "court", "space", "noir", "cozy", "horror", "mystery", "comedy", "tragedy", "school", "dragons"]
_SOUNDS = (["a", "e", "i", "o", "u", "ae", "ou"],
           ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "br", "dr", "st", "th", "sh", "gr"])


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SOUNDS[i % 2]) for i in range(rng.randint(4, 7)))


# A vocabulary the size of a real one, so a search word is as selective as real search words are.
WORDS = sorted({_word(random.Random(n)) for n in range(6_000)})
FORKS = 1_000


def _user(name: str):
    return get_user_model().objects.create_user(name, f"{name}@example.com", "bench-password-1234",
                                                max_stories=5_000, storage_limit_mb=100_000)


def _story(user, turns: int, title: str) -> Story:
    story = story_create(user=user, title=title, premise="A harbour town and its drowned bells.")
    now = timezone.now()
    with acting_as(user):
        Turn.objects.bulk_create([Turn(
            user_id=user.pk, story=story, number=n, action=f"I walk on, step {n}.", idempotency_key=f"k{n}",
            prose=f"Passage {n}. " + "The tide comes in over the old stones, grey and patient. " * 12,
            status=Turn.Status.COMPLETED, completed_at=now, state_before=story.state) for n in range(1, turns + 1)],
            batch_size=1_000)
    return story


def _fork_ms(author, reader, turns: int) -> float:
    listing = services.listing_publish(user=author, story=_story(author, turns, f"{turns} turns"), licence="CC-BY")
    samples = []
    for _ in range(30):
        started = time.perf_counter()
        forks.fork_create(user=reader, listing_id=listing.pk)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _storage(author, reader) -> tuple[int, int]:
    """(bytes of 1,000 forks with 10% of turns edited, bytes of 1,000 full copies), as quotas count them."""
    listing = services.listing_publish(user=author, story=_story(author, 100, "Storage"), licence="CC-BY")
    rng = random.Random(1)
    fork_bytes = 0
    for index in range(FORKS):
        record = forks.fork_create(user=reader, listing_id=listing.pk)
        story = Story(pk=record.story_id, user_id=reader.pk, base_turn=100)
        for number in rng.sample(range(1, 101), 10):
            snapshots.turn_text_set(user=reader, story=story, number=number, prose=f"Fork {index} rewrote {number}.")
    with acting_as(reader):
        fork_bytes = sum(Story.objects.filter(fork_records__community=listing).values_list("storage_bytes", flat=True))
    # A full copy holds every turn: materialize one fork and count it a thousand times.
    record = forks.fork_create(user=reader, listing_id=listing.pk)
    with acting_as(reader):
        story = Story.objects.get(pk=record.story_id)
        snapshots.materialize(user=reader, story=story)
        copy_bytes = Story.objects.get(pk=record.story_id).storage_bytes
    return fork_bytes, copy_bytes * FORKS


def _read_ms(author, reader) -> tuple[float, float]:
    plain = _story(reader, 500, "Plain 500")
    listing = services.listing_publish(user=author, story=_story(author, 500, "Source 500"), licence="CC-BY")
    record = forks.fork_create(user=reader, listing_id=listing.pk)
    story = Story(pk=record.story_id, user_id=reader.pk, base_turn=500)
    for number in random.Random(2).sample(range(1, 501), 50):
        snapshots.turn_text_set(user=reader, story=story, number=number, prose=f"Mine, turn {number}.")

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have by now

    def median_ms(target) -> float:
        samples = []
        with acting_as(reader):
            for _ in range(40):
                started = time.perf_counter()
                rows = list(story_selectors.story_turns(story=target).values_list("number", "action", "prose"))
                samples.append((time.perf_counter() - started) * 1000)
        assert len(rows) == 500
        return statistics.median(samples[5:])

    return median_ms(plain), median_ms(story)


INDEXES = ("community_search", "community_tags", "community_title_trigram")


def _index_scans() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname = ANY(%s)",
                       [list(INDEXES)])
        return int(cursor.fetchone()[0])


def _browse_p95(author, reader, count: int) -> tuple[float, int]:
    """p95 of first pages of full-text + tag searches, and how often the GIN indexes were scanned."""
    rng = random.Random(count)
    existing = Listing.objects.count()
    with acting_as(author):
        series = SnapshotSeries.objects.bulk_create([SnapshotSeries(author_id=author.pk, is_public=True,
                                                                    latest_version=1) for _ in range(count - existing)],
                                                    batch_size=5_000)
        Listing.objects.bulk_create([Listing(
            series=row, author_id=author.pk, author_name=author.username, licence="CC-BY",
            title=" ".join(rng.sample(WORDS, 3)).title(), description=" ".join(rng.sample(WORDS, 12)),
            tags=rng.sample(TAGS, 2), genre=rng.choice(["fantasy", "horror", "mystery"]))
            for row in series], batch_size=5_000)
        services.search_index_update(listings=Listing.objects.filter(search__isnull=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE marketplace_communitystory")
        cursor.execute("ANALYZE narrative_pipeline_snapshotseries")
    scans_before, samples = _index_scans(), []
    with acting_as(reader):
        for _ in range(60):
            started = time.perf_counter()
            results = selectors.browse(q=rng.choice(WORDS), tags=rng.sample(TAGS, 3), sort="relevance")
            results.count()
            results[:20]
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return samples[int(len(samples) * 0.95) - 1], _index_scans() - scans_before


def _versions(author) -> tuple[int, int]:
    story = _story(author, 500, "Twenty versions")
    first = snapshots.snapshot_create(user=author, story=story, public=True)
    rng = random.Random(3)
    for version in range(2, 21):
        with acting_as(author):
            for number in rng.sample(range(1, 501), 5):  # 1% of the turns
                Turn.objects.filter(story=story, number=number).update(prose=f"Revised in version {version}.")
        snapshots.snapshot_create(user=author, story=story, series=first.series)
    with acting_as(author):
        total = sum(StorySnapshot.objects.filter(series=first.series).values_list("stored_bytes", flat=True))
    return total, first.stored_bytes


def run() -> str:
    with bench_database("marketplace"):
        author, reader = _user("author"), _user("reader")
        fork_ms = {turns: _fork_ms(author, reader, turns) for turns in (10, 1_000)}
        fork_bytes, copy_bytes = _storage(author, reader)
        plain_ms, fork_read_ms = _read_ms(author, reader)
        browse = {count: _browse_p95(author, reader, count) for count in (500, 50_000)}
        versions_total, version_one = _versions(author)
    return f"""
Fork time (`marketplace.forks.fork_create`: the fork record, the user's story based on the latest version,
its chapters, lore and cast, the activity row; no turn copied), median of 30:

| story forked | ms |
| ---: | ---: |
| 10 turns | {fork_ms[10]:.1f} |
| 1,000 turns | {fork_ms[1_000]:.1f} |
| **growth** (goal ≤ 1.2×) | **{fork_ms[1_000] / fork_ms[10]:.2f}×** |

Storage, as the quotas count it, of {FORKS:,} forks of a 100-turn story with 10% of the turns edited
(one override row per edited turn) against {FORKS:,} full copies: {fork_bytes / 1e6:.1f} MB against
{copy_bytes / 1e6:.1f} MB, **{100 * fork_bytes / copy_bytes:.1f}%** (goal ≤ 10%).

Reading all the turns of a 500-turn story through the one turns reader, median of 35:

| story | ms |
| --- | ---: |
| plain | {plain_ms:.2f} |
| fork with 10% overrides | {fork_read_ms:.2f} |
| **ratio** (goal ≤ 1.5×) | **{fork_read_ms / plain_ms:.2f}×** |

Browse with full-text search and a tag filter (the count and the first page of 20), p95 of 60 searches
by a user under RLS, through `marketplace_browse` (DESIGN §6: under RLS the full-text and trigram
operators, not leakproof, would keep PostgreSQL off their GIN indexes; the function reads only public
rows as the bypass role, so it can use them):

| published stories | p95 ms | GIN index scans |
| ---: | ---: | ---: |
| 500 | {browse[500][0]:.1f} | {browse[500][1]} |
| 50,000 | {browse[50_000][0]:.1f} | {browse[50_000][1]} |
| **growth** (goal ≤ 1.5×) | **{browse[50_000][0] / browse[500][0]:.2f}×** | |

Twenty versions of a 500-turn story, each editing 1% of the turns: {versions_total / 1e3:.0f} kB stored
in all against {version_one / 1e3:.0f} kB for the first, **{versions_total / version_one:.2f}×** (goal ≤ 1.3×).
"""
