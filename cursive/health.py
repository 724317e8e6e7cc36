"""`GET /health`: cheap enough for a load balancer to poll, honest about a database outage.

A probe costs one query (the worker's heartbeat, which also proves the database answers). The migration
check reads the migration graph and the `django_migrations` table, so it runs once per process and then
every HEALTH_MIGRATIONS_RECHECK_SECONDS. The whole answer is kept for HEALTH_CACHE_SECONDS in the process:
however often it is polled, each web process probes the database at most once per period.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, ProgrammingError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from cursive.models import WorkerHeartbeat
from cursive.tasks import HEARTBEAT_NAME


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.answer: tuple[dict, int] | None = None
        self.answered_at = float("-inf")
        self.migrations: dict | None = None
        self.migrations_at = float("-inf")


_cache = _Cache()
# A probe still running this long after the last answer expired counts as a database outage.
PROBE_TIMEOUT_SECONDS = 5


def _probe_heartbeat() -> tuple[dict, dict]:
    """The database and worker checks from one query."""
    try:
        beat = WorkerHeartbeat.objects.filter(name=HEARTBEAT_NAME).values_list("beat_at", flat=True).first()
    except ProgrammingError as exc:
        # The server answered; the table is missing because migrations have not run (reported by their check).
        return {"ok": True}, {"ok": False, "error": exc.__class__.__name__}
    except Exception as exc:  # any failure to reach the database is the finding itself
        return {"ok": False, "error": exc.__class__.__name__}, {"ok": False}
    if beat is None:
        return {"ok": True}, {"ok": False, "last_beat": None}
    age = (timezone.now() - beat).total_seconds()
    return {"ok": True}, {
        "ok": age <= settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS,
        "last_beat": beat.isoformat(),
        "age_seconds": round(age),
    }


def _check_migrations(now: float) -> dict:
    if _cache.migrations is not None and now - _cache.migrations_at < settings.HEALTH_MIGRATIONS_RECHECK_SECONDS:
        return _cache.migrations
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        # Not remembered: the next probe tries again.
        return {"ok": False, "error": exc.__class__.__name__}
    _cache.migrations, _cache.migrations_at = {"ok": not pending, "pending": len(pending)}, now
    return _cache.migrations


def _answer() -> tuple[dict, int]:
    now = time.monotonic()
    database, worker = _probe_heartbeat()
    checks = {"database": database}
    if database["ok"]:
        checks["migrations"] = _check_migrations(now)
        checks["worker"] = worker
    healthy = all(check["ok"] for check in checks.values())
    return {"status": "ok" if healthy else "degraded", "checks": checks}, 200 if healthy else 503


def _stale() -> bool:
    return time.monotonic() - _cache.answered_at >= settings.HEALTH_CACHE_SECONDS


@never_cache
def health(request):
    # One thread probes; under load the others go on answering with the last answer meanwhile (only the very
    # first answer of a process is waited for), so a slow probe never queues every poller behind it.
    if _stale() and _cache.lock.acquire(blocking=_cache.answer is None):
        try:
            if _stale():
                _cache.answer = _answer()
                _cache.answered_at = time.monotonic()
        finally:
            _cache.lock.release()
    if time.monotonic() - _cache.answered_at > settings.HEALTH_CACHE_SECONDS + PROBE_TIMEOUT_SECONDS:
        # The probe in progress has hung (a database that accepts connections but does not answer): that is
        # an outage, not a reason to repeat the last good answer.
        body, status = {"status": "degraded", "checks": {"database": {"ok": False, "error": "timeout"}}}, 503
    else:
        body, status = _cache.answer
    return JsonResponse(body, status=status)
