"""Checks on untrusted data that PostgreSQL or Python would otherwise fail on deep inside a request."""

from __future__ import annotations

NUL = "\x00"
# Nothing Cursive accepts is nested more than a few levels; deeper JSON is an attack on the parser or on
# whatever walks it recursively later (JSONB, the idempotency fingerprint).
MAX_JSON_DEPTH = 32
NUL_MESSAGE = "Text cannot contain the NUL character (\\u0000); remove it and send again."


def json_problem(data, *, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why parsed JSON cannot be accepted (a NUL in a key or string, PostgreSQL refuses it in text and
    JSONB; or nesting deeper than `max_depth`), or None. Walks without recursion."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return NUL_MESSAGE
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"JSON nested more than {max_depth} levels deep is not accepted."
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((value, depth + 1) for value in item.values())
            else:
                stack.extend((value, depth + 1) for value in item)
    return None
