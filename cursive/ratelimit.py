"""Per-workspace, per-action-class rate limits for /api/v1/ (API.md).

Counters live in PostgreSQL, one upserted row per key and window, so every
gunicorn worker and every host behind a load balancer enforce one limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.urls import Resolver404, resolve

from cursive.api.errors import json_error

API_PREFIX = "/api/v1/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

_UPSERT = """
INSERT INTO cursive_ratelimitcounter (key, window_start, count) VALUES (%s, %s, 1)
ON CONFLICT (key, window_start) DO UPDATE SET count = cursive_ratelimitcounter.count + 1
RETURNING count
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def action_class(request) -> str:
    """The view's declared `rate_class` (a name, or a dict by HTTP method), else reads/writes."""
    default = "reads" if request.method in SAFE_METHODS else "writes"
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return default
    declared = getattr(getattr(match.func, "cls", None), "rate_class", None)
    if isinstance(declared, dict):
        return declared.get(request.method, default)
    return declared or default


def hit(key: str, *, limit: int, window: int) -> Decision:
    now = time.time()
    window_start = int(now // window * window)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key, window_start])
        count = cursor.fetchone()[0]
    return Decision(
        allowed=count <= limit, limit=limit, remaining=max(limit - count, 0), reset=window_start + window
    )


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        klass = action_class(request)
        limit = settings.RATE_LIMITS.get(klass, settings.RATE_LIMITS["reads"])
        window = settings.RATE_LIMIT_WINDOW_SECONDS
        who = f"ws:{request.workspace.pk}" if request.workspace is not None else f"ip:{_client_ip(request)}"
        decision = hit(f"{who}:{klass}", limit=limit, window=window)
        if decision.allowed:
            response = self.get_response(request)
        else:
            retry_after = max(1, math.ceil(decision.reset - time.time()))
            response = json_error(
                429, "rate_limited",
                f"Too many {klass.replace('_', ' ')} requests for this workspace; "
                f"try again in {retry_after} seconds.",
            )
            response["Retry-After"] = str(retry_after)
        for name, value in decision.headers().items():
            response[name] = value
        return response
