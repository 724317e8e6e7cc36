"""Read replicas: which reads may go to a PostgreSQL streaming replica, and when they must not.

DATABASE_REPLICA_URLS adds one database alias per replica (settings.DATABASE_REPLICAS: replica1, replica2, ...).
Nothing reads from a replica unless its code asks: a read-heavy path (Lead Search, marketplace browse, analytics,
exports) opens `replica_reads(workspace=...)` or takes `replica_alias(workspace=...)`. Even then the primary
serves the read when

- it runs inside a transaction on the primary (a write's own reads, its locks and money checks);
- the workspace wrote within the window (REPLICA_STICKY_SECONDS) and no replica has replayed that write yet: every
  write request (and job naming a workspace) leaves a fence row on the primary with the time and the primary's WAL
  position, which every web node and worker reads; a replica whose replay position has passed it holds the write
  and may serve it even inside the window;
- no replica can be reached, or every one lags more than REPLICA_MAX_LAG_SECONDS (logged as a warning).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.http import HttpRequest

logger = logging.getLogger("cursive.replicas")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The WAL insert position is at or past the end of every commit made so far, the request's own included.
_FENCE_SQL = """
INSERT INTO cursive_replica_fence (workspace_id, written_at, lsn)
VALUES (%s, now(), (pg_current_wal_insert_lsn() - '0/0')::bigint)
ON CONFLICT (workspace_id) DO UPDATE
SET written_at = EXCLUDED.written_at, lsn = GREATEST(cursive_replica_fence.lsn, EXCLUDED.lsn)
"""
_FENCE_LSN_SQL = """
SELECT lsn FROM cursive_replica_fence WHERE workspace_id = %s AND written_at > now() - make_interval(secs => %s)
"""
# Lag is the age of the last transaction replayed while WAL received is still waiting to be replayed; a replica
# that has replayed all it received is not behind. A server not in recovery (a replica URL naming the primary
# itself) holds every write.
_STATUS_SQL = """
SELECT pg_is_in_recovery(),
       COALESCE((pg_last_wal_replay_lsn() - '0/0')::bigint, 0),
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 'Infinity') END
"""


@dataclass(frozen=True)
class ReplicaStatus:
    checked_at: float
    up: bool
    replay_lsn: float = 0.0
    lag_seconds: float = 0.0


_statuses: dict[str, ReplicaStatus] = {}
_statuses_lock = threading.Lock()


def forget_statuses() -> None:
    """Drop what this process remembers of its replicas (the next read checks each again)."""
    with _statuses_lock:
        _statuses.clear()


def _check(alias: str) -> ReplicaStatus:
    now = time.monotonic()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(_STATUS_SQL)
            in_recovery, replay_lsn, lag = cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("replica %s is unreachable; reading from the primary: %s", alias, exc, extra={"replica": alias})
        # A broken connection is not reused; the next check (after REPLICA_RETRY_SECONDS) opens a new one.
        with suppress(DatabaseError):
            connections[alias].close()
        return ReplicaStatus(checked_at=now, up=False)
    status = ReplicaStatus(
        checked_at=now, up=True, replay_lsn=replay_lsn if in_recovery else float("inf"), lag_seconds=float(lag)
    )
    if status.lag_seconds > settings.REPLICA_MAX_LAG_SECONDS:
        logger.warning(
            "replica %s is %.1f s behind (more than REPLICA_MAX_LAG_SECONDS); reading from the primary",
            alias,
            status.lag_seconds,
            extra={"replica": alias, "lag_seconds": status.lag_seconds},
        )
    return status


def replica_status(alias: str) -> ReplicaStatus:
    """The replica's replay position and lag, checked at most every REPLICA_STATUS_SECONDS per process (every
    REPLICA_RETRY_SECONDS while it cannot be reached). An older position is an earlier one: reusing it can only
    send a read to the primary that the replica could have served, never the reverse."""
    with _statuses_lock:
        status = _statuses.get(alias)
    now = time.monotonic()
    if status is not None:
        age = now - status.checked_at
        if age < (settings.REPLICA_STATUS_SECONDS if status.up else settings.REPLICA_RETRY_SECONDS):
            return status
    status = _check(alias)
    with _statuses_lock:
        _statuses[alias] = status
    return status


def _sticky_seconds() -> float:
    """A fence older than this is covered by the lag bound: a replica in use is never further behind."""
    return max(settings.REPLICA_STICKY_SECONDS, settings.REPLICA_MAX_LAG_SECONDS + settings.REPLICA_STATUS_SECONDS)


def _fence_lsn(workspace_id: int | None) -> int | None:
    if workspace_id is None:
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(_FENCE_LSN_SQL, [workspace_id, _sticky_seconds()])
        row = cursor.fetchone()
    return row[0] if row else None


def _choose(workspace_id: int | None) -> str:
    aliases = list(settings.DATABASE_REPLICAS)
    if not aliases or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    random.shuffle(aliases)
    usable = []
    for alias in aliases:
        status = replica_status(alias)
        if status.up and status.lag_seconds <= settings.REPLICA_MAX_LAG_SECONDS:
            usable.append((alias, status))
    if not usable:
        return DEFAULT_DB_ALIAS
    fence = _fence_lsn(workspace_id)
    for alias, status in usable:
        if fence is None or status.replay_lsn >= fence:
            return alias
    return DEFAULT_DB_ALIAS


@dataclass
class _Scope:
    workspace_id: int | None
    alias: str | None = None


_scope: ContextVar[_Scope | None] = ContextVar("cursive_replica_scope", default=None)


@contextmanager
def replica_reads(*, workspace):
    """Reads in this block may be served by a replica for `workspace` (see the module's rules). The replica is
    chosen at the block's first read and serves all of them, so the block sees one consistent snapshot source."""
    token = _scope.set(_Scope(workspace_id=workspace.pk if workspace is not None else None))
    try:
        yield
    finally:
        _scope.reset(token)


def reads_from_replica(view):
    """A view (a function, or a method of a class-based view) whose reads, its template's included, may be served
    by a replica for the request's workspace."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        request = args[0] if isinstance(args[0], HttpRequest) else args[1]
        with replica_reads(workspace=getattr(request, "workspace", None)):
            return view(*args, **kwargs)

    return wrapped


def replica_alias(*, workspace) -> str:
    """The alias to read `workspace`'s data from now: for a queryset evaluated later (a streamed export) with
    `.using()`, where a block would have ended before the rows are read."""
    return _choose(workspace.pk if workspace is not None else None)


class ReplicaRouter:
    """Reads go to a replica inside `replica_reads` only; every write, migration and other read to the primary."""

    def db_for_read(self, model, **hints):
        scope = _scope.get()
        if scope is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        if scope.alias is None:
            scope.alias = _choose(scope.workspace_id)
        return scope.alias

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == DEFAULT_DB_ALIAS


def _write_fence(workspace_id: int) -> None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(_FENCE_SQL, [workspace_id])
    except DatabaseError:
        # The write itself is done; without its fence the lag bound still limits what a replica could hide.
        logger.exception("could not record a replica fence", extra={"workspace_id": workspace_id})


def replica_fence(*, workspace_id: int) -> None:
    """Keep `workspace_id`'s replica reads on the primary until a replica has replayed what it wrote so far. Inside
    a transaction the fence is taken once it commits (the WAL position must be past the commit)."""
    if settings.DATABASE_REPLICAS:
        transaction.on_commit(lambda: _write_fence(workspace_id), using=DEFAULT_DB_ALIAS)


class ReplicaFenceMiddleware:
    """After a request that may have written (any unsafe method) for a workspace, fence that workspace. The
    fence is in place before the response leaves, so the client's next request reads its own write."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        workspace = getattr(request, "workspace", None)
        if workspace is not None and request.method in UNSAFE_METHODS and settings.DATABASE_REPLICAS:
            replica_fence(workspace_id=workspace.pk)
        return response
