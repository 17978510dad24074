"""Fixtures of the fault tests: a broker that is down, without stopping the shared Redis, and a Redis of the
test's own to stop and start again."""

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from luna_site.celery import app as celery_app

from ..accounts.conftest import raw_cursor  # noqa: F401 (the attacks' cursor)


def _broker_at(url: str) -> None:
    """Broker and result backend at ``url``, as when both are one Redis (settings)."""
    celery_app.conf.broker_url = celery_app.conf.result_backend = url
    # The app caches its broker connections, producers and backend: drop them so the next send dials ``url``.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


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


class PrivateRedis:
    """A redis-server started as the embedded one is (``redis_server_command``), in a folder of its own."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="luna-redis-", dir="/tmp"))  # a Unix socket's path is short
        self.socket = self.folder / "redis.sock"
        self.client = redis.Redis(unix_socket_path=str(self.socket))

    def start(self) -> None:
        from luna_site.embedded import redis_server_command

        subprocess.run(redis_server_command(self.socket, self.folder), check=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except (redis.ConnectionError, FileNotFoundError):
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)

    def stop(self) -> None:
        """As a restart would: no snapshot, only what the append-only file keeps."""
        self.client.shutdown(nosave=True)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.client.connection_pool.disconnect()
        with contextlib.suppress(redis.ConnectionError):  # stopped by the test
            server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def broker_on(private_redis):
    """Tasks are sent (not run inline) to ``private_redis``; the session's broker comes back after."""
    working = celery_app.conf.broker_url
    celery_app.conf.task_always_eager = False
    _broker_at(f"redis+socket://{private_redis.socket}")
    yield private_redis
    _broker_at(working)
    celery_app.conf.task_always_eager = True
