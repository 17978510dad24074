"""The embedded servers are started by the entry points (manage.py, bin/run, the web and worker processes,
the suite), never by importing the settings; what they create is named by the settings."""

import os
import subprocess
import sys
from pathlib import Path

import django.core.management
import pytest

from luna_site import celery, embedded

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_settings_starts_no_server(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    environment |= {"LUNA_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings"}
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['HOST']); print(settings.CELERY_BROKER_URL)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True,
                            text=True, timeout=120, check=True)
    host, broker = result.stdout.split()
    assert host == str(tmp_path / "postgres")  # where a first start will put the socket
    assert broker.startswith("redis+socket://")
    assert not (tmp_path / "postgres").exists()
    assert not Path(broker.removeprefix("redis+socket://")).exists()


def test_the_settings_read_the_socket_folder_of_the_running_server(settings):
    assert settings.DATABASES["default"]["HOST"] == embedded.postgres_socket_dir()
    assert Path(embedded.postgres_socket_dir(), ".s.PGSQL.5432").is_socket()


def test_manage_py_starts_the_servers_before_any_command(monkeypatch):
    import manage

    calls = []
    monkeypatch.setattr(embedded, "start_services", lambda: calls.append("start"))
    monkeypatch.setattr(django.core.management, "execute_from_command_line", lambda argv: calls.append("command"))
    manage.main()
    assert calls == ["start", "command"]


def test_a_worker_started_on_its_own_starts_the_servers(monkeypatch):
    calls = []
    monkeypatch.setattr(embedded, "start_services", lambda: calls.append("start"))
    celery.services_start()  # connected to celery's worker_init
    assert calls == ["start"]


def test_starting_points_this_process_at_the_socket_the_server_chose(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "HOST", "/where/the/settings/guessed")
    monkeypatch.setattr(embedded, "ensure_postgres", lambda: "/where/the/server/is")
    monkeypatch.setattr(embedded, "ensure_redis", lambda: None)
    embedded.start_services()
    assert settings.DATABASES["default"]["HOST"] == "/where/the/server/is"


def test_nothing_is_started_for_servers_given_by_url(settings, monkeypatch):
    settings.EMBEDDED_POSTGRES = settings.EMBEDDED_REDIS = False
    monkeypatch.setattr(embedded, "ensure_postgres", lambda: pytest.fail("started PostgreSQL"))
    monkeypatch.setattr(embedded, "ensure_redis", lambda: pytest.fail("started Redis"))
    embedded.start_services()


@pytest.fixture
def superuser_connection():
    with embedded.superuser_connect(embedded.postgres_socket_dir()) as conn:
        yield conn


def test_the_bootstrap_creates_the_roles_the_settings_name(settings, superuser_connection):
    settings.RLS_APP_ROLE, settings.RLS_ADMIN_ROLE, settings.RLS_MODERATOR_ROLE = (
        "setmig_app", "setmig_admin", "setmig_moderator")
    names = embedded.names_from_settings()
    assert names.request_roles == ("setmig_app", "setmig_admin", "setmig_moderator")
    names = embedded.Names(database=names.database, owner="setmig_owner", request_roles=names.request_roles)
    try:
        embedded.ensure_roles(superuser_connection, names)
        memberships = superuser_connection.execute(
            "SELECT r.rolname, r.rolcanlogin, m.inherit_option, m.set_option FROM pg_auth_members m "
            "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles o ON o.oid = m.member "
            "WHERE o.rolname = 'setmig_owner' ORDER BY r.rolname").fetchall()
        assert memberships == [("setmig_admin", False, False, True), ("setmig_app", False, False, True),
                               ("setmig_moderator", False, False, True)]
    finally:
        for role in ("setmig_app", "setmig_admin", "setmig_moderator", "setmig_owner"):
            superuser_connection.execute(f'DROP ROLE IF EXISTS "{role}"')
