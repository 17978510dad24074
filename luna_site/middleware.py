"""Refuse control characters in the URL before any view sees them (PostgreSQL refuses NUL in text: a
search or filter carrying ``%00`` would otherwise be a 500)."""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse

from chapters import json_limits


def refuse_control_characters(get_response):
    def middleware(request):
        message = json_limits.control_character_message(request.path, "the address")
        for name, values in request.GET.lists():
            for text in (name, *values):
                message = message or json_limits.control_character_message(text, f"the parameter {name!r}")
        if message is None:
            return get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"code": "invalid", "detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

    return middleware
