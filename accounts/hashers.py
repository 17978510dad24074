"""Argon2id with OWASP's parameters, and a bound on how many passwords one process hashes at once.

Django's Argon2 defaults (100 MiB, 8 lanes) make every log-in in flight hold 100 MiB: under `make load`, the
eight threads of one web process signing players in at once took it from ~140 MB to ~870 MB resident.
OWASP's Password Storage Cheat Sheet's first Argon2id configuration (19 MiB, 2 passes, 1 lane) needs a fifth
of that, and `PASSWORD_HASHES_AT_ONCE` caps the sum. Hashes made with the old parameters still verify and are
made again with these at the user's next log-in (Django's `must_update`).
"""

import threading
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


@cache
def _slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings.PASSWORD_HASHES_AT_ONCE)


class BoundedArgon2PasswordHasher(Argon2PasswordHasher):
    """Same algorithm name as Django's ("argon2"), so it reads and upgrades the hashes already stored."""

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

    def encode(self, password, salt):
        with _slots():
            return super().encode(password, salt)

    def verify(self, password, encoded):
        with _slots():
            return super().verify(password, encoded)
