"""Per-workspace, per-action-class rate limits for /api/v1/ (docs/api.md, Rate limits) and the pages that do the same work.

Counters live in PostgreSQL, one upserted row per key and window, so every
gunicorn worker and every host behind a load balancer enforce one limit.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from cursive.api.errors import json_error

API_PREFIX = "/api/v1/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Pages that do an API endpoint's work count against the same workspace's limit of the same class, so the
# dashboard is no way around the API's limits; by URL name and method: (action class, what people call it).
# Every other page is a person reading the dashboard and is not counted.
PAGE_RATE_CLASSES: dict[str, dict[str, tuple[str, str]]] = {
    "leads:export": {"GET": ("reads", "exports")},
    "marketplace:purchase_download": {"GET": ("reads", "downloads")},
    "segments:search": {"GET": ("reads", "searches")},
    "leads:bulk": {"POST": ("writes", "bulk actions")},
    "sequences:enrol_from_leads": {"POST": ("writes", "bulk actions")},
    "segments:save_search": {"POST": ("writes", "saved searches")},
    "segments:run": {"POST": ("writes", "segment counts and pulls")},
    "marketplace:checkout": {"POST": ("purchases", "purchases")},
    "credits:buy": {"POST": ("credit_checkouts", "credit checkouts")},
    "visitors:pixel_list": {"POST": ("writes", "new pixels")},
    "visitors:pixel_detail": {"POST": ("writes", "pixel changes")},
    "visitors:pixel_delete": {"POST": ("writes", "pixel deletions")},
    "visitors:visitor_tag": {"POST": ("writes", "tag changes")},
}

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
    return Decision(allowed=count <= limit, limit=limit, remaining=max(limit - count, 0), reset=window_start + window)


def hit_sliding(key: str, *, limit: int, window: int) -> Decision:
    """Like hit(), but counts this window and the one before it together, so no stretch of one window's
    length ever lets more than `limit` through, however the requests fall around a boundary. For small,
    slow limits (emails per hour) where a fixed window's double allowance at its edge would matter."""
    window_start = int(time.time() // window * window)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key, window_start])
        count = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count FROM cursive_ratelimitcounter WHERE key = %s AND window_start = %s", [key, window_start - window]
        )
        previous = cursor.fetchone()
    total = count + (previous[0] if previous else 0)
    return Decision(allowed=total <= limit, limit=limit, remaining=max(limit - total, 0), reset=window_start + window)


def client_ip(request) -> str:
    """The address of whoever sent the request: the peer, or behind TRUSTED_PROXY_COUNT reverse proxies, the
    address the outermost of them saw (each proxy appends its peer to X-Forwarded-For, so entries further left
    are whatever the client claimed and are never trusted)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "unknown")


def _retry_after(decision: Decision) -> int:
    return max(1, math.ceil(decision.reset - time.time()))


def _hit_class(request, klass: str) -> Decision:
    limit = settings.RATE_LIMITS.get(klass, settings.RATE_LIMITS["reads"])
    window = settings.RATE_LIMIT_WINDOW_SECONDS
    who = f"ws:{request.workspace.pk}" if request.workspace is not None else f"ip:{client_ip(request)}"
    return hit(f"{who}:{klass}", limit=limit, window=window)


def page_refusal(request, *, what: str, retry_after: int) -> HttpResponse:
    """A 429 a person can act on: a toast for an htmx request (nothing swapped), else a page."""
    seconds = f"{retry_after} second{'s' if retry_after != 1 else ''}"
    message = f"Too many {what} from this workspace at once; try again in {seconds}."
    if request.htmx:
        response = HttpResponse(status=429)
        response["HX-Trigger"] = json.dumps({"toast": {"message": message, "level": "error"}})
        response["HX-Reswap"] = "none"
    else:
        response = render(request, "errors/429.html", {"message": message, "retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            klass = action_class(request)
            decision = _hit_class(request, klass)
            if decision.allowed:
                response = self.get_response(request)
            else:
                retry_after = _retry_after(decision)
                response = json_error(
                    429,
                    "rate_limited",
                    f"Too many {klass.replace('_', ' ')} requests for this workspace; try again in {retry_after} seconds.",
                )
                response["Retry-After"] = str(retry_after)
        else:
            response = self.get_response(request)
            decision = getattr(request, "rate_limit", None)
            if decision is None:
                return response
        # A view with a limit of its own (new pixels a day) has set its headers: that is the one the client meets.
        for name, value in decision.headers().items():
            response.setdefault(name, value)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Pages are classified here, after URL resolution, by the view's name. Only a request inside a
        # workspace is counted: anyone else is sent to log in by the view without any work done.
        if request.path.startswith(API_PREFIX) or request.workspace is None:
            return None
        declared = PAGE_RATE_CLASSES.get(request.resolver_match.view_name, {}).get(request.method)
        if declared is None:
            return None
        klass, what = declared
        request.rate_limit = _hit_class(request, klass)
        if request.rate_limit.allowed:
            return None
        return page_refusal(request, what=what, retry_after=_retry_after(request.rate_limit))
