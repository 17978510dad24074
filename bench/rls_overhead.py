"""Cost of RLS on a user-scoped list query, at 100k rows across 1,000 users.

The same list query runs under RLS as ``luna_app`` (no WHERE on the user: the policy is
the filter) and with an explicit ``WHERE user_id = …`` as the server's superuser, which
bypasses RLS. Goal: at most 1.10×.
"""

import random
import statistics
import time

import psycopg
from django.conf import settings
from django.db import connection

from bench import bench_database
from luna_site import embedded

TITLE = "RLS overhead on a user-scoped list query"
USERS, STORIES_PER_USER, ROUNDS, WARMUP = 1_000, 100, 5_000, 500
# What accounts.rls.acting_as sends at the start of each transaction.
ACTING_AS_SQL = "SELECT set_config('role', %s, true), set_config('app.current_user_id', %s, true)"
LIST_SQL = "SELECT id, title, updated_at FROM narrative_pipeline_story {where} ORDER BY updated_at DESC LIMIT 20"


def _superuser_conninfo(dbname: str) -> dict:
    if settings.DATABASE_URL:
        url = __import__("os").environ.get("BENCH_SUPERUSER_URL")
        if not url:
            raise SystemExit("With DATABASE_URL set, give BENCH_SUPERUSER_URL (a role that bypasses RLS).")
        return {"conninfo": url, "dbname": dbname}
    return {"host": settings.DATABASES["default"]["HOST"], "user": embedded.SUPERUSER, "dbname": dbname}


def _load(conn) -> None:
    conn.execute(
        """
        INSERT INTO accounts_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
                                   is_active, date_joined, tier, auth_epoch)
        SELECT md5('bench-user-' || n)::uuid, '', false, 'bench' || n, '', '', 'bench' || n || '@example.com',
               false, true, now(), 'free', 0
        FROM generate_series(1, %s) AS n
        """,
        [USERS],
    )
    conn.execute(
        """
        INSERT INTO narrative_pipeline_story (id, user_id, title, premise, genre, setting, memory, authors_note,
                                              state, llm_overrides, storage_bytes, base_turn, storage_mode, created_at,
                                              updated_at)
        SELECT gen_random_uuid(), md5('bench-user-' || u)::uuid, 'Story ' || s || ' of ' || u, 'premise', 'fantasy',
               '', '', '', '{}'::jsonb, '{}'::jsonb, 0, 0, 'plain',
               now() - (s || ' minutes')::interval, now() - (s || ' minutes')::interval
        FROM generate_series(1, %s) AS u, generate_series(1, %s) AS s
        """,
        [USERS, STORIES_PER_USER],
    )
    conn.execute("ANALYZE")


def _summary(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=100)[94]


def run() -> str:
    with (bench_database("rls") as bench_db,
          psycopg.connect(**_superuser_conninfo(bench_db), autocommit=True, prepare_threshold=None) as superuser):
        _load(superuser)
        user_ids = [row[0] for row in superuser.execute("SELECT id FROM accounts_user")]
        rng = random.Random(7)
        picks = [rng.choice(user_ids) for _ in range(ROUNDS)]
        # Plain psycopg on both sides: the same client, so only the server's work differs.
        params = connection.get_connection_params()
        app_conninfo = {"host": params["host"], "user": params["user"], "dbname": bench_db}
        if settings.DATABASE_URL:
            app_conninfo = {"conninfo": settings.DATABASE_URL, "dbname": bench_db}
        with psycopg.connect(**app_conninfo, prepare_threshold=None) as app:

            def whole_request(user_id):
                start = time.perf_counter()
                with app.transaction():
                    app.execute(ACTING_AS_SQL, [settings.RLS_APP_ROLE, str(user_id)])
                    rows = app.execute(LIST_SQL.format(where="")).fetchall()
                assert len(rows) == 20
                return (time.perf_counter() - start) * 1e6

            def under_rls(user_id):
                with app.transaction():
                    app.execute(ACTING_AS_SQL, [settings.RLS_APP_ROLE, str(user_id)])
                    start = time.perf_counter()
                    rows = app.execute(LIST_SQL.format(where="")).fetchall()
                    elapsed = (time.perf_counter() - start) * 1e6
                assert len(rows) == 20
                return elapsed

            def app_query(user_id):
                with app.transaction():
                    app.execute(ACTING_AS_SQL, [settings.RLS_APP_ROLE, str(user_id)])
                    start = time.perf_counter()
                    rows = app.execute(LIST_SQL.format(where="WHERE user_id = %s"), [user_id]).fetchall()
                    elapsed = (time.perf_counter() - start) * 1e6
                assert len(rows) == 20
                return elapsed

            def explicit_filter(user_id):
                with superuser.transaction():
                    start = time.perf_counter()
                    rows = superuser.execute(LIST_SQL.format(where="WHERE user_id = %s"), [user_id]).fetchall()
                    elapsed = (time.perf_counter() - start) * 1e6
                assert len(rows) == 20
                return elapsed

            def whole_explicit(user_id):
                start = time.perf_counter()
                with superuser.transaction():
                    rows = superuser.execute(LIST_SQL.format(where="WHERE user_id = %s"), [user_id]).fetchall()
                assert len(rows) == 20
                return (time.perf_counter() - start) * 1e6

            variants = (explicit_filter, under_rls, app_query, whole_explicit, whole_request)
            samples = {variant: [] for variant in variants}
            for round_number, user_id in enumerate(picks):
                # Interleaved, so every variant meets the same machine conditions.
                for variant in variants:
                    elapsed = variant(user_id)
                    if round_number >= WARMUP:
                        samples[variant].append(elapsed)
            explicit, query, own, explicit_request, request = (_summary(samples[variant]) for variant in variants)
            with app.transaction():
                app.execute(ACTING_AS_SQL, [settings.RLS_APP_ROLE, str(picks[0])])
                plan = "\n".join(row[0] for row in app.execute("EXPLAIN " + LIST_SQL.format(where="")))
    return f"""
{USERS:,} users × {STORIES_PER_USER} stories = {USERS * STORIES_PER_USER:,} rows; {ROUNDS:,} rounds, random users;
plain psycopg connections without prepared statements on both sides; only the query is timed.
Query: `{LIST_SQL.format(where="[WHERE user_id = …]")}`.

| variant | median µs | p95 µs | ratio (median) |
| --- | ---: | ---: | ---: |
| explicit `WHERE user_id = …` as the superuser (bypasses RLS), in a transaction | {explicit[0]:.0f} | {explicit[1]:.0f} | 1.00× |
| the same query, no WHERE, under RLS as `luna_app` in a transaction acting for the user | {query[0]:.0f} | {query[1]:.0f} | {query[0] / explicit[0]:.2f}× |
| the app's query (`selectors.story_list`: its own `WHERE user_id = …`) under RLS as `luna_app` | {own[0]:.0f} | {own[1]:.0f} | **{own[0] / explicit[0]:.2f}×** |
| a whole transaction as the superuser: BEGIN, the query with its WHERE, COMMIT | {explicit_request[0]:.0f} | {explicit_request[1]:.0f} | 1.00× |
| a whole transaction under RLS: BEGIN, acting as the user (one statement), the query, COMMIT | {request[0]:.0f} | {request[1]:.0f} | {request[0] / explicit_request[0]:.2f}× |

Goal: the app's query under RLS at most 1.10× the explicit filter. The whole-transaction rows add
what a request pays once: the one statement that sets the role and the user. With no WHERE of its own, the
query is filtered by the policies alone: the owner's `user_id = me` OR-ed with the co-authors' `id = ANY(the
stories shared with me)`, read once per statement (`_ddl_v2`, narrative_pipeline 0010; the correlated `EXISTS`
before it made this a sequential scan of every story, 37× slower). An OR cannot walk the `(user_id, updated_at)`
index in order, so PostgreSQL ORs two index scans and sorts the user's rows, and the app's own `WHERE` does not
change that plan: both stay above the goal (about 0.2 ms more per list; see the closing note of issue 16 for the
way back under it):

```
{plan}
```
"""
