"""Read replicas: the replication lag a write sees, and what the read-your-writes rules cost a request.

    .venv/bin/python bench/replicas.py [--commits 300] [--calls 2000] [--requests 300] [--listings 500]

Creates `cursive_bench_replicas` on the project's database server (dropping a leftover one first), migrates it,
makes a real streaming replica of the server with pg_basebackup (tests/standby.py: a hot standby on a free port in
a temporary directory, stopped and deleted at the end) and registers it as the project's one replica (replica1).
Then:

  * lag: `--commits` one-row commits on the primary, one at a time; for each, the milliseconds from the commit's
    return until the row is visible on the replica (polled without pause);
  * decision: microseconds per `cursive.replicas.replica_alias()` (what an opted-in request pays once, at its first
    read), with the replica's status reused (REPLICA_STATUS_SECONDS=1, the default) or asked every time (0), for a
    workspace without a fence and one with a fence the replica has replayed; beside it, one `SELECT 1` on the
    primary, the price of a round trip;
  * fence: microseconds per `replica_fence()`, what a write request (POST/PUT/PATCH/DELETE) adds;
  * request: server time of `GET /api/v1/marketplace/leads` (a `--listings` marketplace, API key, the whole middleware
    stack) through django.test.Client, `--requests` each: without replicas, with the replica (no fence), and with a
    fence the replica has replayed.

One JSON object goes to stdout; progress to stderr. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from scratch import latency_summary, log, run_context, scratch_database, server_version

os.environ.setdefault("DEBUG", "false")

SCRATCH_DATABASE = "cursive_bench_replicas"
ALIAS = "replica1"


def _register(standby) -> None:
    import copy

    from django.db import connections

    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    connections.settings[ALIAS] = {**settings_dict, "PORT": standby.port}
    connections.configure_settings(connections.settings)


def _lag(standby, commits: int) -> dict:
    from django.db import connections
    from scratch import server_connection

    primary_settings = connections["default"].settings_dict
    waits = []
    with server_connection(primary_settings) as primary, standby.connect() as replica:
        primary.execute("CREATE TABLE bench_lag (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
        standby.catch_up()
        for _ in range(commits):
            row_id = primary.execute("INSERT INTO bench_lag DEFAULT VALUES RETURNING id").fetchone()[0]
            committed = time.perf_counter()
            while replica.execute("SELECT 1 FROM bench_lag WHERE id = %s", [row_id]).fetchone() is None:
                pass
            waits.append((time.perf_counter() - committed) * 1000)
    return latency_summary(waits)


def _per_call_us(call, calls: int) -> float:
    call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return round((time.perf_counter() - started) / calls * 1e6, 1)


def _decision(workspace, fenced_workspace, calls: int) -> dict:
    from django.conf import settings
    from django.db import connection

    from cursive import replicas

    def select_one():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    figures = {"select_1_on_primary_us": _per_call_us(select_one, calls)}
    for status_seconds in (1.0, 0.0):
        settings.REPLICA_STATUS_SECONDS = status_seconds
        replicas.forget_statuses()
        label = "status_reused" if status_seconds else "status_asked_every_call"
        for name, target in (("no_fence", workspace), ("fence_replayed", fenced_workspace)):
            assert replicas.replica_alias(workspace=target) == ALIAS, (label, name)
            figures[f"{label}_{name}_us"] = _per_call_us(lambda target=target: replicas.replica_alias(workspace=target), calls)
    settings.REPLICA_STATUS_SECONDS = 1.0
    return figures


def _requests(client, count: int) -> dict:
    for _ in range(5):
        assert client.get("/api/v1/marketplace/leads").status_code == 200
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/api/v1/marketplace/leads")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return latency_summary(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--listings", type=int, default=500)
    args = parser.parse_args()
    load_before = os.getloadavg()

    with scratch_database(SCRATCH_DATABASE) as original:
        from django.conf import settings
        from django.db import connections
        from django.test import Client

        from accounts.services import api_key_create, user_create, workspace_create
        from cursive import replicas
        from marketplace.services import listing_create
        from tests.standby import Standby

        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "reads": 10**9}
        user = user_create(email="owner@bench.test", password="bench-password-correct-9", full_name="Owner")
        workspace = workspace_create(name="Reader", owner=user)
        fenced = workspace_create(name="Writer", owner=user)
        partner = workspace_create(name="Partner", owner=user, kind="partner")
        _, raw_key = api_key_create(workspace=workspace, name="bench", created_by=user)
        for n in range(args.listings):
            data = {"first_name": f"Pat{n}", "last_name": "Lee", "email": f"pat{n}@lead{n}.example", "company_name": f"Co {n}"}
            listing_create(data={**data, "industry": "SaaS"}, price="5.00", quality=50 + n % 50, partner=partner)

        log("Making the streaming replica (pg_basebackup)")
        started = time.perf_counter()
        db = connections["default"].settings_dict
        host, port = db["HOST"] or "127.0.0.1", int(db["PORT"])
        standby = Standby(primary_host=host, primary_port=port, user=db["USER"], dbname=db["NAME"])
        made_seconds = time.perf_counter() - started
        try:
            _register(standby)
            settings.DATABASE_REPLICAS = [ALIAS]
            log("Measuring lag")
            lag = _lag(standby, args.commits)
            log("Measuring the fence and the decision")
            replicas.replica_fence(workspace_id=fenced.pk)
            fence_us = _per_call_us(lambda: replicas.replica_fence(workspace_id=fenced.pk), args.calls)
            standby.catch_up()
            decision = _decision(workspace, fenced, args.calls)

            log("Measuring requests")
            client = Client(HTTP_AUTHORIZATION=f"Token {raw_key}")
            settings.DATABASE_REPLICAS = []
            without = _requests(client, args.requests)
            settings.DATABASE_REPLICAS = [ALIAS]
            replicas.forget_statuses()
            with_replica = _requests(client, args.requests)
            api_key_fenced = api_key_create(workspace=fenced, name="bench", created_by=user)[1]
            replicas.replica_fence(workspace_id=fenced.pk)
            standby.catch_up()
            with_fence = _requests(Client(HTTP_AUTHORIZATION=f"Token {api_key_fenced}"), args.requests)
            with connections[ALIAS].cursor() as cursor:
                cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                size = cursor.fetchone()[0]
            connections[ALIAS].close()
        finally:
            standby.destroy()

    print(
        json.dumps(
            {
                "benchmark": "read replicas: replication lag, the read-your-writes decision and fence, a routed API read",
                "server_version": server_version(original),
                "standby_made_seconds": round(made_seconds, 2),
                "scratch_database_size": size,
                "lag_ms": lag,
                "fence_write_us": fence_us,
                "decision": decision,
                "get_marketplace_leads_ms": {
                    "without_replicas": without,
                    "replica_no_fence": with_replica,
                    "replica_fence_replayed": with_fence,
                },
                **run_context(load_before),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
