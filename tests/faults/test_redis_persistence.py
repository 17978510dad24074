"""The embedded Redis keeps the broker's queue across a restart (append-only file on)."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from luna_site.embedded import redis_server_command


def started(socket_path: Path, workdir: Path) -> redis.Redis:
    subprocess.run(redis_server_command(socket_path, workdir), check=True)
    client = redis.Redis(unix_socket_path=str(socket_path))
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return client
        except (redis.ConnectionError, FileNotFoundError):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)


def test_queued_tasks_survive_a_restart_of_redis():
    workdir = Path(tempfile.mkdtemp(prefix="luna-redis-", dir="/tmp"))  # a Unix socket's path is short
    socket_path = workdir / "redis.sock"
    try:
        client = started(socket_path, workdir)
        client.lpush("celery", "a queued dream_turn")
        client.shutdown(nosave=True)  # no snapshot: only the append-only file can bring it back
        client = started(socket_path, workdir)
        assert client.lrange("celery", 0, -1) == [b"a queued dream_turn"]
        client.shutdown(nosave=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
