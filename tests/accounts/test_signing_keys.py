"""The app's keys: never a fallback in the source, required with DEBUG off, generated per checkout otherwise."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from luna_site import keys

REPO = Path(__file__).resolve().parents[2]
OLD_DEVELOPMENT_KEY = "luna-local-development-key-not-for-production-use-0123456789"
PRINT_KEYS = "from django.conf import settings; print(settings.SECRET_KEY); print(settings.SIMPLE_JWT['SIGNING_KEY'])"


def start(tmp_path, code: str = PRINT_KEYS, **env: str) -> subprocess.CompletedProcess:
    """Load the app's own settings in a fresh process, with only ``env`` set (and servers that are never called)."""
    environment = {
        "PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "luna_site.settings", "LUNA_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing", "REDIS_URL": "redis://127.0.0.1:1/0", **env}
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=REPO,
                          env=environment, capture_output=True, text=True, timeout=120)


def test_without_debug_and_without_a_key_the_app_refuses_to_start(tmp_path):
    result = start(tmp_path, DEBUG="0")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "keys").exists()


def test_without_debug_the_jwt_key_is_required_too(tmp_path):
    result = start(tmp_path, DEBUG="0", SECRET_KEY="s" * 40)
    assert result.returncode != 0
    assert "ImproperlyConfigured: JWT_SIGNING_KEY is not set" in result.stderr


def test_keys_from_the_environment_are_used(tmp_path):
    result = start(tmp_path, DEBUG="0", SECRET_KEY="s" * 40, JWT_SIGNING_KEY="j" * 40)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["s" * 40, "j" * 40]


def test_with_debug_keys_are_generated_once_per_checkout_private_and_distinct(tmp_path):
    first = start(tmp_path, DEBUG="1")
    assert first.returncode == 0, first.stderr
    secret_key, jwt_key = first.stdout.split()
    assert len(secret_key) >= 60 and len(jwt_key) >= 60 and secret_key != jwt_key
    for name, value in (("SECRET_KEY", secret_key), ("JWT_SIGNING_KEY", jwt_key)):
        path = tmp_path / "keys" / name
        assert path.read_text().strip() == value
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert start(tmp_path, DEBUG="1").stdout.split() == [secret_key, jwt_key]
    assert start(tmp_path / "another-checkout", DEBUG="1").stdout.split() != [secret_key, jwt_key]


@pytest.mark.parametrize(("environment", "message"), [
    ({"SECRET_KEY": OLD_DEVELOPMENT_KEY, "JWT_SIGNING_KEY": "j" * 40}, "SECRET_KEY is a key that was published"),
    ({"SECRET_KEY": "s" * 40, "JWT_SIGNING_KEY": OLD_DEVELOPMENT_KEY}, "JWT_SIGNING_KEY is a key that was published"),
    ({"SECRET_KEY": "too-short", "JWT_SIGNING_KEY": "j" * 40}, "SECRET_KEY is 9 characters long"),
    ({"SECRET_KEY": "s" * 40, "JWT_SIGNING_KEY": "s" * 40}, "JWT_SIGNING_KEY is the same as SECRET_KEY"),
])
def test_published_short_or_shared_keys_are_refused_even_with_debug(monkeypatch, tmp_path, environment, message):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        keys.signing_keys(debug=True, data_dir=tmp_path)


def test_a_key_already_generated_wins_over_a_later_writer(tmp_path):
    first = keys.local_key("SECRET_KEY", data_dir=tmp_path)
    keys._write_once(tmp_path / "keys" / "SECRET_KEY", "a-later-writer")
    assert keys.local_key("SECRET_KEY", data_dir=tmp_path) == first
    assert [path.name for path in (tmp_path / "keys").iterdir()] == ["SECRET_KEY"]


def test_the_running_app_signs_tokens_with_a_key_of_their_own():
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.JWT_SIGNING_KEY != settings.SECRET_KEY
    assert OLD_DEVELOPMENT_KEY not in (settings.SECRET_KEY, settings.JWT_SIGNING_KEY)
    assert OLD_DEVELOPMENT_KEY not in (REPO / "luna_site" / "settings.py").read_text()
