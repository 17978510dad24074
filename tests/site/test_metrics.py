"""/metrics: request, turn, agent and Celery task metrics and the queues' depth, added up over processes,
never public, and never labelled with a user's content or ids."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import redis
from django.conf import settings as django_settings

from luna_site.celery import app as celery_app
from narrative_pipeline.tasks import dream_turn

from ..factories import StoryFactory, UserFactory

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
ACTION = "I whisper the word plover-seventeen to the lighthouse keeper."


@celery_app.task(name="tests.metrics_fails")
def metrics_fails():
    raise ValueError("counted, not shown")


@celery_app.task(name="tests.metrics_succeeds")
def metrics_succeeds():
    return "ok"


def sample(body: str, name: str, **labels) -> float:
    """The value of one sample in an exposition body (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))  # as exposed: sorted
    match = re.search(rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$", body, re.MULTILINE) if labels else \
        re.search(rf"^{re.escape(name)} (\S+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_metrics_answer_loopback_with_django_prometheus_and_the_apps_own(client):
    body = scrape(client)
    assert "django_http_requests_total_by_method_total" in body
    assert "# TYPE luna_turns_total counter" in body
    assert "# TYPE luna_agent_call_seconds histogram" in body
    assert f'luna_celery_queue_depth{{queue="{celery_app.conf.task_default_queue}"}}' in body
    assert "no-cache" in client.get("/metrics")["Cache-Control"]


@pytest.mark.parametrize("extra", [
    {"REMOTE_ADDR": "203.0.113.9"},
    # Through a proxy on this machine every request comes from loopback: the forwarded header gives it away.
    {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
    {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer not-the-token"},
    {"REMOTE_ADDR": "not an address"},
])
def test_metrics_refuse_everyone_else(client, settings, extra):
    settings.METRICS_BEARER_TOKEN = "the-scrape-token-0123456789"
    response = client.get("/metrics", **extra)
    assert response.status_code == 403
    assert b"luna_" not in response.content


def test_metrics_answer_the_bearer_token_from_anywhere_and_the_allowed_addresses(client, settings):
    settings.METRICS_BEARER_TOKEN = "the-scrape-token-0123456789"
    scrape(client, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer the-scrape-token-0123456789",
           HTTP_X_FORWARDED_FOR="198.51.100.1")
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    scrape(client, REMOTE_ADDR="10.1.2.3")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    settings.METRICS_BEARER_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_a_turn_counts_its_outcome_and_its_agents_calls_without_content_or_ids(client, api_as):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Plover Lighthouse", characters=[{"name": "Wren", "is_player": True}])
    before = scrape(client)
    response = api_as(user).post(f"/api/stories/{story.pk}/turns/", {"action": ACTION,
                                 "idempotency_key": uuid.uuid4().hex}, content_type="application/json")
    assert response.status_code == 201, response.content
    after = scrape(client)
    assert sample(after, "luna_turns_total", outcome="completed") == sample(before, "luna_turns_total",
                                                                            outcome="completed") + 1
    for agent in ("strategist", "writer"):
        labels = {"agent": agent, "provider": "offline"}
        calls = [sample(body, "luna_agent_calls_total", **labels, status="ok") for body in (before, after)]
        assert calls[1] == calls[0] + 1, agent
        assert sample(after, "luna_agent_call_seconds_count", **labels) >= 1
    assert 'luna_agent_cost_usd_total{agent="writer",provider="offline"}' in after
    for private in ("plover", "Plover", str(user.pk), str(story.pk), user.username, response.json()["id"]):
        assert private not in after


def test_a_failed_turn_is_counted(client, api_as, settings):
    settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = 0, 0
    settings.LLM_AGENTS = {**settings.LLM_AGENTS, "writer": {"provider": "openai", "model": "nothing-here",
                                                             "connection": ""}}
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing answers
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    before = sample(scrape(client), "luna_turns_total", outcome="failed")
    response = api_as(user).post(f"/api/stories/{story.pk}/turns/", {"action": ACTION,
                                 "idempotency_key": uuid.uuid4().hex}, content_type="application/json")
    assert response.json()["status"] == "failed", response.content
    after = scrape(client)
    assert sample(after, "luna_turns_total", outcome="failed") == before + 1
    assert sample(after, "luna_agent_calls_total", agent="writer", provider="default", status="error") >= 1


def test_celery_task_runs_failures_and_durations_are_counted(client):
    before = scrape(client)
    metrics_succeeds.delay()
    with pytest.raises(ValueError):
        metrics_fails.delay()
    after = scrape(client)
    for task, outcome in (("tests.metrics_succeeds", "success"), ("tests.metrics_fails", "failure")):
        assert sample(after, "luna_celery_task_runs_total", task=task, outcome=outcome) == \
            sample(before, "luna_celery_task_runs_total", task=task, outcome=outcome) + 1
        assert sample(after, "luna_celery_task_seconds_count", task=task) >= 1


def test_queue_depth_is_read_from_redis_at_scrape_time(client, monkeypatch):
    queue = f"metrics-test-{uuid.uuid4().hex}"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    broker = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        broker.rpush(queue, "a", "b", "c")
        assert sample(scrape(client), "luna_celery_queue_depth", queue=queue) == 3
        broker.lpop(queue)
        assert sample(scrape(client), "luna_celery_queue_depth", queue=queue) == 2
    finally:
        broker.delete(queue)
    assert sample(scrape(client), "luna_redis_up") == 1


def test_redis_down_is_a_metric_not_an_error(client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path / 'no-redis.sock'}"
    body = scrape(client)
    assert sample(body, "luna_redis_up") == 0


COUNT_IN_A_PROCESS = """
import sys
from core.metrics import TURNS
TURNS.labels(outcome="completed").inc(int(sys.argv[1]))
"""

SCRAPE_IN_A_PROCESS = """
import django
django.setup()
from prometheus_client import generate_latest
from luna_site.metrics import registry
print(generate_latest(registry()).decode())
"""


def test_samples_of_several_processes_add_up_in_multiprocess_mode(tmp_path):
    """As under bin/serve: gunicorn's workers and Celery's write to one folder, and any web process's
    /metrics adds them up."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings"}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, count], env=env, cwd=REPO, check=True)
    assert len(list(tmp_path.glob("*.db"))) == 2  # one file per process
    body = subprocess.run([sys.executable, "-c", SCRAPE_IN_A_PROCESS], env=env, cwd=REPO, check=True,
                          capture_output=True, text=True).stdout
    assert sample(body, "luna_turns_total", outcome="completed") == 5
    assert "luna_celery_queue_depth" in body


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_a_machine_of_its_own_exports_its_processes_samples(tmp_path, monkeypatch):
    """WORKER_METRICS_PORT: a prefork worker's main process serves what its children counted."""
    from .test_production_server import free_loopback_port

    database = django_settings.DATABASES["default"]
    port, queue = free_loopback_port(), f"metrics-worker-{uuid.uuid4().hex}"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "WORKER_METRICS_PORT": str(port),
           "CELERY_QUEUE": queue, "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings",
           "DATABASE_URL": f"postgresql://{database['USER']}@{quote(database['HOST'], safe='')}/{database['NAME']}"}
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen([str(REPO / ".venv/bin/celery"), "-A", "luna_site", "worker", "--pool=prefork",
                                   "--concurrency=1", "--loglevel=INFO"], cwd=REPO, env=env, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # A turn nobody has: the Dreamer finds nothing to do, and the run counts as a success.
        monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
        dream_turn.apply_async(args=[str(uuid.uuid4()), str(uuid.uuid4())], queue=queue)
        wanted = 'luna_celery_task_runs_total{outcome="success",task="narrative_pipeline.tasks.dream_turn"} 1.0'
        deadline, body = time.monotonic() + 120, ""
        while wanted not in body and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            time.sleep(0.2)  # the worker loads the embedding model before it takes the task
        assert wanted in body, log.read_text()[-3000:]
        assert f'luna_celery_queue_depth{{queue="{queue}"}} 0.0' in body
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        redis.Redis.from_url(django_settings.REDIS_URL).delete(queue)
