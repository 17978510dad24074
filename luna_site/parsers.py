"""The API's request parsers: every body bounded in nesting and its text free of control characters.
Its size is bounded by Django (``DATA_UPLOAD_MAX_MEMORY_SIZE``, read through ``request.body``), whose
refusal ``luna_site.api.exception_handler`` turns into a JSON 413."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, parsers, status

from chapters import json_limits


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The request body is over the limit of {limit:,} bytes; files go in a multipart upload.")


def _check_fields(data) -> None:
    """Form and multipart text fields (not the files): no control characters."""
    for name, values in data.lists():
        for value in values:
            message = json_limits.control_character_message(value, name)
            if message:
                raise exceptions.ParseError(message)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_limits.loads(stream.read().decode(encoding))
        except json_limits.UntrustedInputError as error:
            raise exceptions.ParseError(str(error)) from error
        except ValueError as error:  # not JSON, or bytes not in the encoding
            raise exceptions.ParseError(f"JSON parse error - {error}") from error


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_fields(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _check_fields(parsed.data)
        return parsed
