"""/healthz answers while the process is up, touching no database; /readyz answers 200 only while the
database, Redis and a Celery worker on the task queue answer, else 503 naming what failed."""

import pytest

from luna_site.celery import app as celery_app

from ..conftest import TEST_QUEUE

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


def test_the_probes_ask_no_log_in_and_are_not_rate_limited(client):
    assert [client.get("/healthz").status_code for _ in range(50)] == [200] * 50


def test_healthz_with_a_signed_in_session_opens_no_transaction(as_alice, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert as_alice.get("/healthz").status_code == 200


def test_readyz_is_ready_when_database_redis_and_a_worker_answer(client, celery_worker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"ready": True, "failed": {}}


def test_readyz_is_503_when_no_worker_takes_the_task_queue(client, celery_worker, monkeypatch):
    # The session's worker answers, but it takes the test queue, not this one.
    monkeypatch.setitem(celery_app.conf, "task_default_queue", f"{TEST_QUEUE}-nobody")
    response = client.get("/readyz")
    assert response.status_code == 503
    nobody = f"{TEST_QUEUE}-nobody"
    assert response.json() == {"ready": False, "failed": {"workers": (
        f"no worker on queues '{nobody}', '{nobody}.heal', '{nobody}.sync', '{nobody}.email' answered within 1 s")}}


def test_readyz_is_503_when_redis_does_not_answer(client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path / 'no-redis.sock'}"
    response = client.get("/readyz")
    assert response.status_code == 503
    failed = response.json()["failed"]
    assert set(failed) == {"redis", "workers"} and failed["redis"].startswith("no answer from Redis")


def test_the_probes_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
