"""One error shape for the API: {"error": message, "fields": {...}} with a 4xx status."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        first = next(iter(fields.items()), ("", ["invalid input"]))
        message = first[1][0] if isinstance(first[1], list) and first[1] else str(first[1])
        response.data = {
            "error": f"{first[0]}: {message}" if first[0] else str(message),
            "fields": fields,
        }
    elif isinstance(data, dict) and "detail" in data:
        response.data = {
            "error": str(data["detail"]),
            **{k: v for k, v in data.items() if k != "detail"},
        }
    return response
