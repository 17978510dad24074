"""API conventions shared by every app: JSON errors with a message and a code (documented on every
operation by ``luna_site.schema``)."""

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import DomainError

from .parsers import PayloadTooLarge

INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for a row-level security or grant refusal
# The HTTP status of each kind of ``DomainError`` (any other code: 400). Chosen here and nowhere else.
DOMAIN_STATUS = {"conflict": status.HTTP_409_CONFLICT, "turn_conflict": status.HTTP_409_CONFLICT,
                 "quota_exceeded": status.HTTP_403_FORBIDDEN, "not_found": status.HTTP_404_NOT_FOUND,
                 # #21 budgets: a paid turn past a cap (narrative_pipeline/budgets.py).
                 "budget_exceeded": status.HTTP_402_PAYMENT_REQUIRED}


def exception_handler(exc, context):
    """Every API error is ``{"detail": message, "code": code}``, plus ``errors`` per field."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response({"code": exc.code, "detail": exc.message, **exc.details},
                        status=DOMAIN_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST))
    if isinstance(exc, DatabaseError) and getattr(exc.__cause__, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        # Row-level security or a column grant refused a write the view let through: still a refusal, not a
        # crash (views check first and say why; this is the net under them).
        exc = exceptions.PermissionDenied("You may not change this.")
    if isinstance(exc, RequestDataTooBig):  # Django's own size check on request.body
        exc = PayloadTooLarge()
    if isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ParseError(str(exc))
    if isinstance(exc, ObjectDoesNotExist):  # under RLS, another user's row does not exist either
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"code": "invalid", "detail": _first_message(errors), "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {**response.data, "detail": str(detail), "code": getattr(detail, "code", "error")}
    return response


def _first_message(errors) -> str:
    """A readable one-line message for the first field error, e.g. "email: Enter a valid e-mail address."."""
    for field, messages in errors.items():
        message = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(message, dict):
            return _first_message(message)
        return str(message) if field == "non_field_errors" else f"{field}: {message}"
    return "Invalid input."


class Pagination(PageNumberPagination):
    """``?page=`` and, up to 100, ``?page_size=``."""

    page_size_query_param = "page_size"
    max_page_size = 100

