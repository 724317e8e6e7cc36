"""One exception handler: every API error leaves in the shape of docs/api.md (Errors), never a stack trace."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from cursive.errors import ApplicationError

logger = logging.getLogger("cursive.api")

_DRF_CODES = {
    exceptions.NotAuthenticated: ("not_authenticated", None),
    exceptions.AuthenticationFailed: ("not_authenticated", None),
    exceptions.PermissionDenied: ("permission_denied", None),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", None),
    exceptions.ParseError: ("invalid_json", None),
    exceptions.Throttled: ("rate_limited", None),
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {key: _flatten_list(value) for key, value in detail.items()}
    return {"non_field_errors": _flatten_list(detail)}


def _flatten_list(value):
    if isinstance(value, dict):
        return {key: _flatten_list(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [str(item) if not isinstance(item, (dict, list)) else _flatten_list(item) for item in value]
    return [str(value)]


def _first_message(fields: dict) -> str:
    """The first error as a sentence naming where it is: "lead_ids: item 2: A valid integer is required."."""
    for key, value in fields.items():
        path = [] if key == "non_field_errors" else [str(key)]
        while isinstance(value, dict) and value:
            inner, value = next(iter(value.items()))
            path.append(f"item {inner + 1}" if isinstance(inner, int) else str(inner))
        if isinstance(value, list) and value:
            return ": ".join([*path, str(value[0])])
    return "The request is not valid."


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        response = Response(exc.as_dict(), status=exc.status_code)
        if exc.status_code == 401:
            response["WWW-Authenticate"] = "Token"
        return response
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        return Response(error_body("validation_error", _first_message(fields), fields), status=400)
    if isinstance(exc, exceptions.APIException):
        code, message = exc.default_code, None
        for klass, (mapped, mapped_message) in _DRF_CODES.items():
            if isinstance(exc, klass):
                code, message = mapped, mapped_message
                break
        response = Response(error_body(code, message or str(exc.detail)), status=exc.status_code)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            response["WWW-Authenticate"] = "Token"
        return response
    logger.exception("Unhandled API error", exc_info=exc)
    return Response(
        error_body("server_error", "Something went wrong on our side; it has been logged. Try again shortly."),
        status=500,
    )


def json_error(status_code: int, code: str, message: str, **headers) -> JsonResponse:
    """The same error shape for responses made outside DRF (middleware, webhooks)."""
    response = JsonResponse(error_body(code, message), status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
