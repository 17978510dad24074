"""`make backup` and `make restore`: a seeded database dumped by `manage.py backup` and restored by
`manage.py restore` into a scratch database of its own comes back row for row, read as the app reads it (the
owner acting as the admin role, RLS on), with the same schema, policies and grants; a broken dump changes nothing."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from luna_site import backups, embedded

from .test_migrations import FINGERPRINT_SQL

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]
# The seeded tables that must hold rows, so the comparison cannot pass on empty tables.
SEEDED = {"accounts_user", "narrative_pipeline_story", "narrative_pipeline_turn", "narrative_pipeline_agentcall",
          "narrative_pipeline_storyarc", "narrative_pipeline_turnsummary", "narrative_pipeline_character"}


def url(*, user: str, database: str) -> str:
    return f"postgresql://{user}@{quote(settings.DATABASES['default']['HOST'], safe='')}/{database}"


def manage(*args: str, database: str) -> str:
    """A manage.py command in a fresh process, its backup role the embedded superuser on ``database``."""
    env = {**os.environ, "DATABASE_URL": url(user=settings.DATABASES["default"]["USER"], database=database),
           "BACKUP_DATABASE_URL": url(user=embedded.SUPERUSER, database=database)}
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def rows_as_the_app_reads_them(database: str) -> dict[str, list[str]]:
    """Every table's rows, sorted, as the owner role acting as the admin role where that role may read the
    table (its policies show every row, RLS on), else as the owner itself."""
    # Autocommit: each table read is a transaction of its own, so SET LOCAL ROLE ends with it.
    with psycopg.connect(url(user=settings.DATABASES["default"]["USER"], database=database), autocommit=True) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        found = {}
        for table in tables:
            with conn.transaction():
                readable = conn.execute("SELECT has_table_privilege(%s, %s, 'SELECT')",
                                        [settings.RLS_ADMIN_ROLE, table]).fetchone()[0]
                if readable:
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(settings.RLS_ADMIN_ROLE)))
                found[table] = sorted(row for (row,) in conn.execute(
                    sql.SQL("SELECT to_jsonb(t)::text FROM {} t").format(sql.Identifier(table))))
        return found


def fingerprint(database: str) -> dict:
    with psycopg.connect(url(user=settings.DATABASES["default"]["USER"], database=database)) as conn:
        found = {name: sorted(map(list, conn.execute(query).fetchall())) for name, query in FINGERPRINT_SQL.items()}
    # An index's definition comes back re-parsed (a partial index's `= ANY (ARRAY[…])` cast differently, the
    # same predicate): its table and name are compared.
    found["indexes"] = [row[:2] for row in found["indexes"]]
    return found


@pytest.fixture
def scratch_database():
    name = f"{settings.DATABASES['default']['NAME']}_restore"
    socket_dir = settings.DATABASES["default"]["HOST"]
    owner = sql.Identifier(settings.DATABASES["default"]["USER"])
    with embedded.superuser_connect(socket_dir) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), owner))
    yield name
    with embedded.superuser_connect(socket_dir) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_seeded_database_comes_back_row_for_row(bob_story, alice_story, scratch_database, tmp_path):
    source = settings.DATABASES["default"]["NAME"]
    seeded = rows_as_the_app_reads_them(source)
    assert all(seeded[table] for table in SEEDED), {table: len(seeded[table]) for table in SEEDED}

    dump = Path(manage("backup", "--dir", str(tmp_path), database=source))
    assert dump.parent == tmp_path and dump.suffix == ".dump" and not list(tmp_path.glob("*.partial"))
    assert dump.stat().st_mode & 0o777 == 0o600  # every player's rows: the backup user's eyes only
    manage("restore", "--noinput", str(dump), database=scratch_database)
    assert rows_as_the_app_reads_them(scratch_database) == seeded
    assert fingerprint(scratch_database) == fingerprint(source)  # RLS forced, policies, grants, triggers

    # Over a database that has rows (the usual restore): replaced, not added to.
    manage("restore", "--noinput", str(dump), database=scratch_database)
    assert rows_as_the_app_reads_them(scratch_database) == seeded


def test_a_broken_dump_changes_nothing(bob_story, scratch_database, tmp_path):
    source = settings.DATABASES["default"]["NAME"]
    dump = Path(manage("backup", "--dir", str(tmp_path), database=source))
    manage("restore", "--noinput", str(dump), database=scratch_database)
    before = rows_as_the_app_reads_them(scratch_database)
    broken = tmp_path / "broken.dump"
    broken.write_bytes(dump.read_bytes()[: dump.stat().st_size * 3 // 4])
    env = {**os.environ, "BACKUP_DATABASE_URL": url(user=embedded.SUPERUSER, database=scratch_database),
           "DATABASE_URL": url(user=settings.DATABASES["default"]["USER"], database=scratch_database)}
    failed = subprocess.run([sys.executable, "manage.py", "restore", "--noinput", str(broken)], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert failed.returncode != 0
    assert rows_as_the_app_reads_them(scratch_database) == before


def test_the_embedded_server_is_dumped_by_its_superuser(settings):
    settings.EMBEDDED_POSTGRES = True
    assert backups.server_conninfo() == (f"host={embedded.ensure_postgres()} user={embedded.SUPERUSER} "
                                         f"dbname={settings.DATABASES['default']['NAME']}")


def test_make_restore_without_a_dump_says_how():
    done = subprocess.run(["make", "--no-print-directory", "restore"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "DUMP": ""})
    assert done.returncode != 0 and "usage: make restore DUMP=" in done.stderr
