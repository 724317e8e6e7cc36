"""How fast `seed_demo` fills the lead database, measured in a scratch database.

    .venv/bin/python bench/seed.py [--people 1000000]

Creates `cursive_bench_seed` on the project's database server (dropping a
leftover one first), migrates it, times `seed_demo --people N` into it, prints
one JSON object on stdout and drops the database again: the dev data is never
touched. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "cursive.settings"

SCRATCH_DATABASE = "cursive_bench_seed"
TABLES = ("leads_person", "leads_company")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def server_connection(database: dict):
    """An autocommit connection to the server's original database, to create and drop the scratch one."""
    import psycopg

    return psycopg.connect(
        host=database.get("HOST") or None, port=database.get("PORT") or None, user=database.get("USER") or None,
        password=database.get("PASSWORD") or None, dbname=database["NAME"], autocommit=True,
    )


def drop_scratch(database: dict) -> None:
    from psycopg import sql

    with server_connection(database) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH_DATABASE)))


def table_sizes(cursor) -> dict:
    sizes = {}
    mb = 1024 * 1024
    for table in TABLES:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {table}), pg_total_relation_size(%s), pg_table_size(%s), pg_indexes_size(%s)",
            [table, table, table],
        )
        rows, total, heap, indexes = cursor.fetchone()
        sizes[table] = {"rows": rows, "total_size_mb": round(total / mb, 1), "table_mb": round(heap / mb, 1),
                        "indexes_mb": round(indexes / mb, 1)}
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    args = parser.parse_args()

    from django.conf import settings

    # Reading the settings starts the embedded server when DATABASE_URL is not set.
    original = dict(settings.DATABASES["default"])
    from psycopg import sql

    drop_scratch(original)
    with server_connection(original) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH_DATABASE)))
    log(f"Created the scratch database {SCRATCH_DATABASE}")
    # Django opens its connections lazily from these settings: point the default one at the scratch database.
    settings.DATABASES["default"]["NAME"] = SCRATCH_DATABASE

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    try:
        log("Migrating the scratch database")
        call_command("migrate", verbosity=0, interactive=False)
        assert connection.settings_dict["NAME"] == SCRATCH_DATABASE
        log(f"Seeding {args.people:,} people")
        started = time.perf_counter()
        call_command("seed_demo", people=args.people, stdout=sys.stderr, stderr=sys.stderr)
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            tables = table_sizes(cursor)
    finally:
        connections.close_all()
        drop_scratch(original)
        log(f"Dropped the scratch database {SCRATCH_DATABASE}")

    print(json.dumps({
        "people": args.people,
        "seconds": round(seconds, 2),
        "rows_per_second": round(args.people / seconds) if seconds else None,
        "tables": tables,
    }))


if __name__ == "__main__":
    main()
