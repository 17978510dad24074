"""API keys at rest: a key the operator pastes into the admin is stored sealed (Fernet: AES with an HMAC),
under a key derived from ``SECRET_KEY``. A copy of the database, or SQL run as a request role, gives
only the sealed text; opening it needs the app's ``SECRET_KEY`` (or one of ``SECRET_KEY_FALLBACKS``, so
rotating the secret key as Django documents it keeps the stored keys readable).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Keeps this derived key apart from every other use of SECRET_KEY.
PURPOSE = b"luna-narrates model connection keys"


class UnreadableKey(Exception):
    """A sealed key that the current secret keys cannot open (SECRET_KEY changed with no fallback)."""


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _box() -> MultiFernet:
    return MultiFernet([_fernet(secret) for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])


def seal(api_key: str) -> str:
    return _box().encrypt(api_key.encode()).decode() if api_key else ""


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _box().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise UnreadableKey("the stored key cannot be read with this SECRET_KEY; enter it again") from None
