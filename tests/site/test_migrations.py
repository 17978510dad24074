"""Migrations are history: they import frozen DDL, never live code, and every one of them goes back.

The round trip runs on a scratch database of its own, in a fresh process pointed at it by DATABASE_URL:
forward, marketplace back to 0001, every app back to zero, forward again; the schema after the round
trip must be the one a fresh database gets."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
MIGRATION_FILES = sorted(REPO.glob("*/migrations/0*.py"))

# What a schema is, read from the catalogue as the owner role: tables and columns, constraints, indexes,
# Row-Level Security and its policies, triggers, functions and their owners, and the request roles' grants.
FINGERPRINT_SQL = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
               "WHERE table_schema = 'public'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE connamespace = 'public'::regnamespace",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "row_security": "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
    "policies": "SELECT tablename, policyname, cmd, roles::text, qual, with_check FROM pg_policies "
                "WHERE schemaname = 'public'",
    "triggers": "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
    "functions": "SELECT oid::regprocedure::text, pg_get_userbyid(proowner), prosrc, proacl::text FROM pg_proc "
                 "WHERE pronamespace = 'public'::regnamespace AND prokind = 'f' "
                 "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = pg_proc.oid AND d.deptype = 'e')",
    "grants": "SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants "
              "WHERE table_schema = 'public' AND grantee <> current_user",
    "schema": "SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'",
}

ROUND_TRIP = f"""
import json
import django
from django.core.management import call_command
from django.db import connection

FINGERPRINT_SQL = {FINGERPRINT_SQL!r}


def fingerprint():
    with connection.cursor() as cursor:
        return {{name: sorted(map(list, cursor.execute(query).fetchall())) for name, query in FINGERPRINT_SQL.items()}}


def tables():
    return sorted(connection.introspection.table_names())


django.setup()
call_command("migrate", verbosity=0)
fresh = fingerprint()
call_command("migrate", "marketplace", "0001", verbosity=0)
at_0001 = fingerprint()
call_command("migrate", "accounts", "zero", verbosity=0)  # every app of the site depends on accounts
tables_at_zero = [table for table in tables() if table.split("_")[0] in ("accounts", "chapters", "narrative",
                                                                          "marketplace")]
call_command("migrate", verbosity=0)
print(json.dumps({{"fresh": fresh, "again": fingerprint(), "at_0001": at_0001,
                  "tables_at_zero": tables_at_zero}}))
"""


def test_migrations_import_no_live_code():
    """Live helpers change; a migration that imported them would build another schema than it did."""
    assert MIGRATION_FILES
    for path in MIGRATION_FILES:
        source = path.read_text()
        assert "accounts.rls" not in source, path
        assert "accounts import rls" not in source, path


def _database_url(name: str) -> str:
    database = settings.DATABASES["default"]
    login = quote(database["USER"], safe="") + (f":{quote(database['PASSWORD'], safe='')}"
                                                 if database.get("PASSWORD") else "")
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgresql://{login}@{quote(database['HOST'], safe='')}{port}/{name}"


@pytest.fixture
def scratch_database():
    """An empty database beside the test database (the owner role may create databases)."""
    database = settings.DATABASES["default"]
    name = f"{database['TEST']['NAME']}_migrations"
    connect = {"host": database["HOST"], "user": database["USER"], "password": database.get("PASSWORD") or None,
               "port": database.get("PORT") or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**connect) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_migration_goes_back_and_forward_again_to_the_same_schema(scratch_database):
    environment = {**os.environ, "DATABASE_URL": _database_url(scratch_database),
                   "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings"}
    result = subprocess.run([sys.executable, "-c", ROUND_TRIP], cwd=REPO, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # marketplace at 0001: 0002's browse functions gone, and the bypass role's right to create them.
    functions_at_0001 = [row[0] for row in outcome["at_0001"]["functions"]]
    assert any(name.startswith("marketplace_browse(") for name, *_ in outcome["fresh"]["functions"])
    assert not [name for name in functions_at_0001 if name.startswith("marketplace_browse")]
    assert settings.RLS_ADMIN_ROLE in outcome["fresh"]["schema"][0][0]
    assert settings.RLS_ADMIN_ROLE not in outcome["at_0001"]["schema"][0][0]
    assert outcome["tables_at_zero"] == []
    for part, rows in outcome["fresh"].items():
        assert outcome["again"][part] == rows, part
