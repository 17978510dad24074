"""The app's signing keys (``SECRET_KEY``, ``JWT_SIGNING_KEY``): from the environment, or, on a
developer's machine, generated once per checkout into the git-ignored data folder.

No key is ever written in the source: a fallback key in ``settings.py`` signs sessions and tokens that
every deployment which forgot the setting would accept. So with DEBUG off a missing key stops the app.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Random bytes per generated key (token_urlsafe(50) is 67 characters, as long as Django's own).
KEY_BYTES = 50
# Shorter than this, an HMAC key (HS256 for the JWTs) can be guessed offline from one token.
MIN_KEY_LENGTH = 32
# Keys that were once published with the source: never accepted, from anywhere.
PUBLISHED_KEYS = frozenset({"luna-local-development-key-not-for-production-use-0123456789"})
KEY_FOLDER = "keys"


def signing_keys(*, debug: bool, data_dir: Path) -> tuple[str, str]:
    """``SECRET_KEY`` and ``JWT_SIGNING_KEY``, which must differ: a token is never signed with the key of
    sessions, password-reset links and e-mail confirmations, nor any of those with the tokens' key."""
    secret_key = key_setting("SECRET_KEY", debug=debug, data_dir=data_dir)
    jwt_signing_key = key_setting("JWT_SIGNING_KEY", debug=debug, data_dir=data_dir)
    if jwt_signing_key == secret_key:
        raise ImproperlyConfigured("JWT_SIGNING_KEY is the same as SECRET_KEY; give the tokens a key of their own.")
    return secret_key, jwt_signing_key


def key_setting(name: str, *, debug: bool, data_dir: Path) -> str:
    """The key ``name`` from the environment; with DEBUG on and none set, the checkout's own generated key.

    Raises ``ImproperlyConfigured`` with DEBUG off and no key, or for a key that is short or published.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        if not debug:
            raise ImproperlyConfigured(
                f"{name} is not set. With DEBUG off the app needs {name} from the environment: a random string "
                f"of at least {MIN_KEY_LENGTH} characters, kept secret, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`. On a development machine, "
                f"DEBUG=1 (which `make run` sets) generates one into {data_dir / KEY_FOLDER}.")
        return local_key(name, data_dir=data_dir)
    if value in PUBLISHED_KEYS:
        raise ImproperlyConfigured(f"{name} is a key that was published with the source code; set a new random one.")
    if len(value) < MIN_KEY_LENGTH:
        raise ImproperlyConfigured(f"{name} is {len(value)} characters long; use at least {MIN_KEY_LENGTH}.")
    return value


def local_key(name: str, *, data_dir: Path) -> str:
    """The checkout's own key ``name``: generated on first use into ``<data_dir>/keys/<name>`` (mode 0600)."""
    folder = data_dir / KEY_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        _write_once(path, secrets.token_urlsafe(KEY_BYTES))
    return path.read_text().strip()


def _write_once(path: Path, value: str) -> None:
    # Written whole into a private temporary file (mkstemp: mode 0600), then linked into place: the web
    # server and the worker starting together both end up with the first writer's key, never half of one.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{value}\n")
        with contextlib.suppress(FileExistsError):  # another process's key is in place: it is the key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
