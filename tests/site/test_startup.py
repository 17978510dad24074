"""The first turn after start is as fast as the others: web and worker processes load the embedding
model as they start; other commands (migrate, tests) do not pay for it."""

import os
import subprocess
import sys

from core import embeddings
from luna_site.celery import embeddings_preload

LOADED = "from core import embeddings; print(embeddings._model is not None)"


def _python(code: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_a_web_process_has_the_model_loaded_once_its_application_is_imported():
    assert _python(f"import luna_site.wsgi; {LOADED}") == "True"
    assert _python(f"import luna_site.asgi; {LOADED}") == "True"


def test_a_command_process_does_not_load_the_model():
    assert _python(f"import django; django.setup(); {LOADED}") == "False"


def test_a_worker_child_loads_the_model_as_it_starts(monkeypatch):
    monkeypatch.setattr(embeddings, "_model", None)  # as in a fresh process; the session's model comes back after
    embeddings_preload()
    assert embeddings._model is not None
    assert len(embeddings.embed_one("a lamp in the window")) == 384


def test_a_worker_process_knows_every_task_the_apps_queue():
    """What a worker loads at start (autodiscovered tasks.py, CELERY_IMPORTS) includes the sync's own task."""
    tasks = _python("import django; django.setup(); from luna_site.celery import app; "
                    "app.loader.import_default_modules(); print(sorted(t for t in app.tasks if not t.startswith('celery.')))")
    assert tasks == str(sorted(["accounts.tasks.email_send", "accounts.tasks.outbox_drain", "marketplace.sync.sync_fork",
                                "narrative_pipeline.tasks.dream_turn", "narrative_pipeline.tasks.heal_chapter",
                                "narrative_pipeline.tasks.turns_stuck_sweep", "marketplace.sync.syncs_lost_sweep"]))


def test_every_periodic_task_is_one_a_worker_knows():
    """Beat sends tasks by name: a misspelt one would be refused by every worker, silently for the operator."""
    import ast

    from django.conf import settings

    known = _python("import django; django.setup(); from luna_site.celery import app; "
                    "app.loader.import_default_modules(); print(sorted(app.tasks))")
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(ast.literal_eval(known))
