"""What the benchmarks in bench/ share: a scratch database on the project's server, progress lines, latency figures.

Imported by each script (`from scratch import ...`, bench/ being the script's sys.path[0]); importing it puts the
repository root on sys.path and selects `cursive.settings`, so it must come before anything reads the settings.

    with scratch_database("cursive_bench_x") as original:
        ...  # Django set up, the scratch database migrated and the default connection pointing at it

The scratch database is created on the server the settings name (dropping a leftover one first), migrated, and
dropped again when the block ends, however it ends: the dev data is never touched.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "cursive.settings"

FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_original_database: dict | None = None


def log(message: str) -> None:
    """A progress line on stderr (stdout carries the JSON result only)."""
    print(message, file=sys.stderr, flush=True)


def server_connection(database: dict, dbname: str | None = None):
    """An autocommit connection to the server (its original database unless told otherwise)."""
    import psycopg

    return psycopg.connect(
        host=database.get("HOST") or None,
        port=database.get("PORT") or None,
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        dbname=dbname or database["NAME"],
        autocommit=True,
    )


def drop_database(database: dict, name: str) -> None:
    """DROP DATABASE IF EXISTS `name` WITH (FORCE), from a connection to the server's original database."""
    from psycopg import sql

    with server_connection(database) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_version(database: dict) -> str:
    with server_connection(database) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for child processes (gunicorn, manage.py) to reach the database of `settings_dict`."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def original_database() -> dict:
    """The settings' default database as it was before any scratch database replaced its name."""
    global _original_database
    if _original_database is None:
        from django.conf import settings

        # Reading the settings starts the embedded server when DATABASE_URL is not set.
        _original_database = dict(settings.DATABASES["default"])
    return dict(_original_database)


@contextmanager
def scratch_database(name: str, *, fast_passwords: bool = True, debug: bool | None = None) -> Iterator[dict]:
    """Create the database `name` (dropping a leftover one first), point Django's default connection at it, set
    Django up, migrate it quietly and yield the original DATABASES["default"] dict; drop it at the end, always.

    fast_passwords: hash passwords with MD5 (only the bench's own users are hashed; it keeps set-up fast and changes
    nothing measured). debug: the DEBUG setting to run with; None leaves it as the environment made it.
    """
    from django.conf import settings
    from psycopg import sql

    original = original_database()
    if name == original["NAME"]:
        raise ValueError(f"refusing to use the original database {name!r} as a scratch database")
    drop_database(original, name)
    with server_connection(original) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"Created the scratch database {name}")
    try:
        # Django opens its connections lazily from these settings: point the default one at the scratch database.
        settings.DATABASES["default"]["NAME"] = name
        if fast_passwords:
            settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
        if debug is not None:
            settings.DEBUG = debug

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        log("Migrating the scratch database")
        call_command("migrate", verbosity=0, interactive=False)
        assert connection.settings_dict["NAME"] == name
        yield original
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(original, name)
        log(f"Dropped the scratch database {name}")


def run_together(count: int, worker: Callable[[int, threading.Barrier], None], *, name: str) -> float:
    """Run worker(index, barrier) in `count` threads (named name-index). Each worker waits on the barrier once it is
    ready to start; returns the seconds from the barrier's release until the last thread ended."""
    barrier = threading.Barrier(count + 1)
    threads = [threading.Thread(target=worker, args=(i, barrier), name=f"{name}-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(milliseconds: list[float]) -> dict:
    """p50/p95/p99/mean/max of latencies in milliseconds, rounded to the microsecond."""
    values = sorted(milliseconds)
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "p99": round(percentile(values, 0.99), 3),
        "mean": round(statistics.fmean(values), 3) if values else None,
        "max": round(values[-1], 3) if values else None,
    }


def run_context(loadavg_before: tuple[float, float, float]) -> dict:
    """How and where a bench ran, for its JSON: the command, the cores, and the load around the run (on a
    shared machine the load says how far the figures can be trusted)."""
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
