"""`manage.py check --deploy` finds nothing to warn about in the production settings served over HTTPS."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# What this process's environment has that production would not: the checkout's settings, DEBUG, the
# checkout's plain static names (checkout_settings), and the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE.
NOT_IN_PRODUCTION = ("DJANGO_SETTINGS_MODULE", "DEBUG", "HTTPS", "STATIC_MANIFEST", "DJANGO_ALLOW_ASYNC_UNSAFE")


def production_environment(**extra: str) -> dict[str, str]:
    """This process's environment as production would set it, with the app's own settings (not the checkout's)."""
    environment = {name: value for name, value in os.environ.items() if name not in NOT_IN_PRODUCTION}
    return environment | {"DJANGO_SETTINGS_MODULE": "luna_site.settings", **extra}


def check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess:
    keys = {"SECRET_KEY": secrets.token_urlsafe(50), "JWT_SIGNING_KEY": secrets.token_urlsafe(50)}
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO,
                          env=environment | keys, capture_output=True, text=True, timeout=300)


def test_check_deploy_has_no_warnings_over_https():
    result = check_deploy(production_environment(HTTPS="1"))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_without_https_check_deploy_names_what_https_turns_on():
    """A plain-HTTP loopback run is allowed, and the check says what it lacks (nothing else)."""
    result = check_deploy(production_environment(HTTPS="0"))
    assert result.returncode == 1
    warned = {line.split()[1] for line in result.stderr.splitlines() if line.startswith("?: (")}
    assert warned == {"(security.W004)", "(security.W008)", "(security.W012)", "(security.W016)"}
