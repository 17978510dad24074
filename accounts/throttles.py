"""Rate limits on what costs money or lets one client flood the site: turns, rerolls, imports,
publishing, sign-ups and model tests.

Per user once signed in, per client address before (``client_address``). Counted in the shared
Redis cache with an atomic increment, so several web processes and concurrent requests share
one count and none slips through between a read and a write. The window opens with a scope's
first request and lasts the rate's period; ``Retry-After`` says when it closes. Rates are
``settings.THROTTLE_RATES`` (``THROTTLE_<SCOPE>`` in the environment), e.g. ``"120/hour"``.

The same check serves the API (a DRF throttle: 429 with ``Retry-After``) and the pages
(``@rate_limited``: a 429 page saying when to try again).
"""

from __future__ import annotations

import functools
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render
from rest_framework.exceptions import APIException, Throttled
from rest_framework.throttling import BaseThrottle

from .client_address import client_address

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
PERIOD_NAMES = {seconds: name for name, seconds in PERIODS.items()}
# What the player is told was limited, per scope.
DOING = {
    "turns": "played that many turns",
    "rerolls": "asked for that many new passages",
    "imports": "imported that many files",
    "publishing": "published that often",
    "registration": "signed up that often from your address",
    "model_tests": "tested models that often",
}


class RateLimited(Throttled):
    """429 with a message in words; ``wait`` (seconds) becomes the ``Retry-After`` header."""

    def __init__(self, *, wait: int, detail: str):
        APIException.__init__(self, detail, "throttled")
        self.wait = wait


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/hour"`` -> (30, 3600). Periods: second, minute, hour, day (or s, m, h, d)."""
    count, _, period = rate.partition("/")
    seconds = next((length for name, length in PERIODS.items() if name.startswith(period.strip().lower())), None)
    if not count.strip().isdigit() or not period.strip() or seconds is None:
        raise ValueError(f"A rate is a number per second, minute, hour or day, e.g. 30/hour (got {rate!r}).")
    return int(count), seconds


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


def rate_check(request, scope: str) -> None:
    """Count one request of ``scope`` for its user (or address); raise ``RateLimited`` past the rate."""
    limit, period = parse_rate(settings.THROTTLE_RATES[scope])
    user = getattr(request, "user", None)
    who = f"user:{user.pk}" if user is not None and user.is_authenticated else f"address:{client_address(request)}"
    key = f"rate:{scope}:{who}"
    now = time.time()
    # Both keys are written only if absent (SET NX) and expire with the window.
    opened = cache.get_or_set(f"{key}:opened", now, period)
    cache.add(key, 0, period)
    try:
        count = cache.incr(key)
    except ValueError:  # the window closed between the two calls: this request opens the next one
        count = 1
        cache.set(f"{key}:opened", now, period)
        cache.set(key, count, period)
    if count > limit:
        wait = max(1, math.ceil(opened + period - now))
        raise RateLimited(wait=wait, detail=(
            f"You have {DOING[scope]} in a short time ({limit} per {PERIOD_NAMES[period]}). "
            f"Try again in {_in_words(wait)}."))


class ScopedRateThrottle(BaseThrottle):
    """A DRF throttle for one scope; subclasses set ``scope``."""

    scope = ""

    def allow_request(self, request, view) -> bool:
        rate_check(request, self.scope)  # raises RateLimited, which DRF answers with 429 and Retry-After
        return True

    def get_ident(self, request) -> str:
        return client_address(request)


class TurnThrottle(ScopedRateThrottle):
    scope = "turns"


class RerollThrottle(ScopedRateThrottle):
    scope = "rerolls"


class ImportThrottle(ScopedRateThrottle):
    scope = "imports"


class PublishThrottle(ScopedRateThrottle):
    scope = "publishing"


class RegistrationThrottle(ScopedRateThrottle):
    scope = "registration"


class ModelTestThrottle(ScopedRateThrottle):
    scope = "model_tests"  # each test sends the operator's servers a few prompts per agent


def rate_limited(scope: str):
    """For a page's POST: past the rate, a 429 page that says when to try again (GETs are not counted)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                try:
                    rate_check(request, scope)
                except RateLimited as limited:
                    response = render(request, "429.html", {"message": limited.detail}, status=429)
                    response["Retry-After"] = str(limited.wait)
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
