"""``/metrics`` for Prometheus: django-prometheus's request metrics, the app's own (core/metrics.py), the Celery
tasks' (luna_site/task_metrics.py) and the depth of the task queues, read from Redis as it is scraped.

Not public: the counters tell how busy the service is and which models it pays for. A scrape is let in from
``METRICS_ALLOWED_IPS`` (loopback by default) when it did not come through a proxy, or from anywhere with
``Authorization: Bearer <METRICS_BEARER_TOKEN>``. docs/operations.md, "Metrics".
"""

from __future__ import annotations

import hmac
import ipaddress
import os

import redis
from celery import current_app
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

REDIS_TIMEOUT_SECONDS = 1.0


def queue_names() -> list[str]:
    """The queues this deployment's workers take: the default one and any the settings declare or route to."""
    conf = current_app.conf  # luna_site's app (imported by luna_site/__init__); importing it here would be a cycle
    names = {conf.task_default_queue, *(queue.name for queue in conf.task_queues or ())}
    routes = conf.task_routes if isinstance(conf.task_routes, dict) else {}
    names.update(route["queue"] for route in routes.values() if isinstance(route, dict) and "queue" in route)
    return sorted(names)


class QueueDepthCollector:
    """Tasks waiting in each queue (Redis ``LLEN`` of the queue's list), read at scrape time: a gauge no
    process owns, so it is not a multiprocess sample. Redis not answering is a metric, not an error."""

    def collect(self):
        depth = GaugeMetricFamily("luna_celery_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"])
        up = GaugeMetricFamily("luna_redis_up", "Whether Redis answered the scrape's queue-depth read.")
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                      socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        try:
            for name in queue_names():
                depth.add_metric([name], client.llen(name))
            up.add_metric([], 1)
        except redis.RedisError:
            up.add_metric([], 0)
        finally:
            client.close()
        yield depth
        yield up


def scrape_allowed(request) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    # A proxy on this machine makes every public request come from loopback: one that names a client
    # (X-Forwarded-For) came through it, and only the token lets it in.
    if "x-forwarded-for" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS)


def registry() -> CollectorRegistry:
    """Every process's samples added up under gunicorn and Celery (PROMETHEUS_MULTIPROC_DIR), else this
    process's own (`make run`, the tests); the queue depths in both."""
    collected = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(collected)
    else:
        collected.register(_ProcessRegistry())
    collected.register(QueueDepthCollector())
    return collected


class _ProcessRegistry:
    """The default registry, passed through (it cannot be registered into another one directly)."""

    def collect(self):
        return REGISTRY.collect()


@require_safe
@never_cache
@transaction.non_atomic_requests
def metrics_view(request):
    if not scrape_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def worker_exporter_start() -> None:
    """On a machine with workers and no web process to add their samples up: every worker process's samples
    (and the queues' depth) on ``WORKER_METRICS_PORT``, bound to ``WORKER_METRICS_ADDR`` (loopback unless
    set: this port has no token, so only the network decides who reads it). Called in the worker's main
    process; its prefork children write to PROMETHEUS_MULTIPROC_DIR, which it therefore needs."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if not port:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise ImproperlyConfigured("WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR: the worker's processes "
                                   "write their samples there for the exporter to add up.")
    start_http_server(int(port), addr=os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1"), registry=registry())
