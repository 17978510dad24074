"""Fixtures of the fault tests: a broker that is down, without stopping the shared Redis."""

import pytest

from luna_site.celery import app as celery_app

from ..accounts.conftest import raw_cursor  # noqa: F401 (the attacks' cursor)


def _broker_at(url: str) -> None:
    celery_app.conf.broker_url = url
    # The app caches its broker connections and producers: drop them so the next send dials ``url``.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(tmp_path):
    """Sends go to a Redis socket nothing listens on (a stopped Redis), not run inline; ``back()`` restores."""
    working = celery_app.conf.broker_url

    class Broker:
        @staticmethod
        def back() -> None:
            _broker_at(working)
            celery_app.conf.task_always_eager = True

    celery_app.conf.task_always_eager = False
    _broker_at(f"redis+socket://{tmp_path / 'stopped-redis.sock'}")
    yield Broker
    Broker.back()
