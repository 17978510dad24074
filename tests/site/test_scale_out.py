"""Scale-out: each kind of Celery work on its own queue (named from CELERY_QUEUE), and the embedding model
held by one embedding service that web and worker processes ask, so they never load torch."""

import os
import subprocess
import sys
import threading
import uuid

import pytest

from accounts.rls import acting_as
from core import embeddings
from luna_site.celery import QUEUE_SUFFIXES, deployment_queues
from luna_site.celery import app as celery_app
from luna_site.embedding_server import embedding_server
from narrative_pipeline.models import Turn

from ..conftest import TEST_QUEUE
from ..factories import StoryFactory

ROUTES = {
    "narrative_pipeline.tasks.dream_turn": "",
    "narrative_pipeline.tasks.heal_chapter": ".heal",
    "marketplace.sync.sync_fork": ".sync",
    "accounts.tasks.email_send": ".email",
    "accounts.tasks.outbox_drain": "",
    "narrative_pipeline.tasks.turns_stuck_sweep": "",
    "marketplace.sync.syncs_lost_sweep": "",
}
ARGUMENTS = {  # what each task is sent with (nobody runs them here)
    "narrative_pipeline.tasks.dream_turn": (["user", "turn"], {}),
    "narrative_pipeline.tasks.heal_chapter": (["user", "chapter", 3, "relax"], {}),
    "marketplace.sync.sync_fork": (["user", 7], {}),
    "accounts.tasks.email_send": (["user", "s", "m", "a@example.org"], {}),
    "accounts.tasks.outbox_drain": ([], {}),
    "narrative_pipeline.tasks.turns_stuck_sweep": ([], {}),
    "marketplace.sync.syncs_lost_sweep": ([], {}),
}


def test_every_task_the_workers_know_has_its_queue():
    celery_app.loader.import_default_modules()
    # Celery's own, and the probes some test modules register (tests.*), are not the app's work.
    known = {name for name in celery_app.tasks if not name.startswith(("celery.", "tests."))}
    assert known == set(QUEUE_SUFFIXES) == set(ROUTES)
    assert deployment_queues() == [TEST_QUEUE + suffix for suffix in ("", ".heal", ".sync", ".email")]


@pytest.mark.parametrize(("task_name", "suffix"), ROUTES.items())
def test_a_task_sent_to_the_broker_lands_on_its_own_queue(task_name, suffix, monkeypatch):
    """Sent for real (not eagerly) under a prefix no worker takes, then read back from Redis."""
    prefix = f"{TEST_QUEUE}-routing-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", prefix)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    celery_app.loader.import_default_modules()
    args, kwargs = ARGUMENTS[task_name]
    celery_app.tasks[task_name].apply_async(args=args, kwargs=kwargs)
    with celery_app.connection_for_write() as conn:
        redis = conn.default_channel.client
        lengths = {queue: redis.llen(queue) for queue in deployment_queues()}
        for queue in lengths:
            redis.delete(queue)
    assert lengths == {queue: int(queue == prefix + suffix) for queue in lengths}


@pytest.fixture
def embedding_service(embedding_model, settings):
    """The embedding service on a free loopback port, in this process; EMBEDDING_URL points at it."""
    server = embedding_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMBEDDING_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def test_the_service_gives_the_vectors_the_model_gives_here(embedding_service):
    texts = ["a lamp in the window", "the harbour at dusk", "Wren and Captain Hale on the pier"]
    assert embeddings.embed(texts) == embeddings.embed_here(texts)
    assert len(embeddings.embed_one("the bell")) == 384
    assert embeddings.embed([]) == []


def test_an_unreachable_service_is_an_embedding_error(settings, unused_tcp_port):
    settings.EMBEDDING_URL = f"http://127.0.0.1:{unused_tcp_port}"
    with pytest.raises(embeddings.EmbeddingError, match="did not answer"):
        embeddings.embed_one("the bell")


@pytest.mark.django_db
def test_a_chapter_added_while_the_service_is_down_is_a_503_and_nothing_is_saved(
        api_as, alice, settings, unused_tcp_port):
    story = StoryFactory(user=alice)
    settings.EMBEDDING_URL = f"http://127.0.0.1:{unused_tcp_port}"
    api = api_as(alice)
    api.raise_request_exception = False  # the site's own 500 handler answers, as in production
    response = api.post(f"/api/stories/{story.pk}/chapters/", {"number": 1, "title": "The Lamp"},
                        content_type="application/json")
    assert response.status_code == 503 and response.json()["code"] == "unavailable", response.content
    settings.EMBEDDING_URL = ""
    assert api.get(f"/api/stories/{story.pk}/chapters/").json()["results"] == []


@pytest.fixture
def unused_tcp_port():
    from .test_production_server import free_loopback_port

    return free_loopback_port()


@pytest.mark.django_db
def test_a_turn_while_the_service_is_down_fails_with_its_action_kept_and_is_retried(
        api_as, alice, embedding_service, settings, unused_tcp_port):
    story = StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])
    api = api_as(alice)
    working_url, settings.EMBEDDING_URL = settings.EMBEDDING_URL, f"http://127.0.0.1:{unused_tcp_port}"
    failed = api.post(f"/api/stories/{story.pk}/turns/", {"action": "I light the lamp.", "idempotency_key": "k1"},
                      content_type="application/json")
    assert failed.status_code == 201, failed.content
    body = failed.json()
    assert body["status"] == "failed" and body["action"] == "I light the lamp."
    assert "embedding service did not answer" in body["error"]
    settings.EMBEDDING_URL = working_url
    retried = api.post(f"/api/stories/{story.pk}/turns/1/retry/").json()
    assert retried["status"] == "completed" and retried["prose"] and retried["error"] == ""
    with acting_as(alice):
        assert Turn.objects.filter(story=story).count() == 1


def test_a_web_process_with_the_service_never_imports_torch(unused_tcp_port):
    """The service need not even be up: a web process loads nothing at start, and asks only when it embeds."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings",
           "EMBEDDING_URL": f"http://127.0.0.1:{unused_tcp_port}"}
    code = ("import sys, luna_site.wsgi; from core import embeddings; "
            "print(embeddings._model is None, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip().splitlines()[-1] == "True False False"
