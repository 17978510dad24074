"""Service errors on a form: one rule for every page and admin view."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError

from .errors import DomainError


def form_error_from(form: forms.Form, error: ValidationError | DomainError | PermissionDenied) -> None:
    """Put a service's error on ``form``: each message on the field it names when the form has that
    field, otherwise above the form."""
    if isinstance(error, DomainError):
        form.add_error(error.field if error.field in form.fields else None, error.message)
    elif isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for message in ValidationError(errors).messages:
                form.add_error(field if field in form.fields else None, message)
    elif isinstance(error, ValidationError):
        for message in error.messages:
            form.add_error(None, message)
    else:
        form.add_error(None, str(error) or "You may not do that.")
