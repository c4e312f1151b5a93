"""API conventions shared by every app: one error format, pagination, the v1 router.

Every error answers ``{"error": {"status": <int>, "code": "<machine code>", "message": "<text>",
"details": <field errors or extra data, optional>}}``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class APIError(exceptions.APIException):
    """An error with an explicit status, code and details (e.g. an upload's checksum mismatch)."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.code = code
        self.message = message
        self.details = details


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        msg = _first_message(value)
        return msg if key in ("non_field_errors", "detail") else f"{key}: {msg}"
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, APIError):
        body = {"status": exc.status_code, "code": exc.code, "message": exc.message}
        if exc.details is not None:
            body["details"] = exc.details
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else ("invalid" if isinstance(exc, exceptions.ValidationError) else "error")
        body = {"status": response.status_code, "code": code, "message": _first_message(detail)}
        if isinstance(detail, dict | list) and not (isinstance(detail, dict) and set(detail) == {"detail"}):
            body["details"] = detail
    response.data = {"error": body}
    return response


class Pagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000


def error_response(status: int, code: str, message: str, details=None) -> Response:
    body = {"status": status, "code": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response({"error": body}, status=status)
