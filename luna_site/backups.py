"""Backups of the database (``make backup``) and restoring one (``make restore DUMP=…``): pg_dump's custom
format, written and read with the embedded PostgreSQL package's own pg_dump and pg_restore (the system's are
older than the server, and a dump must be read by a pg_restore at least as new as the pg_dump).

Under FORCE ROW LEVEL SECURITY the owner role dumps no user's row, so both run as a role that bypasses RLS:
the embedded server's superuser, or ``BACKUP_DATABASE_URL`` (a superuser or a ``BYPASSRLS`` role of your
server; default ``DATABASE_URL``, which only works if that role bypasses RLS). docs/operations.md, "Backups".
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from luna_site import embedded


def server_conninfo() -> str:
    """Where the backup role reaches the app's database: a libpq connection string or URL."""
    if settings.EMBEDDED_POSTGRES:
        return f"host={embedded.ensure_postgres()} user={embedded.SUPERUSER} dbname={settings.DATABASES['default']['NAME']}"
    return os.environ.get("BACKUP_DATABASE_URL") or settings.DATABASE_URL


def database_dump(*, conninfo: str, target_dir: Path) -> Path:
    """The whole database (schema, RLS policies, grants, rows) into one timestamped ``.dump`` file."""
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = target_dir / f"luna-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.dump"
    partial = target.with_suffix(".partial")
    # Every player's rows and the sealed connection keys: readable by this user only, from the first byte
    # (pg_dump writes into the file as it finds it, keeping its mode).
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    subprocess.run([str(embedded.postgres_bin("pg_dump")), "--format=custom", f"--file={partial}",
                    f"--dbname={conninfo}"], check=True)
    partial.rename(target)  # a dump cut off half-way never looks like a backup
    return target


def database_restore(*, conninfo: str, dump: Path) -> None:
    """Replace the database's objects and rows with the dump's, in one transaction: on any error nothing
    changes. The roles (luna, luna_app, luna_admin, luna_moderator) and the extensions' packages must exist
    on the server; stop the web and worker processes first."""
    subprocess.run([str(embedded.postgres_bin("pg_restore")), "--clean", "--if-exists", "--single-transaction",
                    "--exit-on-error", f"--dbname={conninfo}", str(dump)], check=True)
