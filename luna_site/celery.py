import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from luna_site import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")

# Celery's Django fixup closes each prefork child's inherited connection pool
# (worker_process_init), as DESIGN §6 requires; nothing to add here.
app = Celery("luna_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
