"""The app at size: `seed_scale` data (users × 10 stories × 50 turns, chapters, a fork each), then the
story list, a story page, browse and the RLS overhead, at a few users and at SCALE_USERS users."""

import os
import random
import statistics
import time

import psycopg
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import User
from accounts.rls import acting_as
from bench import bench_database
from bench.rls_overhead import ACTING_AS_SQL, LIST_SQL, _superuser_conninfo
from luna_site import scale_data
from narrative_pipeline.models import Story, Turn

TITLE = "Scale data: story list, story page, browse and RLS at thousands of users"
SMALL = 20
USERS = int(os.environ.get("SCALE_USERS", "1000"))
REQUESTS = 200
SIGNED_IN = 20  # users signed in during a measurement


def _p50_p95(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=100)[94]


def _pages(rng: random.Random) -> dict[str, tuple[float, float]]:
    """p50 and p95 ms of each page, as SIGNED_IN random seeded users signed in with a session (as
    many at every size, each client warmed up once, so only the data's size differs)."""
    names = list(User.objects.filter(username__startswith=scale_data.USERNAME_PREFIX + "0")
                 .values_list("username", flat=True))
    players = []
    for name in rng.sample(names, SIGNED_IN):
        user, client = User.objects.get(username=name), Client()
        client.force_login(user)
        client.get("/stories/")
        with acting_as(user):
            own = Story.objects.filter(base_series__isnull=True).values_list("pk", flat=True).first()
            fork = Story.objects.filter(base_series__isnull=False).values_list("pk", flat=True).first()
        players.append((client, own, fork))
    samples: dict[str, list[float]] = {"story list (HTML)": [], "story list (API)": [], "story page (own story)": [],
                                       "story page (a fork)": [], "browse (API, full-text)": []}
    for _ in range(REQUESTS):
        client, own, fork = rng.choice(players)
        for name, url in (("story list (HTML)", "/stories/"), ("story list (API)", "/api/stories/"),
                          ("story page (own story)", f"/stories/{own}/"), ("story page (a fork)", f"/stories/{fork}/"),
                          ("browse (API, full-text)", "/api/marketplace/stories/?q=bells")):
            started = time.perf_counter()
            response = client.get(url)
            samples[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return {name: _p50_p95(times[10:]) for name, times in samples.items()}


def _rls_overhead(database: str, rng: random.Random) -> tuple[float, float]:
    """p50 ms of the story list query under RLS (the role and user already set in the transaction)
    and as the superuser with WHERE user_id, plain psycopg on both sides."""
    user_ids = [str(pk) for pk in User.objects.filter(username__startswith=scale_data.USERNAME_PREFIX + "0")
                .values_list("pk", flat=True)]
    params = connection.get_connection_params()
    app_info = ({"conninfo": settings.DATABASE_URL, "dbname": database} if settings.DATABASE_URL else
                {"host": params["host"], "user": params["user"], "dbname": database})
    rls, plain = [], []
    with (psycopg.connect(**app_info, prepare_threshold=None) as app,
          psycopg.connect(**_superuser_conninfo(database), autocommit=True, prepare_threshold=None) as superuser):
        for _ in range(2_200):
            user_id = rng.choice(user_ids)
            with app.transaction():
                app.execute(ACTING_AS_SQL, [settings.RLS_APP_ROLE, user_id])
                started = time.perf_counter()
                app.execute(LIST_SQL.format(where="")).fetchall()
                rls.append(time.perf_counter() - started)
            started = time.perf_counter()
            superuser.execute(LIST_SQL.format(where="WHERE user_id = %s"), [user_id]).fetchall()
            plain.append(time.perf_counter() - started)
    return statistics.median(rls[200:]) * 1000, statistics.median(plain[200:]) * 1000


def _measure(database: str, users: int, seconds: float) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    with acting_as(User.objects.get(username=scale_data.AUTHOR_NAME), bypass=True):
        stories, turns = Story.objects.count(), Turn.objects.count()
    rng = random.Random(users)
    _pages(rng)  # warm-up: templates, connections, caches
    return {"users": users, "stories": stories, "turns": turns, "bytes": size, "seed_s": seconds,
            "pages": _pages(rng), "rls": _rls_overhead(database, rng)}


def run() -> str:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    results = []
    with bench_database("scale") as database:
        for users in (SMALL, USERS):
            started = time.monotonic()
            scale_data.scale_data_seed(users=users, progress=lambda done: done % 500 or print(f"  {done} users",
                                                                                             flush=True))
            results.append(_measure(database, users, time.monotonic() - started))
    small, large = results
    rows = "\n".join(
        f"| {name} | {small['pages'][name][0]:.1f} / {small['pages'][name][1]:.1f} | "
        f"{large['pages'][name][0]:.1f} / {large['pages'][name][1]:.1f} | "
        f"{large['pages'][name][1] / small['pages'][name][1]:.2f}× |" for name in small["pages"])
    per_user = (large["bytes"] - small["bytes"]) / (large["users"] - small["users"])
    seed_per_user = large["seed_s"] / (large["users"] - small["users"])
    return f"""
`manage.py seed_scale` data: each user has 9 stories of their own of 50 turns (2 chapters each) and a
fork of one published 50-turn story. At {large['users']:,} users: {large['stories']:,} stories,
{large['turns']:,} turn rows, database {large['bytes'] / 1e9:.2f} GB ({per_user / 1e3:.0f} kB a user),
seeded in {large['seed_s']:.0f} s ({seed_per_user * 1000:.0f} ms a user, each in its own RLS transaction).

Pages through the test client (session sign-in, all middleware, RLS; no network), {SIGNED_IN} random users\n(each warmed up with one request),
p50 / p95 ms of {REQUESTS - 10}:

| request | {small['users']} users | {large['users']:,} users | p95 growth |
| --- | ---: | ---: | ---: |
{rows}

RLS overhead on the story list query (the RLS bench's query alone, plain psycopg; median of 2,000):
under RLS as `luna_app` with the user's id set {large['rls'][0]:.3f} ms against the superuser's explicit
`WHERE user_id = …` {large['rls'][1]:.3f} ms, **{large['rls'][0] / large['rls'][1]:.2f}×**
({small['rls'][0] / small['rls'][1]:.2f}× at {small['users']} users).

Extrapolated linearly to 5,000 users (if not measured at 5,000 above): {per_user * 5_000 / 1e9:.1f} GB,
{seed_per_user * 5_000 / 60:.0f} min of seeding.
"""
