"""Retention at scale: the hourly cleanup (cursive.retention) on big growth tables while the product writes and
reads them, and what it leaves behind (table and index sizes, dead tuples).

    .venv/bin/python bench/retention.py [--expired 5000000] [--fresh 1000000] [--endpoints 10] [--jobs 500000]
                                        [--pixel-events 1000000] [--batch-size 5000] [--writer-rate 100]

Creates `cursive_bench_retention` on the project's database server (dropping a leftover one first), migrates it,
makes one workspace (accounts.services) with `--endpoints` webhook endpoints, and fills with INSERT ... SELECT:

  webhook deliveries: `--expired` delivered (succeeded or failed) 31-60 days ago and `--fresh` of the last 30
      days (one delivery per endpoint of each outbox event, so the outbox gets (expired + fresh) / endpoints
      events, dispatched, as old as their deliveries), plus 1% of the expired ones still pending (kept);
  jobs: `--jobs` succeeded 15-60 days ago and a fifth as many recent or pending ones (kept);
  pixel events: `--pixel-events` in a month past PIXEL_EVENT_RETENTION_MONTHS, in their monthly partition.

Then it runs the retention rules of those tables (cursive.retention.rule_apply, as the hourly job does) one after
the other, while in other threads, each on its own connection:

  writer: what webhooks and the pixel do all day, `--writer-rate` times a second: an outbox event and a delivery
          per endpoint inserted, a recent delivery marked delivered and a pixel event inserted, in one
          transaction; latency of each;
  reader: an endpoint's delivery log (its newest 50, as the API lists it) and its pending count; latency of each;
  locks:  every 50 ms, the longest any backend has been waiting for a lock (pg_locks not granted).

The writer and reader also run for `--baseline-seconds` before the cleanup, for comparison. The first batch's
select and one in the middle of the deliveries are run under EXPLAIN (ANALYZE, BUFFERS) first: rows and buffers
per batch show that a batch touches its own rows only, wherever it is in the table.

JSON on stdout: per rule rows removed, seconds and rows/s; writer and reader latency before and during; longest
lock wait; per table rows, table and index size before, after the cleanup, after VACUUM, and dead tuples after the
cleanup (autovacuum's view) and after VACUUM; the deliveries table once as many new rows as were deleted have been
inserted again (the space VACUUM freed is reused: no bloat); the sampled plans; total time and the load. The scratch
database is dropped at the end, however the run ends: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

from scratch import latency_summary, log, run_context, scratch_database, server_connection, server_version

SCRATCH_DATABASE = "cursive_bench_retention"
TABLES = ["webhooks_delivery", "cursive_outboxevent", "cursive_job", "visitors_event"]
RULES = ["webhook deliveries", "outbox events", "succeeded jobs", "pixel event partitions"]


def fill(cursor, *, workspace_id: int, endpoint_ids: list[int], expired: int, fresh: int, jobs: int, pixel_events: int):
    from django.utils import timezone

    from visitors import partitions

    per = len(endpoint_ids)
    old_events, new_events = expired // per, fresh // per
    data = json.dumps({"lead_id": 1, "email": "person@example.com", "first_name": "Ada", "score": 50})
    log(f"Filling {old_events + new_events} outbox events")
    # Old events are spread over days 31-60 back, fresh ones over the last 30 days, in id order as in life.
    cursor.execute(
        """
        INSERT INTO cursive_outboxevent (public_id, workspace_id, type, data, created_at, dispatched_at)
        SELECT 'msg_bench_' || g, %(ws)s, 'lead.created', %(data)s::jsonb, t, t
        FROM generate_series(1, %(total)s) g,
             LATERAL (SELECT CASE WHEN g <= %(old)s
                 THEN now() - interval '60 days' + (g::float / %(old)s) * interval '29 days'
                 ELSE now() - interval '30 days' + ((g - %(old)s)::float / %(new)s) * interval '30 days' END AS t) at
        """,
        {"ws": workspace_id, "data": data, "total": old_events + new_events, "old": old_events, "new": max(new_events, 1)},
    )
    log(f"Filling {(old_events + new_events) * per} webhook deliveries")
    cursor.execute(
        """
        INSERT INTO webhooks_delivery (endpoint_id, event_id, status, attempts, next_attempt_at, response_status,
                                       response_body, error, duration_ms, created_at, last_attempt_at)
        SELECT e.endpoint_id, o.id,
               CASE WHEN o.created_at < now() - interval '30 days' AND (o.id + e.n) %% 100 = 0 THEN 'pending'
                    WHEN (o.id + e.n) %% 50 = 1 THEN 'failed' ELSE 'succeeded' END,
               1, NULL, 200, '{"ok":true}', '', 12, o.created_at, o.created_at
        FROM cursive_outboxevent o CROSS JOIN unnest(%s::bigint[]) WITH ORDINALITY AS e(endpoint_id, n)
        """,
        [endpoint_ids],
    )
    log(f"Filling {jobs + jobs // 5} jobs")
    cursor.execute(
        """
        INSERT INTO cursive_job (func, kwargs, status, attempts, max_attempts, last_error, next_attempt_at,
                                 started_at, finished_at, created_at, updated_at)
        SELECT 'accounts.tasks.send_receipt', jsonb_build_object('purchase_id', g),
               CASE WHEN g > %(old)s AND g %% 10 = 0 THEN 'pending' ELSE 'succeeded' END, 1, 4, '', t, t,
               CASE WHEN g > %(old)s AND g %% 10 = 0 THEN NULL ELSE t END, t, t
        FROM generate_series(1, %(total)s) g,
             LATERAL (SELECT CASE WHEN g <= %(old)s
                 THEN now() - interval '60 days' + (g::float / %(old)s) * interval '45 days'
                 ELSE now() - interval '14 days' + ((g - %(old)s)::float / %(new)s) * interval '14 days' END AS t) at
        """,
        {"old": jobs, "new": max(jobs // 5, 1), "total": jobs + jobs // 5},
    )
    log(f"Filling {pixel_events} pixel events in an expired month")
    partitions.create_partition(cursor, partitions.add_months(partitions.month_start(timezone.now()), -15))
    cursor.execute(
        """
        INSERT INTO visitors_event (received_at, pixel_id, visitor_id, type, url, referrer, title)
        SELECT date_trunc('month', now()) - interval '15 months' + (g::float / %(n)s) * interval '27 days',
               1, g %% 50000, 'pageview', 'https://shop.example/p/' || g %% 2000, 'https://google.com/', 'A page'
        FROM generate_series(1, %(n)s) g
        """,
        {"n": pixel_events},
    )
    for table in TABLES:
        cursor.execute(f"VACUUM ANALYZE {table}")


def table_figures(cursor) -> dict:
    figures = {}
    for table in TABLES:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM {t}),
                   coalesce(sum(pg_relation_size(c.oid)), 0), coalesce(sum(pg_indexes_size(c.oid)), 0)
            FROM pg_class c
            WHERE c.oid = %s::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)
            """.replace("{t}", table),
            [table, table],
        )
        rows, heap, indexes = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relname = %s OR relname LIKE %s",
            [table, f"{table}_y%"],
        )
        figures[table] = {
            "rows": rows,
            "table_mb": round(float(heap) / 2**20, 1),
            "indexes_mb": round(float(indexes) / 2**20, 1),
            "dead_tuples": int(cursor.fetchone()[0]),
        }
    return figures


class Load:
    """The writer, the reader and the lock sampler, each a thread with its own connection."""

    def __init__(self, database: dict, *, workspace_id: int, endpoint_ids: list[int], writer_rate: float):
        self.database, self.workspace_id, self.endpoint_ids = database, workspace_id, endpoint_ids
        self.interval = 1 / writer_rate
        self.phase = "baseline"
        self.stopping = threading.Event()
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.longest_lock_wait: dict[str, float] = {}
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=target, daemon=True) for target in (self._writer, self._reader, self._locks)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _record(self, kind: str, started: float):
        self.latency.setdefault((self.phase, kind), []).append((time.perf_counter() - started) * 1000)

    def _writer(self):
        with server_connection(self.database) as conn:
            n = 0
            while not self.stopping.is_set():
                began = time.perf_counter()
                try:
                    with conn.transaction():
                        event_id = conn.execute(
                            "INSERT INTO cursive_outboxevent (public_id, workspace_id, type, data, created_at, dispatched_at) "
                            "VALUES (%s, %s, 'lead.created', '{}'::jsonb, now(), now()) RETURNING id",
                            [f"msg_live_{os.getpid()}_{n}", self.workspace_id],
                        ).fetchone()[0]
                        conn.execute(
                            "INSERT INTO webhooks_delivery (endpoint_id, event_id, status, attempts, next_attempt_at, "
                            "response_body, error, created_at) SELECT e, %s, 'pending', 0, now(), '', '', now() "
                            "FROM unnest(%s::bigint[]) e",
                            [event_id, self.endpoint_ids],
                        )
                        conn.execute(
                            "UPDATE webhooks_delivery SET status = 'succeeded', attempts = 1, response_status = 200, "
                            "last_attempt_at = now() WHERE event_id = %s AND endpoint_id = %s",
                            [event_id, self.endpoint_ids[n % len(self.endpoint_ids)]],
                        )
                        conn.execute(
                            "INSERT INTO visitors_event (received_at, pixel_id, visitor_id, type, url) "
                            "VALUES (now(), 1, %s, 'pageview', 'https://shop.example/')",
                            [n],
                        )
                except Exception as error:  # noqa: BLE001 - a failed write is a finding to report, not a crash
                    self.errors.append(f"writer: {error}")
                self._record("write", began)
                n += 1
                time.sleep(max(0.0, self.interval - (time.perf_counter() - began)))

    def _reader(self):
        with server_connection(self.database) as conn:
            n = 0
            while not self.stopping.is_set():
                endpoint_id = self.endpoint_ids[n % len(self.endpoint_ids)]
                began = time.perf_counter()
                conn.execute(
                    "SELECT id, event_id, status, response_status, created_at FROM webhooks_delivery "
                    "WHERE endpoint_id = %s ORDER BY id DESC LIMIT 50",
                    [endpoint_id],
                ).fetchall()
                self._record("read_log", began)
                began = time.perf_counter()
                conn.execute(
                    "SELECT count(*) FROM webhooks_delivery WHERE endpoint_id = %s AND status = 'pending'", [endpoint_id]
                ).fetchone()
                self._record("read_pending", began)
                n += 1
                time.sleep(0.02)

    def _locks(self):
        with server_connection(self.database) as conn:
            while not self.stopping.is_set():
                waited = conn.execute(
                    "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - a.query_start)), 0) "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted"
                ).fetchone()[0]
                self.longest_lock_wait[self.phase] = max(self.longest_lock_wait.get(self.phase, 0.0), float(waited) * 1000)
                time.sleep(0.05)

    def summary(self) -> dict:
        return {
            phase: {
                **{kind: latency_summary(values) for (p, kind), values in self.latency.items() if p == phase},
                "longest_lock_wait_ms": round(self.longest_lock_wait.get(phase, 0.0), 1),
            }
            for phase in ("baseline", "cleanup")
        }


class PlanSampler:
    """Runs chosen batch selects of the cleanup under EXPLAIN (ANALYZE, BUFFERS) just before they run."""

    def __init__(self, wanted: dict[str, set[int]]):
        self.wanted, self.seen, self.plans, self.rule = wanted, {}, {}, None

    def __call__(self, execute, sql, params, many, context):
        if self.rule and "SKIP LOCKED" in sql and not sql.startswith("EXPLAIN"):
            n = self.seen[self.rule] = self.seen.get(self.rule, 0) + 1
            if n in self.wanted.get(self.rule, ()):
                cursor = context["cursor"]
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]
                self.plans[f"{self.rule} batch {n}"] = _plan_summary(plan)
        return execute(sql, params, many, context)


PLAN_KEYS = ("Node Type", "Index Name", "Actual Rows", "Rows Removed by Filter", "Shared Hit Blocks", "Shared Read Blocks")


def _plan_summary(plan: dict) -> dict:
    nodes, stack = [], [plan["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(
            {
                key: node[key]
                for key in (
                    "Node Type",
                    "Index Name",
                    "Actual Rows",
                    "Rows Removed by Filter",
                    "Shared Hit Blocks",
                    "Shared Read Blocks",
                )
                if key in node
            }
        )
        stack.extend(reversed(node.get("Plans", [])))
    return {"execution_ms": plan["Execution Time"], "nodes": nodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--expired", type=int, default=5_000_000, help="expired webhook deliveries")
    parser.add_argument("--fresh", type=int, default=1_000_000, help="webhook deliveries within retention")
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=500_000, help="expired succeeded jobs")
    parser.add_argument("--pixel-events", type=int, default=1_000_000, help="pixel events in an expired month")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--writer-rate", type=float, default=100.0, help="writer transactions per second")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()

    with scratch_database(SCRATCH_DATABASE) as original:
        from django.conf import settings
        from django.db import connection

        from accounts.services import user_create, workspace_create
        from cursive import retention
        from webhooks.models import Endpoint

        settings.RETENTION_BATCH_SIZE = args.batch_size
        scratch = {**original, "NAME": SCRATCH_DATABASE}
        owner = user_create(email="owner@bench-retention.test", password="bench-password-correct-9", full_name="Bench")
        workspace = workspace_create(name="Bench Retention", owner=owner)
        endpoint_ids = [
            Endpoint.objects.create(workspace=workspace, url=f"https://hooks.example/{n}").pk for n in range(args.endpoints)
        ]
        fill_started = time.perf_counter()
        with connection.cursor() as cursor:
            fill(
                cursor,
                workspace_id=workspace.pk,
                endpoint_ids=endpoint_ids,
                expired=args.expired,
                fresh=args.fresh,
                jobs=args.jobs,
                pixel_events=args.pixel_events,
            )
            fill_seconds = time.perf_counter() - fill_started
            before = table_figures(cursor)
        log(f"Filled in {fill_seconds:.0f} s: {before}")

        load = Load(scratch, workspace_id=workspace.pk, endpoint_ids=endpoint_ids, writer_rate=args.writer_rate)
        load.start()
        time.sleep(args.baseline_seconds)
        load.phase = "cleanup"
        middle = max(2, args.expired // args.batch_size // 2)
        sampler = PlanSampler({"webhook deliveries": {1, middle}, "outbox events": {1}, "succeeded jobs": {1}})
        rules = {}
        cleanup_started = time.perf_counter()
        with connection.execute_wrapper(sampler):
            for name in RULES:
                sampler.rule = name
                began = time.perf_counter()
                removed = retention.rule_apply(name=name)
                seconds = time.perf_counter() - began
                rules[name] = {
                    "removed": removed,
                    "seconds": round(seconds, 2),
                    "per_second": round(removed / seconds) if seconds else None,
                }
                log(f"  {name}: {rules[name]}")
        cleanup_seconds = time.perf_counter() - cleanup_started
        load.phase = "after"
        load.stop()

        with connection.cursor() as cursor:
            # The statistics collector reports dead tuples a moment after the transactions that made them.
            time.sleep(2)
            after_cleanup = table_figures(cursor)
            vacuum_started = time.perf_counter()
            for table in TABLES:
                cursor.execute(f"VACUUM {table}")
            vacuum_seconds = time.perf_counter() - vacuum_started
            time.sleep(2)
            after_vacuum = table_figures(cursor)
            cursor.execute(
                "SELECT relname, autovacuum_count, last_autovacuum FROM pg_stat_user_tables WHERE relname = ANY(%s)", [TABLES]
            )
            autovacuum = {name: {"runs": count, "last": str(last) if last else None} for name, count, last in cursor.fetchall()}
            # No bloat: as many new deliveries as went fit in the space VACUUM freed, so the table does not grow.
            deleted = rules["webhook deliveries"]["removed"]
            log(f"Refilling {deleted} webhook deliveries")
            cursor.execute(
                """
                WITH event AS (
                    INSERT INTO cursive_outboxevent (public_id, workspace_id, type, data, created_at, dispatched_at)
                    SELECT 'msg_refill_' || g, %s, 'lead.created', '{}'::jsonb, now(), now() FROM generate_series(1, %s) g
                    RETURNING id
                )
                INSERT INTO webhooks_delivery (endpoint_id, event_id, status, attempts, response_body, error, created_at)
                SELECT e, event.id, 'succeeded', 1, '', '', now() FROM event, unnest(%s::bigint[]) e
                """,
                [workspace.pk, deleted // len(endpoint_ids), endpoint_ids],
            )
            cursor.execute("ANALYZE webhooks_delivery")
            after_refill = table_figures(cursor)["webhooks_delivery"]

        removed = sum(rule["removed"] for name, rule in rules.items() if name != "pixel event partitions")
        result = {
            "rows_deleted_per_second": round(
                removed / sum(r["seconds"] for n, r in rules.items() if n != "pixel event partitions")
            ),
            "longest_lock_wait_ms_during_cleanup": load.summary()["cleanup"]["longest_lock_wait_ms"],
            "slowest_concurrent_write_ms_during_cleanup": load.summary()["cleanup"].get("write", {}).get("max"),
            "rules": rules,
            "cleanup_seconds": round(cleanup_seconds, 1),
            "batch_size": args.batch_size,
            "concurrent": load.summary(),
            "writer_errors": load.errors[:5],
            "tables": {"before": before, "after_cleanup": after_cleanup, "after_vacuum": after_vacuum},
            "deliveries_after_refilling_what_was_deleted": after_refill,
            "vacuum_seconds": round(vacuum_seconds, 1),
            "autovacuum_during_run": autovacuum,
            "plans": sampler.plans,
            "fill_seconds": round(fill_seconds, 1),
            "postgres": server_version(original),
        }
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    result["run"] = run_context(load_before)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
