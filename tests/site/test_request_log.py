"""Structured logs: a request's lines carry its request id (echoed in X-Request-ID) and its user's id, a task
it queues carries the same request id, and no line holds a player's content or a secret."""

import io
import json
import logging
import uuid

import pytest

from luna_site import request_log
from luna_site.celery import app as celery_app

from ..factories import StoryFactory, UserFactory

ACTION = "I hide the brass astrolabe under the loose floorboard."


@celery_app.task(name="tests.request_log_context")
def context_seen() -> list[str]:
    return [request_log.request_id_var.get(), request_log.user_id_var.get()]


@pytest.fixture
def json_lines():
    """The app's log lines as bin/serve writes them (LOG_FORMAT=json), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(request_log.JsonFormatter())
    handler.addFilter(request_log.ContextFilter())
    loggers = [logging.getLogger(name) for name in ("luna", "django", "celery")]
    for each in loggers:
        each.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for each in loggers:
        each.removeHandler(handler)
    assert all(line.startswith("{") for line in stream.getvalue().splitlines())  # one object a line


@pytest.mark.django_db
def test_a_request_line_is_json_with_request_id_and_user_id_and_no_action(api_as, json_lines):
    user = UserFactory()
    story = StoryFactory(user=user, title="The Astrolabe", characters=[{"name": "Wren", "is_player": True}])
    response = api_as(user).post(f"/api/stories/{story.pk}/turns/", {"action": ACTION,
                                 "idempotency_key": uuid.uuid4().hex}, content_type="application/json")
    assert response.status_code == 201
    request_id = response["X-Request-ID"]
    lines = [line for line in json_lines() if line["request_id"] == request_id]
    done = next(line for line in lines if line["logger"] == "luna.requests")
    assert done | {"time": None, "duration_ms": None} == {
        "time": None, "level": "INFO", "logger": "luna.requests", "request_id": request_id, "user_id": str(user.pk),
        "message": done["message"], "method": "POST", "route": "api/stories/<uuid:story_id>/turns/", "status": 201,
        "duration_ms": None}
    everything = json.dumps(json_lines())
    for content in ("astrolabe", "Astrolabe", str(story.pk), response.json()["id"]):
        assert content not in everything


@pytest.mark.django_db
def test_the_clients_request_id_is_kept_and_echoed_a_malformed_one_replaced(client, json_lines):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-0123456789abcdef")["X-Request-ID"] == "lb-0123456789abcdef"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID='x" "user_id": "1')["X-Request-ID"]
    assert forged != 'x" "user_id": "1' and len(forged) == 32
    assert [line["request_id"] for line in json_lines()] == ["lb-0123456789abcdef", forged]
    assert [line["user_id"] for line in json_lines()] == ["", ""]  # no one signed in


@pytest.mark.django_db
def test_secrets_never_reach_a_line(api_as, json_lines, settings, monkeypatch):
    monkeypatch.setenv("LLM_API_KEY", "sk-live-abcdef0123456789")
    monkeypatch.setenv("DATABASE_URL", "postgres://luna:pg-password-4242@db.internal:5432/luna")
    settings.METRICS_BEARER_TOKEN = "scrape-token-777777"
    user = UserFactory()
    api = api_as(user)
    token = api.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    assert api.get("/api/me/").status_code == 200
    # A careless line (a provider's error echoing the request, say) is blanked, not written.
    logging.getLogger("luna.llm").warning("sent Authorization: Bearer %s with %s to %s", "sk-live-abcdef0123456789",
                                          "scrape-token-777777", "postgres://luna:pg-password-4242@db.internal")
    everything = json.dumps(json_lines())
    for secret in ("sk-live-abcdef0123456789", "pg-password-4242", "scrape-token-777777", token,
                   settings.SECRET_KEY, settings.JWT_SIGNING_KEY):
        assert secret not in everything
    assert everything.count(request_log.REDACTED) == 3


def test_the_text_format_is_one_readable_line_with_the_ids():
    record = logging.LogRecord("luna.turns", logging.INFO, __file__, 1, "turn %s done", (3,), None)
    record.request_id, record.user_id = "req-12345678", "42"
    formatter = request_log.TextFormatter("%(levelname)s %(name)s %(context)s %(message)s")
    assert formatter.format(record) == "INFO luna.turns [req-12345678 user=42] turn 3 done"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_queued_by_a_request_carries_its_request_id_and_user(celery_worker):
    request_token = request_log.request_id_var.set("req-from-the-web-0001")
    user_token = request_log.user_id_var.set("7")
    try:
        result = context_seen.delay()
    finally:
        request_log.request_id_var.reset(request_token)
        request_log.user_id_var.reset(user_token)
    assert result.get(timeout=30) == ["req-from-the-web-0001", "7"]
    # Queued outside any request (beat, a shell): the task's own id stands in.
    result = context_seen.delay()
    assert result.get(timeout=30) == [f"task-{result.id}", ""]


@pytest.mark.django_db(transaction=True)
def test_a_streamed_turns_writing_thread_logs_with_the_requests_ids(api_as, json_lines, settings):
    settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = 0, 0
    settings.LLM_AGENTS = {**settings.LLM_AGENTS, "writer": {"provider": "openai", "model": "nothing-here",
                                                             "connection": ""}}
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: the Writer fails, and the thread says so
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    response = api_as(user).post(f"/api/stories/{story.pk}/turns/stream/", {"action": ACTION,
                                 "idempotency_key": uuid.uuid4().hex}, content_type="application/json")
    assert b'"status": "failed"' in b"".join(response.streaming_content)
    failed = next(line for line in json_lines() if line["logger"] == "luna.turns" and "failed" in line["message"])
    assert (failed["request_id"], failed["user_id"]) == (response["X-Request-ID"], str(user.pk))
    assert "astrolabe" not in json.dumps(json_lines())
