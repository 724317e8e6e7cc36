"""The one family of domain errors. Services raise them; the API's exception
handler and the HTML views map them to the status codes and the error shape
of docs/api.md (Errors), so a service never knows about HTTP."""

from __future__ import annotations


class ApplicationError(Exception):
    status_code = 400
    code = "invalid_request"
    default_message = "The request could not be processed."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, fields: dict | None = None, extra: dict | None = None
    ):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(self.message)

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message, **self.extra}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class ValidationFailed(ApplicationError):
    status_code = 400
    code = "validation_error"
    default_message = "Some fields are not valid; see `fields` for what to fix."


class NotAuthenticated(ApplicationError):
    status_code = 401
    code = "not_authenticated"
    default_message = "Send a valid API key as `Authorization: Token <key>` or log in."


class PaymentRequired(ApplicationError):
    status_code = 402
    code = "insufficient_credits"
    default_message = "Not enough credits."


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"
    default_message = "Your role in this workspace does not allow this."


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state; reload and try again."


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The upload is larger than allowed."


class RateLimited(ApplicationError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests; wait a moment and try again."
