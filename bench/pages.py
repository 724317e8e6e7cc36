"""Server time of the dashboard's heaviest pages for a big workspace, in a scratch database.

    .venv/bin/python bench/pages.py [--leads 100000] [--other-leads 50000] [--listings 100000] [--days 365] [--requests 30]

Creates `cursive_bench_pages` on the project's database server (dropping a leftover one first), migrates it and
builds one buyer workspace with:

  * `--leads` leads (INSERT ... SELECT generate_series): distinct dedup hashes, five sources, a mix of statuses,
    industries, company sizes, verified emails and tags, created_at spread evenly over the last `--days` days,
    then scored by the real `leads_rescore` against an ideal customer profile set through the real service;
  * a year of credits history, ~3 ledger rows a day: 3 segment pulls a day (real SegmentRun rows, 5-25 people,
    1 credit each) and a 2,500-credit package bought every 30 days (real completed CreditPurchase rows), the
    ledger written by one INSERT ... SELECT with running `balance_after` values and the account's balance set to
    the ledger's sum, so `check_consistency` has no findings (it is run and reported);

plus `--other-leads` leads in a second workspace, so that every query has to pick its workspace's rows out of a
shared table, and `--listings` marketplace listings (INSERT ... SELECT generate_series) from two partners and the
house: 90% available, 10% withdrawn (never on sale again: kept by the table, skipped by the browse), listed over
the last `--days` days, for the browse page (default and filtered), which the bench's buyer sees as any buyer
does. Then `analytics_rollup(days=None)` (timed, like the nightly job) and `analytics_rollup(days=2)` (the
every-few-minutes one).

Server time is the wall time of one `django.test.Client().get()` in this process, logged in as the workspace's
owner: the whole Django stack (WSGI handler, every middleware, the view, its queries against PostgreSQL over a
local socket, template rendering), without HTTP parsing, network or browser rendering. DEBUG is off, connections
are persistent (CONN_MAX_AGE), the cached template loader is on, as in production. The pages are requested
round-robin (3 warm-up rounds, then `--requests` measured rounds); afterwards one more request per page runs under
CaptureQueriesContext to count its queries and name the slowest one, and for a page slower than `--slow-ms` at
p50 that query's EXPLAIN (ANALYZE, BUFFERS) is included.

One JSON object goes to stdout; progress to stderr. The scratch database is dropped at the end: the dev data is
never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from scratch import log, percentile, scratch_database, server_version

os.environ.setdefault("DEBUG", "false")  # production-like: no query log kept in memory on every request

SCRATCH_DATABASE = "cursive_bench_pages"
PASSWORD = "bench-password-correct-9"
TAG = "q4-hot"

# name -> path. The My Leads default is the full page (no htmx): filters sidebar, counts, first 50 rows.
PAGES = {
    "my_leads": "/leads/",
    "my_leads_filtered": "/leads/?source=database&status=new&score_min=40&sort=-created",
    "my_leads_tag": f"/leads/?tag={TAG}",
    "my_leads_two_filters_tag": f"/leads/?source=database&status=new&tag={TAG}&sort=-score",
    "analytics_30": "/analytics/?period=30",
    "analytics_90": "/analytics/?period=90",
    "dashboard": "/",
    "market_browse": "/marketplace/",
    "market_browse_filtered": "/marketplace/?industry=SaaS&state=CA&quality_min=60",
    "market_browse_price": "/marketplace/?industry=Fintech&has_phone=true&sort=price",
}

# One INSERT for all the leads of a workspace. i runs 1..n; the spreads come from cheap integer hashes of i.
_LEADS = """
INSERT INTO leads_lead (
    workspace_id, first_name, last_name, email, phone, title, seniority, company_name, company_domain, company_size,
    industry, city, state, zip, country, linkedin_url, source, status, email_status, phone_status, score, tags,
    dedup_hash, source_detail, pages_viewed, seconds_on_site, created_by_id, created_at, updated_at)
SELECT %(workspace)s,
       (ARRAY['Ava','Liam','Noah','Emma','Mia','Lucas','Zoe','Omar','Priya','Chen','Sofia','Mateo'])[1 + i %% 12],
       (ARRAY['Smith','Garcia','Nguyen','Patel','Kim','Okafor','Rossi','Larsen','Cohen','Silva'])[1 + (i / 12) %% 10],
       'lead' || i || '@company' || (i %% 9973) || '.example',
       CASE WHEN i %% 3 = 0 THEN '+1415555' || lpad((i %% 10000)::text, 4, '0') ELSE '' END,
       (ARRAY['VP of Sales','Head of Growth','CTO','Sales Manager','Account Executive','CFO','RevOps Lead',
              'Marketing Director'])[1 + (i / 7) %% 8],
       (ARRAY['vp','director','c_level','manager','senior','c_level','senior','director'])[1 + (i / 7) %% 8],
       'Company ' || (i %% 9973), 'company' || (i %% 9973) || '.example',
       (ARRAY['1-10','11-50','51-200','201-500','501-1000','1001-5000','5001+'])[1 + (i * 5) %% 7],
       (ARRAY['SaaS','Fintech','Healthcare','Logistics','Retail','Manufacturing','Education','Media'])[1 + (i * 3) %% 8],
       (ARRAY['San Francisco','New York','Austin','Chicago','Boston','Denver'])[1 + i %% 6],
       (ARRAY['CA','NY','TX','IL','MA','CO'])[1 + i %% 6], '', 'US',
       CASE WHEN i %% 4 = 0 THEN 'https://www.linkedin.com/in/lead-' || i ELSE '' END,
       CASE WHEN (i * 31) %% 100 < 45 THEN 'database' WHEN (i * 31) %% 100 < 65 THEN 'marketplace'
            WHEN (i * 31) %% 100 < 80 THEN 'partner_upload' WHEN (i * 31) %% 100 < 95 THEN 'pixel' ELSE 'manual' END,
       CASE WHEN (i * 17) %% 100 < 70 THEN 'new' WHEN (i * 17) %% 100 < 85 THEN 'contacted'
            WHEN (i * 17) %% 100 < 93 THEN 'qualified' WHEN (i * 17) %% 100 < 98 THEN 'unqualified' ELSE 'customer' END,
       CASE WHEN (i * 13) %% 10 < 3 THEN 'valid' WHEN (i * 13) %% 10 = 3 THEN 'invalid' ELSE 'unknown' END,
       CASE WHEN i %% 3 = 0 AND i %% 5 = 0 THEN 'valid' ELSE 'unknown' END,
       0,
       CASE WHEN i %% 97 = 0 THEN ARRAY[%(tag)s, 'enterprise']::varchar(50)[]
            WHEN i %% 20 = 0 THEN ARRAY[%(tag)s]::varchar(50)[]
            WHEN i %% 13 = 0 THEN ARRAY['follow-up']::varchar(50)[]
            ELSE '{}'::varchar(50)[] END,
       encode(sha256(('bench-' || %(workspace)s || '-' || i)::bytea), 'hex'),
       '', CASE WHEN (i * 31) %% 100 BETWEEN 80 AND 94 THEN i %% 9 ELSE 0 END,
       CASE WHEN (i * 31) %% 100 BETWEEN 80 AND 94 THEN (i * 7) %% 400 ELSE 0 END,
       NULL, ts, ts
FROM (SELECT i, now() - ((i::bigint * 7919) %% (%(days)s * 86400)) * interval '1 second' AS ts
      FROM generate_series(1, %(n)s) AS i) AS g
"""
# One INSERT for all the listings; i runs 1..n. Partners take turns with the house (no partner) by i % 3.
_LISTINGS = """
INSERT INTO marketplace_listing (
    first_name, last_name, email, phone, title, seniority, company_name, company_domain, company_size, industry, city,
    state, zip, country, linkedin_url, partner_id, revenue_share_percent, price, quality, status, has_phone,
    has_linkedin, email_verified, dedup_hash, reserved_by_id, reserved_until, buyer_id, sold_at, listed_at)
SELECT (ARRAY['Ava','Liam','Noah','Emma','Mia','Lucas','Zoe','Omar','Priya','Chen','Sofia','Mateo'])[1 + i %% 12],
       (ARRAY['Smith','Garcia','Nguyen','Patel','Kim','Okafor','Rossi','Larsen','Cohen','Silva'])[1 + (i / 12) %% 10],
       'listing' || i || '@firm' || (i %% 7919) || '.example',
       CASE WHEN i %% 3 = 0 THEN '+1212555' || lpad((i %% 10000)::text, 4, '0') ELSE '' END,
       (ARRAY['VP of Sales','Head of Growth','CTO','Sales Manager','Account Executive','CFO','RevOps Lead',
              'Marketing Director'])[1 + (i / 7) %% 8],
       (ARRAY['vp','director','c_level','manager','senior','c_level','senior','director'])[1 + (i / 7) %% 8],
       'Firm ' || (i %% 7919), 'firm' || (i %% 7919) || '.example',
       (ARRAY['1-10','11-50','51-200','201-500','501-1000','1001-5000','5001+'])[1 + (i * 5) %% 7],
       (ARRAY['SaaS','Fintech','Healthcare','Logistics','Retail','Manufacturing','Education','Media'])[1 + (i * 3) %% 8],
       (ARRAY['San Francisco','New York','Austin','Chicago','Boston','Denver','Miami','Seattle'])[1 + i %% 8],
       (ARRAY['CA','NY','TX','IL','MA','CO','FL','WA'])[1 + i %% 8], '', 'US',
       CASE WHEN i %% 4 = 0 THEN 'https://www.linkedin.com/in/listing-' || i ELSE '' END,
       (ARRAY[%(partner_a)s, %(partner_b)s, NULL])[1 + i %% 3], 70, 2 + (i * 7) %% 19, (i * 37) %% 101,
       status, i %% 3 = 0, i %% 4 = 0, (i * 13) %% 10 < 4,
       encode(sha256(('bench-listing-' || i)::bytea), 'hex'), NULL, NULL, NULL, NULL, ts
FROM (SELECT i, now() - ((i::bigint * 6007) %% (%(days)s * 86400)) * interval '1 second' AS ts,
             CASE WHEN (i * 29) %% 100 < 90 THEN 'available' ELSE 'withdrawn' END AS status
      FROM generate_series(1, %(n)s) AS i) AS g
"""
_SOURCE_DETAIL = """
UPDATE leads_lead SET source_detail = CASE source
    WHEN 'database' THEN 'segment “Bench ICP”' WHEN 'marketplace' THEN 'purchase LP-' || (id %% 500)
    WHEN 'partner_upload' THEN 'upload #' || (id %% 40) WHEN 'pixel' THEN 'your website' ELSE '' END
WHERE workspace_id = %(workspace)s
"""
# 3 pulls a day for `days` days, the last one yesterday or earlier today (never in the future).
_SEGMENT_RUNS = """
INSERT INTO segments_segmentrun (segment_id, mode, count, requested, pulled, skipped_owned, credits_charged, actor_id,
                                 created_at)
SELECT %(segment)s, 'pull', NULL, 25, p, 25 - p, p * %(price)s, %(actor)s, ts
FROM (SELECT 5 + (n * 7) %% 21 AS p,
             now() - %(days)s * interval '1 day' + (n / 3) * interval '1 day' + (1 + (n %% 3) * 5) * interval '1 hour'
             AS ts
      FROM generate_series(0, %(days)s * 3 - 1) AS n) AS g
"""
# A 2,500-credit package every 30 days, the first one an hour before the first pull.
_CREDIT_PURCHASES = """
INSERT INTO credits_creditpurchase (workspace_id, package_id, credits, price_cents, status, origin, checkout_session_id,
    checkout_url, payment_intent_id, paid_cents, refunded_cents, needs_review, review_note, created_by_id, created_at,
    completed_at, closed_at)
SELECT %(workspace)s, %(package)s, 2500, 99900, 'complete', 'checkout', 'cs_bench_' || k, '', 'pi_bench_' || k, 99900, 0,
       false, '', %(actor)s, ts - interval '2 minutes', ts, ts
FROM (SELECT k, now() - %(days)s * interval '1 day' + k * 30 * interval '1 day' AS ts
      FROM generate_series(0, (%(days)s - 1) / 30) AS k) AS g
"""
# The ledger, in time order, with each row's running balance; ids follow created_at.
_LEDGER = """
INSERT INTO credits_credittransaction (account_id, kind, amount, balance_after, reference, reason, actor_id,
                                       created_at)
SELECT %(account)s, kind, amount, SUM(amount) OVER (ORDER BY created_at, reference), reference, reason, %(actor)s,
       created_at
FROM (SELECT 'purchase' AS kind, credits AS amount, 'credit_purchase:' || id AS reference,
             'Growth package' AS reason, completed_at AS created_at
      FROM credits_creditpurchase WHERE workspace_id = %(workspace)s
      UNION ALL
      SELECT 'spend', -r.credits_charged, 'segment_run:' || r.id, r.pulled || ' people from segment “Bench ICP”',
             r.created_at
      FROM segments_segmentrun r WHERE r.segment_id = %(segment)s AND r.pulled > 0) AS events
ORDER BY created_at, reference
"""


def timed(label: str, func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    seconds = time.perf_counter() - started
    log(f"  {label}: {seconds:.2f} s")
    return result, round(seconds, 3)


def insert_leads(cursor, *, workspace_id: int, count: int, days: int) -> None:
    cursor.execute(_LEADS, {"workspace": workspace_id, "n": count, "days": days, "tag": TAG})
    cursor.execute(_SOURCE_DETAIL, {"workspace": workspace_id})


def build(args) -> dict:
    """The bench workspace, its leads and its year of ledger history; returns what was built and how long it took."""
    from django.conf import settings
    from django.db import connection, transaction

    from accounts.models import Workspace
    from accounts.services import user_create, workspace_create
    from credits.models import CreditAccount, CreditPackage
    from leads.services import ideal_customer_profile_update, leads_rescore
    from segments.services import segment_create

    setup: dict = {}
    owner = user_create(email="owner@bench-pages.test", password=PASSWORD, full_name="Bench Owner")
    workspace = workspace_create(name="Bench Pages Co", owner=owner)
    other_owner = user_create(email="other@bench-pages.test", password=PASSWORD, full_name="Other Owner")
    other = workspace_create(name="Other Tenant", owner=other_owner)
    partners = [
        workspace_create(name=f"Bench Partner {letter}", owner=other_owner, kind=Workspace.Kind.PARTNER) for letter in "AB"
    ]
    segment = segment_create(workspace=workspace, name="Bench ICP", filters={}, created_by=owner)
    package = CreditPackage.objects.filter(active=True).order_by("-credits").first()
    account = CreditAccount.objects.create(workspace=workspace)

    with transaction.atomic(), connection.cursor() as cursor:
        log(f"Inserting {args.leads:,} leads (+{args.other_leads:,} in another workspace)")
        _, setup["insert_leads_seconds"] = timed(
            "leads", insert_leads, cursor, workspace_id=workspace.pk, count=args.leads, days=args.days
        )
        if args.other_leads:
            insert_leads(cursor, workspace_id=other.pk, count=args.other_leads, days=args.days)
        if args.listings:
            log(f"Inserting {args.listings:,} marketplace listings")
            _, setup["insert_listings_seconds"] = timed(
                "listings",
                cursor.execute,
                _LISTINGS,
                {
                    "n": args.listings,
                    "days": args.days,
                    "partner_a": partners[0].pk,
                    "partner_b": partners[1].pk,
                },
            )
        log(f"Writing {args.days} days of ledger history")
        started = time.perf_counter()
        cursor.execute(
            _SEGMENT_RUNS, {"segment": segment.pk, "price": settings.SEGMENT_PULL_PRICE, "actor": owner.pk, "days": args.days}
        )
        cursor.execute(
            _CREDIT_PURCHASES, {"workspace": workspace.pk, "package": package.pk, "actor": owner.pk, "days": args.days}
        )
        cursor.execute(_LEDGER, {"account": account.pk, "workspace": workspace.pk, "segment": segment.pk, "actor": owner.pk})
        setup["ledger_rows"] = cursor.rowcount
        cursor.execute(
            """UPDATE credits_creditaccount SET balance = (SELECT SUM(amount) FROM credits_credittransaction
                          WHERE account_id = %(account)s) WHERE id = %(account)s""",
            {"account": account.pk},
        )
        cursor.execute(
            """UPDATE segments_segment SET last_run = (SELECT MAX(created_at) FROM segments_segmentrun
                          WHERE segment_id = %(segment)s) WHERE id = %(segment)s""",
            {"segment": segment.pk},
        )
        setup["ledger_seconds"] = round(time.perf_counter() - started, 3)
        log(f"  {setup['ledger_rows']:,} ledger rows: {setup['ledger_seconds']:.2f} s")

    # Scores through the real code: an ideal customer profile (its re-score job is only queued here), then the
    # set-based re-score the job would run.
    ideal_customer_profile_update(workspace=workspace, company_sizes=["51-200", "201-500"], industries=["SaaS", "Fintech"])
    log("Scoring the leads (leads_rescore)")
    _, setup["rescore_seconds"] = timed("leads_rescore", leads_rescore, workspace=workspace)
    # The nightly pass over the same leads: only those crossing a recency boundary change (none, minutes later).
    setup["rescore_again_changed"], setup["rescore_again_seconds"] = timed(
        "leads_rescore again (nightly, nothing to change)", leads_rescore, workspace=workspace
    )
    leads_rescore(workspace=other)
    with connection.cursor() as cursor:
        log("VACUUM ANALYZE (what autovacuum would have done by now)")
        for table in (
            "leads_lead",
            "credits_credittransaction",
            "credits_creditpurchase",
            "segments_segmentrun",
            "credits_creditaccount",
            "segments_segment",
            "marketplace_listing",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(
            "SELECT count(*), min(created_at), max(created_at) FROM leads_lead WHERE workspace_id = %s", [workspace.pk]
        )
        leads, first, last = cursor.fetchone()
        cursor.execute(
            "SELECT source, count(*) FROM leads_lead WHERE workspace_id = %s GROUP BY 1 ORDER BY 2 DESC", [workspace.pk]
        )
        by_source = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM leads_lead WHERE workspace_id = %s AND tags @> ARRAY[%s]::varchar(50)[]", [workspace.pk, TAG]
        )
        tagged = cursor.fetchone()[0]
        cursor.execute(
            "SELECT min(score), percentile_disc(0.5) WITHIN GROUP (ORDER BY score), max(score) "
            "FROM leads_lead WHERE workspace_id = %s",
            [workspace.pk],
        )
        score_min, score_median, score_max = cursor.fetchone()
        cursor.execute("SELECT balance FROM credits_creditaccount WHERE id = %s", [account.pk])
        balance = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('leads_lead'))")
        table_size = cursor.fetchone()[0]
        cursor.execute("SELECT status, count(*) FROM marketplace_listing GROUP BY 1 ORDER BY 2 DESC")
        listings_by_status = dict(cursor.fetchall())
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('marketplace_listing'))")
        listings_size = cursor.fetchone()[0]
    setup.update(
        {
            "workspace_leads": leads,
            "other_workspace_leads": args.other_leads,
            "leads_by_source": by_source,
            f"leads_tagged_{TAG}": tagged,
            "lead_scores": {"min": score_min, "median": score_median, "max": score_max},
            "leads_created_between": [first.isoformat(), last.isoformat()],
            "leads_table_size": table_size,
            "listings_by_status": listings_by_status,
            "listings_table_size": listings_size,
            "balance": str(balance),
        }
    )
    return {"setup": setup, "owner": owner, "workspace": workspace}


def measure(client, *, warmup: int, rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in PAGES}
    for round_number in range(warmup + rounds):
        for name, path in PAGES.items():
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
            if round_number >= warmup:
                timings[name].append(elapsed * 1000)
        if round_number + 1 == warmup:
            log(f"Warmed up ({warmup} rounds); measuring {rounds} rounds")
        elif round_number >= warmup and (round_number - warmup + 1) % 10 == 0:
            log(f"  {round_number - warmup + 1}/{rounds} rounds")
    return timings


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [row[0] for row in cursor.fetchall()]


def queries_of(client, path: str, *, with_plan: bool) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    queries = [(float(query["time"]) * 1000, query["sql"]) for query in captured.captured_queries]
    slowest = sorted(queries, key=lambda query: -query[0])
    result = {
        "count": len(queries),
        "total_ms": round(sum(ms for ms, _ in queries), 2),
        "slowest": [{"ms": round(ms, 2), "sql": sql[:400]} for ms, sql in slowest[:3]],
    }
    if with_plan and slowest:
        result["slowest_plan"] = explain(slowest[0][1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--other-leads", type=int, default=50_000)
    parser.add_argument("--listings", type=int, default=100_000, help="marketplace listings (all workspaces)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=30, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per page")
    parser.add_argument("--slow-ms", type=float, default=300.0, help="p50 above which a page's slowest query is EXPLAINed")
    parser.add_argument("--explain-all", action="store_true", help="EXPLAIN every page's slowest query")
    args = parser.parse_args()

    # stdout carries the JSON only: anything else printed while running (an email backend, a warning) goes to stderr.
    stdout, sys.stdout = sys.stdout, sys.stderr

    from django.conf import settings

    with scratch_database(SCRATCH_DATABASE) as original:
        import logging
        import warnings

        from django.test import Client

        from analytics.services import analytics_rollup
        from cursive.consistency import run_checks
        from cursive.observability import request_stats

        # whitenoise looks for STATIC_ROOT, which exists only after collectstatic; the pages measured need no static files.
        warnings.filterwarnings("ignore", message="No directory at")
        # One access-log line per request would drown the progress lines (its cost is a few microseconds).
        logging.getLogger("cursive.access").setLevel(logging.WARNING)
        postgres = server_version(original)
        try:
            built = build(args)
            setup = built["setup"]

            log("analytics_rollup(days=None), the nightly full rollup")
            _, setup["rollup_all_seconds"] = timed("analytics_rollup(days=None)", analytics_rollup, days=None)
            _, setup["rollup_recent_seconds"] = timed("analytics_rollup(days=2)", analytics_rollup, days=2)
            findings = run_checks()
            setup["check_consistency_findings"] = [f"[{check}] {finding}" for check, finding in findings]
            log(f"check_consistency: {len(findings)} finding(s)")

            # django-axes records log-ins by client address, which force_login has none of; throttling is not measured.
            settings.AXES_ENABLED = False
            client = Client()
            client.force_login(built["owner"])
            timings = measure(client, warmup=args.warmup, rounds=args.requests)
            pages = {}
            for name, path in PAGES.items():
                values = sorted(timings[name])
                p50 = percentile(values, 0.50)
                pages[name] = {
                    "path": path,
                    "p50_ms": round(p50, 2),
                    "p95_ms": round(percentile(values, 0.95), 2),
                    "mean_ms": round(statistics.fmean(values), 2),
                    "min_ms": round(values[0], 2),
                    "max_ms": round(values[-1], 2),
                    "queries": queries_of(client, path, with_plan=args.explain_all or p50 > args.slow_ms),
                }
                log(
                    f"  {name:<18} p50 {p50:7.1f} ms  p95 {pages[name]['p95_ms']:7.1f} ms  "
                    f"{pages[name]['queries']['count']} queries, {pages[name]['queries']['total_ms']} ms in SQL"
                )
        finally:
            # The request statistics the middleware keeps in memory go to the scratch database now, not at exit.
            request_stats.flush()

    print(
        json.dumps(
            {
                "benchmark": "server time of My Leads, Analytics, the Dashboard and the marketplace browse for a big workspace",
                "server_time": "wall time of django.test.Client().get() in-process: middleware + view + SQL + templates; "
                "no HTTP, network or browser rendering",
                "debug": settings.DEBUG,
                "requests_per_page": args.requests,
                "warmup_per_page": args.warmup,
                "postgres": postgres,
                "cpu_count": os.cpu_count(),
                "setup": setup,
                "pages": pages,
                "slower_than_ms": {name: page["p50_ms"] for name, page in pages.items() if page["p50_ms"] > args.slow_ms},
            },
            default=str,
        ),
        file=stdout,
    )


if __name__ == "__main__":
    main()
