"""Request ids, the one access-log line per request, and request statistics for staff."""

from __future__ import annotations

import atexit
import contextvars
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_logger = logging.getLogger("cursive.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


class RequestIdMiddleware:
    """Accept a sane incoming X-Request-ID (from a proxy) or make one; echo it back and log with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            elapsed_ms = (time.perf_counter() - started) * 1000
            if not request.path.startswith("/static/"):
                match = getattr(request, "resolver_match", None)
                request_stats.add(match.view_name if match else "unmatched", request.method, response.status_code, elapsed_ms)
            access_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed_ms, 2),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


_STATS_UPSERT = """
INSERT INTO cursive_requeststat (hour, route, method, status, count, total_ms, max_ms) VALUES {rows}
ON CONFLICT (hour, route, method, status) DO UPDATE SET
    count = cursive_requeststat.count + EXCLUDED.count,
    total_ms = cursive_requeststat.total_ms + EXCLUDED.total_ms,
    max_ms = GREATEST(cursive_requeststat.max_ms, EXCLUDED.max_ms)
"""


class RequestStats:
    """Counts requests per hour, route, method and status in memory and writes them in one upsert every
    few seconds: a row write per request would cost more than the request itself."""

    def __init__(self, flush_every_seconds: float = 10.0, flush_every_requests: int = 500):
        self._lock = threading.Lock()
        self._pending: dict[tuple, list[float]] = {}
        self._last_flush = time.monotonic()
        self._seen = 0
        self.flush_every_seconds = flush_every_seconds
        self.flush_every_requests = flush_every_requests

    def add(self, route: str, method: str, status: int, elapsed_ms: float) -> None:
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        with self._lock:
            entry = self._pending.setdefault((hour, route[:120], method[:8], status), [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += elapsed_ms
            entry[2] = max(entry[2], elapsed_ms)
            self._seen += 1
            due = self._seen >= self.flush_every_requests or time.monotonic() - self._last_flush >= self.flush_every_seconds
        if due:
            self.flush()

    def flush(self, *, quiet: bool = False) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._seen, self._last_flush = 0, time.monotonic()
        if not pending:
            return
        from django.db import connection, transaction

        rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(pending))
        params = [
            value
            for (hour, route, method, status), (count, total, peak) in pending.items()
            for value in (hour, route, method, status, count, total, peak)
        ]
        try:
            # A savepoint when inside someone's transaction: a failed flush must not abort it.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_STATS_UPSERT.format(rows=rows), params)
        except Exception:  # statistics must never break a request; the next flush tries again
            if not quiet:
                logging.getLogger("cursive.observability").warning("request stats flush failed", exc_info=True)


request_stats = RequestStats()
# At exit the database may already be gone (a test run drops its database first): try, but quietly.
atexit.register(request_stats.flush, quiet=True)
