"""Structured logs: every line carries the request id and the acting user's id, and Celery tasks queued by a
request carry the same request id. Never content (actions, prose, lore) or secrets: the request's own line
names the route pattern, not the path (a path or query can hold a search or a title), and the formatter
blanks every configured secret it finds. docs/operations.md, "Logs".

``LOG_FORMAT=json`` (bin/serve's default) writes one JSON object a line; ``text`` (`make run`) a readable line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

logger = logging.getLogger("luna.requests")

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
user_id_var: ContextVar[str] = ContextVar("user_id", default="")

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it looks like one (so it cannot forge log lines or carry content).
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Celery message headers carrying the context into the tasks a request queues.
TASK_REQUEST_ID_HEADER = "luna_request_id"
TASK_USER_ID_HEADER = "luna_user_id"
# Environment variables whose values are secrets by their names' ending.
SECRET_NAME = re.compile(r"(KEY|PASSWORD|TOKEN|SECRET)$")
SECRET_URL_PASSWORD = re.compile(r"^[a-z+]+://[^:/@]*:([^@]+)@")
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values (a "0", a "yes") would blank ordinary words


class ContextFilter(logging.Filter):
    """Adds the request id and user id to every record (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.user_id = user_id_var.get()
        return True


def configured_secrets() -> list[str]:
    """Values that must never reach a log: the environment's keys, passwords and tokens, and the passwords
    inside DATABASE_URL and REDIS_URL."""
    found = [value for name, value in os.environ.items() if SECRET_NAME.search(name)]
    for name in ("DATABASE_URL", "REDIS_URL", "BACKUP_DATABASE_URL"):
        if match := SECRET_URL_PASSWORD.match(os.environ.get(name, "")):
            found.append(match.group(1))
    from django.conf import settings

    found += [settings.SECRET_KEY, settings.JWT_SIGNING_KEY, getattr(settings, "LLM_API_KEY", ""),
              getattr(settings, "METRICS_BEARER_TOKEN", "")]
    return sorted({value for value in found if len(value) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


class _Redacting(logging.Formatter):
    _secrets: list[str] | None = None

    def redact(self, text: str) -> str:
        if self._secrets is None:
            self._secrets = configured_secrets()
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class JsonFormatter(_Redacting):
    """One JSON object a line: time, level, logger, message, request_id, user_id (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "user_id": getattr(record, "user_id", ""),
        }
        line |= getattr(record, "fields", {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(line, default=str))


class TextFormatter(_Redacting):
    """A readable line for a terminal (`make run`): the request id and user id before the message."""

    def format(self, record: logging.LogRecord) -> str:
        record.context = f"[{getattr(record, 'request_id', '') or '-'} user={getattr(record, 'user_id', '') or '-'}]"
        return self.redact(super().format(record))


class RequestContextMiddleware:
    """First in the chain: takes the client's X-Request-ID (or makes one), echoes it in the response, sets the
    user's id once known, and writes one line per request (route pattern, status, duration; never the path)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = sent if CLIENT_REQUEST_ID.match(sent) else uuid.uuid4().hex
        request_token, user_token = request_id_var.set(request_id), user_id_var.set("")
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            route = getattr(getattr(request, "resolver_match", None), "route", "") or "unmatched"
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            logger.info("%s %s %s %s ms", request.method, route, response.status_code, duration_ms, extra={"fields": {
                "method": request.method, "route": route, "status": response.status_code, "duration_ms": duration_ms}})
            return response
        finally:
            request_id_var.reset(request_token)
            user_id_var.reset(user_token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # The bearer token's user or the session's, read as the RLS middleware reads it (no database).
        # Imported here: settings import this module (log_config) before the apps are loaded.
        from accounts.rls import request_user_id

        user_id_var.set(request_user_id(request) or "")


def task_headers_add(headers: dict | None = None, **_) -> None:
    """Celery's before_task_publish: the request (or task) queueing the task passes its ids on."""
    if headers is not None and request_id_var.get():
        headers[TASK_REQUEST_ID_HEADER] = request_id_var.get()
        headers[TASK_USER_ID_HEADER] = user_id_var.get()


def task_context_set(task=None, **_) -> None:
    """Celery's task_prerun: the task's log lines carry the ids of the request that queued it."""
    request = getattr(task, "request", None)
    if request is None or getattr(request, "is_eager", False):
        return  # run inline: the caller's context is already set
    request_id_var.set(getattr(request, TASK_REQUEST_ID_HEADER, None) or f"task-{request.id}")
    user_id_var.set(getattr(request, TASK_USER_ID_HEADER, None) or "")


def log_config(log_format: str, level: str) -> dict:
    """settings.LOGGING: the app's loggers, Django's and Celery's through one handler in the chosen format."""
    formatter = {"()": "luna_site.request_log.JsonFormatter"} if log_format == "json" else {
        "()": "luna_site.request_log.TextFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s %(context)s %(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "luna_site.request_log.ContextFilter"}},
        "formatters": {"main": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main", "filters": ["context"]}},
        "loggers": {
            "luna": {"handlers": ["console"], "level": level},
            "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "celery": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
