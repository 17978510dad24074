import os

from celery import Celery
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
)

from luna_site import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")

# Celery's Django fixup closes each prefork child's inherited connection pool
# (worker_process_init), as DESIGN §6 requires; nothing to add here.
app = Celery("luna_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each kind of work has its own queue, named from the deployment's CELERY_QUEUE, so a slow kind (a long
# source sync, a stuck SMTP server, a burst of healing) never holds up another: bin/serve gives each queue
# its own worker. The Dreamer's work takes CELERY_QUEUE itself. docs/operations.md, "Scale-out".
QUEUE_SUFFIXES = {
    "narrative_pipeline.tasks.dream_turn": "",
    "narrative_pipeline.tasks.heal_chapter": ".heal",
    "marketplace.sync.sync_fork": ".sync",
    "accounts.tasks.email_send": ".email",
    # Beat's upkeep (docs/operations.md, "Faults"): quick, and the outbox feeds mostly the Dreamer anyway.
    "accounts.tasks.outbox_drain": "",
    "narrative_pipeline.tasks.turns_stuck_sweep": "",
    "marketplace.sync.syncs_lost_sweep": "",
}


def deployment_queues() -> list[str]:
    """Every queue of this deployment (CELERY_QUEUE, read when asked: the tests change it after start)."""
    prefix = app.conf.task_default_queue
    return [prefix + suffix for suffix in dict.fromkeys(QUEUE_SUFFIXES.values())]


def task_queue(name: str, args, kwargs, options, task=None, **_) -> dict | None:
    """Celery's router: the queue a task is sent to."""
    suffix = QUEUE_SUFFIXES.get(name)
    return None if suffix is None else {"queue": app.conf.task_default_queue + suffix}


app.conf.task_routes = (task_queue,)


@worker_init.connect
def services_start(**_) -> None:
    """A worker started on its own (`celery -A luna_site worker`) starts the embedded servers it uses,
    before it connects to the broker (settings never start them)."""
    embedded.start_services()


@worker_process_init.connect
def embeddings_preload(**_) -> None:
    """Each prefork child loads the embedding model as it starts, not on its first task (DESIGN §6:
    one model per process, never loaded before the fork)."""
    from core import embeddings

    embeddings.preload()


# -- Logs and metrics (docs/operations.md, "Logs", "Metrics") ----------------------------------------


@worker_init.connect
def metrics_exporter_start(**_) -> None:
    from luna_site import metrics

    metrics.worker_exporter_start()


@setup_logging.connect
def logging_from_settings(**_) -> None:
    """Connected, so Celery leaves logging as settings.LOGGING made it (the same JSON or text lines as the web)."""


@before_task_publish.connect
def task_context_pass(**kwargs) -> None:
    from luna_site import request_log

    request_log.task_headers_add(**kwargs)


@task_prerun.connect
def task_context_and_timer(**kwargs) -> None:
    from luna_site import request_log, task_metrics

    request_log.task_context_set(**kwargs)
    task_metrics.task_started(**kwargs)


@task_postrun.connect
def task_counted(**kwargs) -> None:
    from luna_site import task_metrics

    task_metrics.task_finished(**kwargs)
