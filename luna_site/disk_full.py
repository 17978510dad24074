"""A full disk answers 507 with a plain message, not a 500: an upload spooled to a temporary file
(``OSError`` ENOSPC) or a write PostgreSQL refuses for want of space (SQLSTATE 53100, ``disk_full``). By the
time the error handler runs, the view's transaction has rolled back, so nothing of the upload is kept
(docs/operations.md, "Faults")."""

from __future__ import annotations

import errno
import logging

from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger("luna.faults")

DISK_FULL_MESSAGE = "The server is out of disk space, so nothing was saved. Try again later."


def is_disk_full(error: BaseException | None) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, DatabaseError) and getattr(error.__cause__, "sqlstate", None) == "53100"


def disk_full_response(request, error: BaseException) -> HttpResponse:
    logger.error("disk full during %s %s: %s", request.method, request.path, error)
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "disk_full", "detail": DISK_FULL_MESSAGE}, status=507)
    return HttpResponse(DISK_FULL_MESSAGE, status=507, content_type="text/plain; charset=utf-8")
