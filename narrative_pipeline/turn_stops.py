"""The player's Stop for a turn being written: a flag in the shared cache (Redis) that the Writer's loop reads
between pieces.

A flag and not the closed connection: under gunicorn (gthread) a client that goes away is noticed only when a
write to its socket fails, one piece later at best and never while the Strategist plans, and behind a proxy the
proxy may keep the upstream connection open; and the turn is written on a thread of its own precisely so that a
phone that loses its connection loses nothing. The Stop request may reach another worker process than the
stream: the cache is what they share.
"""

from __future__ import annotations

from django.core.cache import cache

# A stream lasts minutes at most; the flag outlives it, then goes.
STOP_FLAG_SECONDS = 15 * 60


def _key(turn_id) -> str:
    return f"turn-stop:{turn_id}"


def turn_stop_request(*, turn_id) -> None:
    cache.set(_key(turn_id), True, STOP_FLAG_SECONDS)


def turn_stop_requested(*, turn_id) -> bool:
    return bool(cache.get(_key(turn_id)))


def turn_stop_clear(*, turn_id) -> None:
    cache.delete(_key(turn_id))
