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
import sys
import time

from scratch import log, scratch_database

SCRATCH_DATABASE = "cursive_bench_seed"
TABLES = ("leads_person", "leads_company")


def table_sizes(cursor) -> dict:
    sizes = {}
    mb = 1024 * 1024
    for table in TABLES:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {table}), pg_total_relation_size(%s), pg_table_size(%s), pg_indexes_size(%s)",
            [table, table, table],
        )
        rows, total, heap, indexes = cursor.fetchone()
        sizes[table] = {
            "rows": rows,
            "total_size_mb": round(total / mb, 1),
            "table_mb": round(heap / mb, 1),
            "indexes_mb": round(indexes / mb, 1),
        }
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    args = parser.parse_args()

    # The demo users are hashed as configured: their hashing is part of what seed_demo costs.
    with scratch_database(SCRATCH_DATABASE, fast_passwords=False):
        from django.core.management import call_command
        from django.db import connection

        log(f"Seeding {args.people:,} people")
        started = time.perf_counter()
        call_command("seed_demo", people=args.people, stdout=sys.stderr, stderr=sys.stderr)
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            tables = table_sizes(cursor)

    print(
        json.dumps(
            {
                "people": args.people,
                "seconds": round(seconds, 2),
                "rows_per_second": round(args.people / seconds) if seconds else None,
                "tables": tables,
            }
        )
    )


if __name__ == "__main__":
    main()
