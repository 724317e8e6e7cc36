"""The error answers every /api/v1/ operation can give (docs/api.md, Errors), added to the OpenAPI schema in one place so
that each view documents only its own success."""

from __future__ import annotations

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "snake_case, stable: branch on it."},
                "message": {"type": "string", "description": "A sentence a person can act on."},
                "fields": {"type": "object", "description": "For validation errors: what is wrong, by field."},
            },
        }
    },
}

ALWAYS = {
    400: "Invalid input (`validation_error`, `invalid_json`, ...).",
    401: "No or invalid credentials (`not_authenticated`).",
    403: "Your role or workspace kind does not allow this (`permission_denied`).",
    429: "Rate limited (`rate_limited`); see `Retry-After`.",
}
NOT_FOUND = {404: "Not found, or not this workspace's (`not_found`)."}
WITH_BODY = {
    **NOT_FOUND,
    409: "Conflicts with the current state (`conflict`, `lead_unavailable`, `idempotency_key_reused`, ...).",
    413: "The request body is larger than allowed (`payload_too_large`).",
}
# The operations that spend credits.
SPENDING = {"v1_marketplace_purchases_create", "v1_segments_run_create"}
PAYMENT_REQUIRED = {402: "Not enough credits (`insufficient_credits`); the message says how many are missing."}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ALWAYS)
            if "{" in path:
                errors.update(NOT_FOUND)
            if "requestBody" in operation:
                errors.update(WITH_BODY)
            if operation.get("operationId") in SPENDING:
                errors.update(PAYMENT_REQUIRED)
            for status, description in errors.items():
                operation["responses"].setdefault(str(status), {"description": description, "content": reference})
    return result
