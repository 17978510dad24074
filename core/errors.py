"""The domain's refusals: one family for every app, so a refusal is written once and shown the same way
everywhere. A service raises ``DomainError(code, message)``; ``luna_site.api``'s exception handler turns it
into an HTTP answer (the status is chosen there, by ``code``, and only there), and ``core.forms.form_error_from``
puts it on a form. Invalid input stays Django's ``ValidationError`` (field by field), and a refusal by
ownership ``PermissionDenied``; both are handled by the same two places."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """Something the user asked that the domain refuses, with a message they can act on.

    ``code`` says what kind of refusal it is (``conflict``: done already, or something running;
    ``quota_exceeded``: over a limit of the user's tier; ``turn_conflict``, ``not_found``: a turn request); ``field`` names the input it is about, if one.
    ``details`` are extra members of the API's answer (a quota's limit)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}


CONFLICT = "conflict"


def error_text(error: Exception) -> str:
    """A refusal or invalid input as one line, for a page's message."""
    if isinstance(error, DomainError):
        return error.message
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)
