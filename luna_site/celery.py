import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")

# Celery's Django fixup closes each prefork child's inherited connection pool
# (worker_process_init), as DESIGN §6 requires; nothing to add here.
app = Celery("luna_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
