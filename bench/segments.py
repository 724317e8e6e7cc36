"""How fast Lead Search counts and segment pulls are over a big lead database, in a scratch database.

    .venv/bin/python bench/segments.py [--people 1000000 10000000] [--repetitions 15] [--warmups 2] [--pull 1000]

For each size N: creates `cursive_bench_segments` on the project's database
server (dropping a leftover one first), migrates it, fills it with
`manage.py seed_demo --people N --listed 0` (the real COPY loader), runs
`VACUUM ANALYZE leads_person` (so that the visibility map lets index-only
scans skip the heap), then measures:

  counts: p50/p95 of `segments.services.search_count(filters=...)` for typical
          filter combinations (after warm-ups), each with its count and the
          plan PostgreSQL picks for the count (top node, the scans and the
          indexes they use; one EXPLAIN ANALYZE for rows, heap fetches, buffers);
  pull:   `segments.services.segment_pull(limit=1000)` into freshly funded
          workspaces (first pulls), then a second pull of the same segment into
          the last one (the first 1,000 are owned and skipped), with the
          slowest queries of each pull.

One JSON object goes to stdout; progress to stderr. The scratch database is
dropped after each size: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from decimal import Decimal

from scratch import log, original_database, percentile, run_context, scratch_database, server_connection

SCRATCH_DATABASE = "cursive_bench_segments"

# Typical Lead Search filter combinations, over values the demo generator produces (leads/demo.py: INDUSTRIES,
# STATES with their cities, TITLES, SENIORITIES, SIZES).
COMBOS = {
    "saas_ca_51_200": {"industry": ["SaaS"], "state": ["CA"], "company_size": ["51-200"]},
    "vp_clevel_fintech_saas": {"seniority": ["vp", "c_level"], "industry": ["Fintech", "SaaS"]},
    "tx_austin_phone": {"state": ["TX"], "city": ["Austin"], "has_phone": True},
    "title_vp_sales_201_1000": {"title": "vp sales", "company_size": ["201-500", "501-1000"]},
    "healthcare_director_score60": {"industry": ["Healthcare"], "seniority": ["director"], "score_min": 60},
}
PULL_COMBO = "vp_clevel_fintech_saas"
SLOW_P50_MS = 100.0
PULL_PRICE_FUNDING = Decimal("100000.00")


def summary_ms(seconds: list[float]) -> dict:
    values = sorted(value * 1000 for value in seconds)
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "min": round(values[0], 3),
        "max": round(values[-1], 3),
        "mean": round(statistics.fmean(values), 3),
    }


# ---------------------------------------------------------------------------
# Plans


def captured_count_sql(filters: dict) -> tuple[str, tuple]:
    """The exact SQL and parameters search_count sends for these filters (seen by a connection wrapper)."""
    from django.db import connection

    from segments.services import search_count

    seen: list[tuple[str, tuple]] = []

    def wrapper(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        search_count(filters=filters)
    counts = [item for item in seen if "COUNT(" in item[0].upper()]
    if len(counts) != 1:
        raise RuntimeError(f"expected one COUNT query from search_count, saw {len(seen)} queries: {seen!r}")
    return counts[0]


def _walk(node: dict, depth: int = 0):
    yield depth, node
    for child in node.get("Plans", []):
        yield from _walk(child, depth + 1)


def _scan(node: dict) -> dict:
    scan = {"node": node["Node Type"]}
    for key, name in (
        ("Index Name", "index"),
        ("Index Cond", "index_cond"),
        ("Recheck Cond", "recheck_cond"),
        ("Filter", "filter"),
        ("Actual Rows", "actual_rows"),
        ("Rows Removed by Filter", "rows_removed_by_filter"),
        ("Heap Fetches", "heap_fetches"),
        ("Exact Heap Blocks", "exact_heap_blocks"),
        ("Lossy Heap Blocks", "lossy_heap_blocks"),
        ("Workers Launched", "workers_launched"),
    ):
        if key in node:
            scan[name] = node[key]
    return scan


def plan_of(filters: dict) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the real count query: its top node, the chain of nodes, the scans (with
    actual rows, rows removed by a filter, heap fetches) and the indexes they use."""
    from django.db import connection

    sql, params = captured_count_sql(filters)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        explained = _json(cursor.fetchone()[0])[0]
    plan = explained["Plan"]
    nodes = [node for _, node in _walk(plan)]
    scans = [_scan(node) for node in nodes if node["Node Type"].endswith("Scan")]
    indexes = sorted({node["Index Name"] for node in nodes if "Index Name" in node})
    chain = " > ".join(
        node["Node Type"]
        + (f" on {node['Index Name']}" if "Index Name" in node else "")
        + (f" ({node['Workers Planned']} workers)" if "Workers Planned" in node else "")
        for node in nodes
    )
    jit = explained.get("JIT")
    return {
        "top_node": plan["Node Type"],
        "plan": chain,
        "indexes_used": indexes,
        "served_by_index": bool(indexes) and not any(scan["node"].endswith("Seq Scan") for scan in scans),
        "index_only": bool(scans) and all(scan["node"] == "Index Only Scan" for scan in scans),
        "estimated_cost": plan["Total Cost"],
        "execution_ms": round(explained["Execution Time"], 3),
        "shared_hit_blocks": plan.get("Shared Hit Blocks"),
        "shared_read_blocks": plan.get("Shared Read Blocks"),
        "jit_ms": round(jit["Timing"]["Total"], 1) if jit else None,
        "scans": scans,
    }


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


# ---------------------------------------------------------------------------
# Measurements


def measure_counts(*, repetitions: int, warmups: int) -> dict:
    from segments.services import search_count

    results = {}
    for name, filters in COMBOS.items():
        for _ in range(warmups):
            search_count(filters=filters)
        timings, counts = [], set()
        for _ in range(repetitions):
            started = time.perf_counter()
            counts.add(search_count(filters=filters))
            timings.append(time.perf_counter() - started)
        if len(counts) != 1:
            raise RuntimeError(f"{name}: the count changed between runs: {sorted(counts)}")
        latency = summary_ms(timings)
        plan = plan_of(filters)
        results[name] = {
            "filters": filters,
            "count": counts.pop(),
            "latency_ms": latency,
            "slow": latency["p50"] > SLOW_P50_MS,
            "top_node": plan.pop("top_node"),
            "indexes_used": plan.pop("indexes_used"),
            "served_by_index": plan.pop("served_by_index"),
            "index_only": plan.pop("index_only"),
            "explain": plan,
        }
        log(
            f"  {name}: count {results[name]['count']:,}, p50 {latency['p50']} ms, p95 {latency['p95']} ms, "
            f"{results[name]['explain']['plan']}"
        )
    return results


def _pull_once(*, workspace, segment_id, actor, limit: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from segments.services import segment_pull

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        run = segment_pull(workspace=workspace, segment_id=segment_id, limit=limit, actor=actor)
        elapsed = time.perf_counter() - started
    slowest = sorted(queries.captured_queries, key=lambda query: -float(query["time"]))[:4]
    return {
        "seconds": round(elapsed, 3),
        "requested": run.requested,
        "pulled": run.pulled,
        "skipped_owned": run.skipped_owned,
        "credits_charged": str(run.credits_charged),
        "queries": len(queries.captured_queries),
        "slowest_queries": [{"ms": round(float(query["time"]) * 1000, 1), "sql": query["sql"][:240]} for query in slowest],
    }


class _RolledBack(Exception):
    pass


def walk_plans(*, workspace, segment_id, actor, limit: int) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of each batch of the walk a pull makes (segments.services._pull_candidates), in
    a pull that is rolled back afterwards: the nodes, the rows the walk read and dropped, and how many rows were
    sorted."""
    from django.db import connection, transaction

    from segments.services import segment_pull

    plans = []

    def wrapper(execute, sql, params, many, context):
        if 'AS "owned"' in sql and not sql.startswith("EXPLAIN"):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
                explained = _json(cursor.fetchone()[0])[0]
            nodes = [node for _, node in _walk(explained["Plan"])]
            chain = [node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else "") for node in nodes]
            plans.append(
                {
                    "plan": " > ".join(chain),
                    # A walk sorts at most its own batch (the rows it read back from the table), never every match.
                    "rows_sorted": max((node["Actual Rows"] for node in nodes if "Sort" in node["Node Type"]), default=0),
                    "rows_returned": explained["Plan"]["Actual Rows"],
                    "rows_removed_by_filter": sum(node.get("Rows Removed by Filter", 0) for node in nodes),
                    "shared_hit_blocks": explained["Plan"].get("Shared Hit Blocks"),
                    "shared_read_blocks": explained["Plan"].get("Shared Read Blocks"),
                    "execution_ms": round(explained["Execution Time"], 3),
                }
            )
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(wrapper), transaction.atomic():
            segment_pull(workspace=workspace, segment_id=segment_id, limit=limit, actor=actor)
            raise _RolledBack
    except _RolledBack:
        pass
    return plans


def measure_pull(*, limit: int, fresh_workspaces: int, label: str) -> dict:
    from django.db.models import Sum

    from accounts.services import user_create, workspace_create
    from credits.models import CreditAccount, CreditTransaction
    from credits.services import credits_grant
    from segments.services import segment_create

    filters = COMBOS[PULL_COMBO]
    first_pulls, workspace, owner, segment = [], None, None, None
    for n in range(fresh_workspaces):
        owner = user_create(email=f"bench-pull-{label}-{n}@bench.test", password="bench-password-correct-9")
        workspace = workspace_create(name=f"Bench pull {label} {n}", owner=owner)
        credits_grant(workspace=workspace, amount=PULL_PRICE_FUNDING, reference=f"bench:pull-{label}-{n}", reason="bench funding")
        segment = segment_create(workspace=workspace, name=f"Bench {PULL_COMBO}", filters=filters, created_by=owner)
        first_pulls.append(_pull_once(workspace=workspace, segment_id=segment.pk, actor=owner, limit=limit))
        log(f"  first pull {n + 1}/{fresh_workspaces}: {first_pulls[-1]['seconds']} s, {first_pulls[-1]['pulled']} pulled")
    second = _pull_once(workspace=workspace, segment_id=segment.pk, actor=owner, limit=limit)
    log(f"  second pull ({limit:,} owned): {second['seconds']} s, {second['pulled']} pulled, {second['skipped_owned']} skipped")
    account = CreditAccount.objects.get(workspace=workspace)
    ledger = CreditTransaction.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    first_seconds = [pull["seconds"] for pull in first_pulls]
    # The walks of a first pull (a fresh workspace) and of one more pull where the best matches are owned.
    fresh_owner = user_create(email=f"bench-pull-{label}-plan@bench.test", password="bench-password-correct-9")
    fresh = workspace_create(name=f"Bench pull {label} plan", owner=fresh_owner)
    credits_grant(workspace=fresh, amount=PULL_PRICE_FUNDING, reference=f"bench:pull-{label}-plan", reason="bench funding")
    fresh_segment = segment_create(workspace=fresh, name=f"Bench {PULL_COMBO}", filters=filters, created_by=fresh_owner)
    plans = {
        "first_pull": walk_plans(workspace=fresh, segment_id=fresh_segment.pk, actor=fresh_owner, limit=limit),
        "pull_with_owned": walk_plans(workspace=workspace, segment_id=segment.pk, actor=owner, limit=limit),
    }
    return {
        "segment_filters": filters,
        "limit": limit,
        "first_pull_seconds": {
            "median": round(statistics.median(first_seconds), 3),
            "p95": percentile(sorted(first_seconds), 0.95),
            "min": min(first_seconds),
            "max": max(first_seconds),
        },
        "first_pulls": first_pulls,
        "second_pull_same_workspace": second,
        "walk_plans": plans,
        "balance_equals_ledger_sum": account.balance == ledger,
    }


def table_sizes() -> dict:
    """The index budget: leads_person (heap and total) and each of its indexes, and the distinct-titles table that
    title searches read, in bytes and as PostgreSQL prints them."""
    from django.db import connection

    def size(relation_bytes: int) -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_size_pretty(%s::bigint)", [relation_bytes])
            return {"bytes": relation_bytes, "pretty": cursor.fetchone()[0]}

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT pg_total_relation_size('leads_person'), pg_relation_size('leads_person'),
                      pg_indexes_size('leads_person'), pg_total_relation_size('leads_persontitle'),
                      (SELECT count(*) FROM leads_persontitle)"""
        )
        total, heap, indexes_total, titles_total, titles = cursor.fetchone()
        cursor.execute("""SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index
                          WHERE indrelid = 'leads_person'::regclass ORDER BY 1""")
        indexes = cursor.fetchall()
    return {
        "table_total": size(total),
        "heap": size(heap),
        "indexes_total": size(indexes_total),
        "indexes": {name: size(index_bytes) for name, index_bytes in indexes},
        "person_titles": {**size(titles_total), "rows": titles},
    }


def run_size(people: int, *, args) -> dict:
    result: dict = {"people": people}
    try:
        with scratch_database(SCRATCH_DATABASE):
            _measure_size(people, args=args, result=result)
    except Exception as exc:  # reported in the JSON (and the exit status), never hidden
        log(f"[{people:,}] FAILED: {exc.__class__.__name__}: {exc}")
        result["error"] = f"{exc.__class__.__name__}: {exc}"
    return result


def _measure_size(people: int, *, args, result: dict) -> None:
    from django.core.management import call_command
    from django.db import connection

    from leads.models import Person

    log(f"[{people:,}] seed_demo --people {people} --listed 0")
    started = time.perf_counter()
    # seed_demo's summary goes to stderr with its progress: stdout carries only the JSON.
    call_command("seed_demo", people=people, listed=0, stdout=sys.stderr, stderr=sys.stderr)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_person")
    vacuum_seconds = time.perf_counter() - started
    stored = Person.objects.count()
    if stored != people:
        raise RuntimeError(f"seed_demo stored {stored:,} people, not {people:,}")
    result["load"] = {
        "seed_demo_seconds": round(load_seconds, 1),
        "vacuum_analyze_seconds": round(vacuum_seconds, 1),
        "people_per_second": round(people / load_seconds),
        **table_sizes(),
    }
    log(f"[{people:,}] loaded in {load_seconds:.1f} s, VACUUM ANALYZE {vacuum_seconds:.1f} s")

    log(f"[{people:,}] counts: {args.warmups} warm-ups + {args.repetitions} timed runs per combination")
    result["counts"] = measure_counts(repetitions=args.repetitions, warmups=args.warmups)
    log(f"[{people:,}] pulls of {args.pull:,}")
    result["pull"] = measure_pull(limit=args.pull, fresh_workspaces=args.pull_workspaces, label=str(people))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--pull", type=int, default=1000)
    parser.add_argument("--pull-workspaces", type=int, default=3, help="fresh workspaces, one first pull each")
    args = parser.parse_args()

    original = original_database()
    with server_connection(original) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        server_settings = dict(
            conn.execute(
                "SELECT name, setting || COALESCE(unit, '') FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'effective_cache_size', "
                "'random_page_cost', 'jit')"
            ).fetchall()
        )

    loadavg_before = os.getloadavg()
    sizes = [run_size(people, args=args) for people in args.people]
    slow = [
        {"people": size["people"], "combo": name, "p50_ms": combo["latency_ms"]["p50"], "plan": combo["explain"]["plan"]}
        for size in sizes
        for name, combo in size.get("counts", {}).items()
        if combo["slow"]
    ]
    print(
        json.dumps(
            {
                "benchmark": "Lead Search counts (search_count) and segment pulls (segment_pull) over the lead database",
                "repetitions": args.repetitions,
                "warmups": args.warmups,
                "slow_threshold_p50_ms": SLOW_P50_MS,
                "postgres": server_version,
                "postgres_settings": server_settings,
                "cpu_count": os.cpu_count(),
                "run": run_context(loadavg_before),
                "sizes": sizes,
                "slow_counts": slow,
            }
        )
    )
    if any("error" in size for size in sizes):
        sys.exit(1)


if __name__ == "__main__":
    main()
