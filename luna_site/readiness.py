"""What /readyz asks before a load balancer sends a process traffic: the database answers, Redis answers,
and at least one Celery worker that takes this deployment's tasks answers. Each check returns None when it
passes, else why it failed (shown in the 503's body; never a password or a URL)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection

from luna_site.celery import app as celery_app
from luna_site.celery import deployment_queues

logger = logging.getLogger("luna.readiness")
REDIS_TIMEOUT_SECONDS = 1.0


def database_failure() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # whatever the driver or the pool raises, the answer is "not ready", not a 500
        logger.warning("readyz: database: %s", error)
        return f"no answer from the database ({type(error).__name__})"
    return None


def redis_failure() -> str | None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        client.ping()
    except redis.RedisError as error:
        logger.warning("readyz: redis: %s", error)
        return f"no answer from Redis ({type(error).__name__})"
    finally:
        client.close()
    return None


def worker_failure() -> str | None:
    """Every queue of the deployment needs a worker consuming it (CELERY_QUEUE and the queues named from it):
    a worker of another deployment on the same Redis answers pings too, and would not run our tasks."""
    timeout = settings.READYZ_WORKER_TIMEOUT_SECONDS
    replies = celery_app.control.inspect(timeout=timeout).active_queues() or {}
    consumed = {queue["name"] for queues in replies.values() for queue in queues}
    missing = [queue for queue in deployment_queues() if queue not in consumed]
    if not missing:
        return None
    return f"no worker on {'queue' if len(missing) == 1 else 'queues'} {', '.join(map(repr, missing))} answered within {timeout:g} s"


def readiness_failures() -> dict[str, str]:
    """The failed checks by name; empty when the process is ready."""
    failures = {"database": database_failure(), "redis": redis_failure()}
    # The worker check goes through Redis: with Redis down it would only wait on the broker's retries.
    failures["workers"] = worker_failure() if failures["redis"] is None else "not asked: Redis does not answer"
    return {name: reason for name, reason in failures.items() if reason is not None}
