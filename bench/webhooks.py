"""Outbound webhooks under load: deliveries per second from the outbox to a local receiver, the lag from commit to
delivery at a steady rate, and what pruning keeps, through the job cluster of `make run`.

    .venv/bin/python bench/webhooks.py [--rate 500] [--steady-seconds 20] [--backlog 20000]
                                       [--backlog-one-endpoint 10000] [--endpoints 8] [--workers 2] [--loops 2]
                                       [--prune-extra 100000] [--emitters 2] [--profile-events 5000]

Creates `cursive_bench_webhooks` on the project's database server (dropping a leftover one first), migrates it and
builds `--endpoints` workspaces with one webhook endpoint each (accounts.services.workspace_create,
webhooks.services.endpoint_create), all pointing at a receiver: an asyncio HTTP/1.1 server in a process of its own
that keeps connections alive, answers 200 at once and records when each `webhook-id` arrived (wall clock). Then it
starts what `make run` starts for jobs: ONE `manage.py qcluster` with Q_WORKERS=`--workers` and
WEBHOOK_DELIVERY_LOOPS=`--loops`, DATABASE_URL pointing at the scratch database, DEBUG off; the delivery loops are
woken by the commits, as in production (cursive.events -> webhooks.tasks.wake_deliverers).

  warm-up:   a few hundred events, delivered before anything is measured;
  steady:    events emitted through cursive.events.emit from `--emitters` processes at `--rate` per second for
             `--steady-seconds`, round-robin over the workspaces; each transaction holds the events due at that
             moment (one, while the emitter keeps up). Lag: from the commit (an on_commit hook registered before
             the emit, so it runs first) to the receiver's arrival: p50/p95/max, and any not delivered;
  backlog:   `--backlog` events committed in one transaction (emit_many in blocks of 25, round-robin over the
             workspaces), then the time until the receiver has them all -> deliveries/s; again with every event
             in one workspace (`--backlog-one-endpoint`), where per-endpoint order allows one sender at a time;
  profile:   the cluster stopped, `--profile-events` events committed, then one delivery loop
             (webhooks.tasks.deliver) run in this process under cProfile with its SQL timed: deliveries/s of one
             loop, SQL and Python milliseconds per delivery, the functions where the time goes;
  prune:     the backlog phases' deliveries and events are made 31 days old (created_at), `--prune-extra` more aged
             deliveries are added with INSERT ... SELECT, and the retention rules of deliveries and outbox events
             (cursive.retention) run here: rows before/after
             and the seconds it took.

During each phase: CPU seconds of the cluster (with its workers), the receiver, PostgreSQL, this process (the
emitter) and the machine, and how many delivery loops held their slot (sampled from pg_locks every 100 ms).

One JSON object goes to stdout; progress to stderr. The cluster and the receiver are stopped and the scratch
database dropped at the end, however the run ends: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from exports import free_port
from pixel import CpuMeter, postgres_postmaster_pid, process_ticks, start_cluster, stop, tail
from scratch import database_url, log, percentile, run_context, scratch_database, server_connection, server_version

SCRATCH_DATABASE = "cursive_bench_webhooks"
PASSWORD = "bench-password-correct-9"
TICKS = os.sysconf("SC_CLK_TCK")
BACKLOG_BLOCK = 25
TARGET_DELIVERIES_PER_SECOND = 500
TARGET_P95_LAG_SECONDS = 2.0


# --- The receiver ----------------------------------------------------------------------------------------------


class _Receiver(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: each POST answered 200 at once, its webhook-id and arrival time recorded.
    `GET /_arrivals?from=N` answers the arrivals from the N-th on, as JSON [[id, path, unix time], ...]."""

    arrivals: list = []
    reply = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length, webhook_id = 0, None
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "webhook-id":
                    webhook_id = value.strip()
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].split(" ", 2)
            if method == "GET" and target.startswith("/_arrivals"):
                start = int(target.partition("from=")[2] or 0)
                body = json.dumps(self.arrivals[start:]).encode()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                )
                continue
            self.arrivals.append((webhook_id, target, time.time()))
            self.transport.write(self.reply)


def _serve_receiver(port: int) -> None:
    async def serve():
        server = await asyncio.get_running_loop().create_server(_Receiver, "127.0.0.1", port, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def start_receiver(port: int) -> multiprocessing.Process:
    process = multiprocessing.get_context("fork").Process(target=_serve_receiver, args=(port,), daemon=True)
    process.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            arrivals_since(port, 0)
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the receiver did not start")


def arrivals_since(port: int, start: int) -> list:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/_arrivals?from={start}")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


class Arrivals:
    """What the receiver got, read incrementally: the first arrival time per webhook-id, and duplicates."""

    def __init__(self, port: int):
        self.port = port
        self.seen = 0
        self.first: dict[str, float] = {}
        self.duplicates = 0
        self.by_path: dict[str, int] = {}

    def refresh(self) -> None:
        new = arrivals_since(self.port, self.seen)
        self.seen += len(new)
        for webhook_id, path, at in new:
            if webhook_id in self.first:
                self.duplicates += 1
            else:
                self.first[webhook_id] = at
            self.by_path[path] = self.by_path.get(path, 0) + 1

    def wait_for(self, ids, *, timeout: float, stalled_after: float = 30.0) -> bool:
        """Until every id arrived (True), `timeout` passed or nothing arrived for `stalled_after` seconds."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        last_count, last_growth = -1, time.monotonic()
        while time.monotonic() < deadline:
            self.refresh()
            if wanted.issubset(self.first):
                return True
            if self.seen != last_count:
                last_count, last_growth = self.seen, time.monotonic()
            elif time.monotonic() - last_growth > stalled_after:
                return False
            time.sleep(0.1)
        return False


# --- Measuring -------------------------------------------------------------------------------------------------


class LoopSampler:
    """How many delivery loops hold their slot (webhooks.tasks._slots), sampled from pg_locks every 100 ms."""

    def __init__(self, database: dict, loops: int):
        self.database = database
        self.slots = [f"webhooks.deliverer:{n}" for n in range(loops)]
        self.samples: list[int] = []
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self):
        self.samples = []
        self.stopped.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        with server_connection(self.database) as conn:
            keys = [conn.execute("SELECT hashtextextended(%s, 0)", [slot]).fetchone()[0] for slot in self.slots]
            while not self.stopped.is_set():
                held = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                    "AND ((classid::bigint << 32) | objid::bigint) = ANY(%s)",
                    [keys],
                ).fetchone()[0]
                self.samples.append(held)
                self.stopped.wait(0.1)

    def summary(self) -> dict:
        if not self.samples:
            return {"samples": 0}
        return {
            "samples": len(self.samples),
            "mean_loops_running": round(statistics.fmean(self.samples), 2),
            "fraction_of_time_with": {
                str(n): round(self.samples.count(n) / len(self.samples), 3) for n in range(len(self.slots) + 1)
            },
        }


class Meter:
    """CpuMeter for the server-side trees, plus this process (the emitter) and the delivery-loop sampler."""

    def __init__(self, cpu: CpuMeter, loops: LoopSampler):
        self.cpu = cpu
        self.loops = loops

    def __enter__(self):
        self.before = self.cpu.snapshot()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.self_before = usage.ru_utime + usage.ru_stime
        self.loops.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.loops.__exit__(*exc_info)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.result = {
            "cpu": {
                **self.cpu.since(self.before),
                "bench_process_cpu_seconds": round(usage.ru_utime + usage.ru_stime - self.self_before, 2),
            },
            "delivery_loops": self.loops.summary(),
        }


def account(result: dict, *, deliveries: int, emitters_cpu_seconds: float = 0.0) -> None:
    """Add to a phase's CPU figures what other people's processes used (a shared machine makes the rates low) and
    the CPU the cluster and PostgreSQL spent per delivery, which does not depend on them."""
    cpu = result["cpu"]
    ours = sum(value for key, value in cpu.items() if key.endswith("_cpu_seconds")) + emitters_cpu_seconds
    cpu["other_processes_cpu_seconds"] = round(max(0.0, cpu["machine_busy_core_seconds"] - ours), 2)
    if deliveries:
        server = cpu.get("qcluster_cpu_seconds", 0) + cpu.get("postgres_cpu_seconds", 0)
        cpu["cluster_and_postgres_cpu_ms_per_delivery"] = round(1000 * server / deliveries, 3)


def lag_summary(seconds: list[float]) -> dict:
    values = sorted(seconds)
    return {
        "p50": round(statistics.median(values), 3) if values else None,
        "p95": round(percentile(values, 0.95), 3) if values else None,
        "p99": round(percentile(values, 0.99), 3) if values else None,
        "max": round(values[-1], 3) if values else None,
    }


def deliver_tasks() -> dict:
    """The delivery tasks django-q2 recorded (successful ones; at most its save_limit) and the queue left."""
    from django_q.models import OrmQ, Task

    results = list(Task.objects.filter(func="webhooks.tasks.deliver").values_list("result", flat=True))
    return {
        "recorded": len(results),
        "delivered_nothing": sum(1 for result in results if not result),
        "still_queued": OrmQ.objects.count(),
    }


# --- Set-up and phases -----------------------------------------------------------------------------------------


def build(count: int, receiver_port: int):
    """`count` workspaces with one webhook endpoint each, on the receiver; returns the workspaces."""
    from accounts.services import user_create, workspace_create
    from webhooks.services import endpoint_create

    owner = user_create(email="owner@bench-webhooks.test", password=PASSWORD, full_name="Bench Owner")
    workspaces = []
    for n in range(count):
        workspace = workspace_create(name=f"Bench Webhooks {n}", owner=owner)
        endpoint_create(workspace=workspace, url=f"http://127.0.0.1:{receiver_port}/ws/{n}", description="bench receiver")
        workspaces.append(workspace)
    return workspaces


def lead_data(n: int) -> dict:
    """A lead.created payload of the size the app sends (ids plus the fields a CRM needs)."""
    return {
        "lead_id": 100_000 + n,
        "email": f"person{n}@example.com",
        "first_name": "Ada",
        "last_name": f"Lovelace {n}",
        "company": "Analytical Engines Ltd",
        "title": "Head of Operations",
        "score": n % 100,
        "source": "bench",
    }


def _emitter(index: int, emitters: int, total: int, rate: float, start_at: float, workspace_ids: list[int], out) -> None:
    """One emitting process: events index, index + emitters, ... each due at start_at + n / rate (wall clock);
    one transaction holds the events due at that moment. Puts (commit time by event id, transactions, CPU seconds,
    seconds it took) on `out`."""
    from django.db import connections, transaction

    from accounts.models import Workspace
    from cursive.events import emit

    workspaces = list(Workspace.objects.filter(pk__in=workspace_ids).order_by("pk"))
    mine = list(range(index, total, emitters))
    committed: dict[str, float] = {}
    transactions = position = 0
    time.sleep(max(0.0, start_at - time.time()))
    while position < len(mine):
        now = time.time()
        due = position + 1
        while due < len(mine) and start_at + mine[due] / rate <= now:
            due += 1
        ids: list[str] = []
        with transaction.atomic():
            # Registered before the emits, so it runs first after the commit: the commit time, not the wake's.
            transaction.on_commit(lambda ids=ids: committed.update(dict.fromkeys(ids, time.time())))
            for n in mine[position:due]:
                event = emit(workspace=workspaces[n % len(workspaces)], type="lead.created", data=lead_data(n))
                ids.append(event.public_id)
        transactions += 1
        position = due
        if position < len(mine):
            time.sleep(max(0.0, start_at + mine[position] / rate - time.time()))
    took = time.time() - start_at
    usage = resource.getrusage(resource.RUSAGE_SELF)
    connections.close_all()
    out.put((committed, transactions, usage.ru_utime + usage.ru_stime, took))


def steady(workspaces, arrivals: Arrivals, *, rate: float, seconds: float, emitters: int, drain_timeout: float) -> dict:
    """Events at `rate` per second for `seconds`, from `emitters` processes (as many web processes would), then
    the lag of each from its commit to its arrival."""
    from django.db import connections

    total = int(rate * seconds)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    connections.close_all()  # each emitter opens its own connection
    start_at = time.time() + 1.0
    children = [
        context.Process(target=_emitter, args=(index, emitters, total, rate, start_at, [w.pk for w in workspaces], out))
        for index in range(emitters)
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=seconds * 10 + 120) for _ in children]
    for child in children:
        child.join()
    committed = {event_id: at for result in results for event_id, at in result[0].items()}
    emitted_seconds = max(result[3] for result in results)
    all_arrived = arrivals.wait_for(committed, timeout=drain_timeout)
    lags = [arrivals.first[i] - at for i, at in committed.items() if i in arrivals.first]
    delivered = [arrivals.first[i] for i in committed if i in arrivals.first]
    return {
        "events": len(committed),
        "target_rate_per_second": rate,
        "emitter_processes": emitters,
        "emitted_per_second": round(len(committed) / emitted_seconds, 1),
        "transactions": sum(result[1] for result in results),
        "emitters_cpu_seconds": round(sum(result[2] for result in results), 2),
        "delivered": len(lags),
        "not_delivered": len(committed) - len(lags),
        "all_delivered": all_arrived,
        "deliveries_per_second_while_emitting": round(
            sum(1 for at in delivered if at <= start_at + emitted_seconds) / emitted_seconds, 1
        ),
        "lag_seconds": lag_summary(lags),
    }


def backlog(workspaces, arrivals: Arrivals, *, events: int, timeout: float) -> tuple[tuple[int, int], dict]:
    from django.db import transaction

    from cursive.events import emit_many
    from cursive.models import OutboxEvent

    first_id = (OutboxEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    commit_started = time.monotonic()
    committed_at = [0.0]
    with transaction.atomic():
        transaction.on_commit(lambda: committed_at.__setitem__(0, time.time()))
        for block, start in enumerate(range(0, events, BACKLOG_BLOCK)):
            items = [lead_data(n) for n in range(start, min(events, start + BACKLOG_BLOCK))]
            emit_many(workspace=workspaces[block % len(workspaces)], type="lead.created", items=items)
    commit_seconds = time.monotonic() - commit_started
    rows = list(OutboxEvent.objects.filter(pk__gte=first_id).order_by("pk").values_list("pk", "public_id"))
    ids = [public_id for _, public_id in rows]
    id_range = (rows[0][0], rows[-1][0]) if rows else (first_id, first_id)
    all_arrived = arrivals.wait_for(ids, timeout=timeout)
    times = sorted(arrivals.first[i] for i in ids if i in arrivals.first)
    took = times[-1] - committed_at[0] if times else None
    tenth, ninetieth = (times[len(times) // 10], times[len(times) * 9 // 10]) if len(times) >= 10 else (None, None)
    return id_range, {
        "events": len(ids),
        "endpoints": len(workspaces),
        "seconds_to_commit_them": round(commit_seconds, 2),
        "delivered": len(times),
        "all_delivered": all_arrived,
        "seconds_commit_to_first_delivery": round(times[0] - committed_at[0], 3) if times else None,
        "seconds_commit_to_last_delivery": round(took, 2) if took else None,
        "deliveries_per_second": round(len(times) / took, 1) if took else None,
        "deliveries_per_second_10th_to_90th_percentile": (
            round((len(times) * 8 // 10) / (ninetieth - tenth), 1) if tenth and ninetieth > tenth else None
        ),
    }


AGE = "interval '31 days'"


def prune(*, aged_event_ids: list[tuple[int, int]], extra: int, workspace) -> dict:
    """Make the backlog phases' deliveries and events 31 days old, add `extra` aged deliveries (and their events)
    with INSERT ... SELECT, and time the retention rules of deliveries and events; returns the rows before and after."""
    from django.db import connection

    from cursive import retention
    from webhooks.models import Endpoint

    endpoint = Endpoint.objects.get(workspace=workspace)
    with connection.cursor() as cursor:
        for first, last in aged_event_ids:
            for table, column in (("webhooks_delivery", "event_id"), ("cursive_outboxevent", "id")):
                cursor.execute(f"UPDATE {table} SET created_at = now() - {AGE} WHERE {column} BETWEEN %s AND %s", [first, last])
        cursor.execute(
            f"""
            WITH aged AS (
                INSERT INTO cursive_outboxevent (public_id, workspace_id, type, data, created_at, dispatched_at)
                SELECT 'evt_aged_' || g, %s, 'lead.created', %s::jsonb, now() - {AGE}, now() - {AGE}
                FROM generate_series(1, %s) g
                RETURNING id
            )
            INSERT INTO webhooks_delivery (endpoint_id, event_id, status, attempts, next_attempt_at, response_status,
                                           response_body, error, duration_ms, created_at, last_attempt_at)
            SELECT %s, id, 'succeeded', 1, NULL, 200, '{{"ok":true}}', '', 1, now() - {AGE}, now() - {AGE} FROM aged
            """,
            [workspace.pk, json.dumps(lead_data(0)), extra, endpoint.pk],
        )
        cursor.execute("ANALYZE webhooks_delivery")
        cursor.execute("ANALYZE cursive_outboxevent")
        cursor.execute("SELECT count(*) FROM webhooks_delivery WHERE created_at < now() - interval '30 days'")
        aged_deliveries = cursor.fetchone()[0]
    before = count_rows()
    started = time.perf_counter()
    retention.rule_apply(name="webhook deliveries")
    retention.rule_apply(name="outbox events")
    seconds = time.perf_counter() - started
    after = count_rows()
    return {
        "retention_days": 30,
        "aged_deliveries": aged_deliveries,
        "before": before,
        "after": after,
        "deliveries_deleted": before["deliveries"] - after["deliveries"],
        "events_deleted": before["events"] - after["events"],
        "seconds": round(seconds, 2),
        "deliveries_deleted_per_second": round((before["deliveries"] - after["deliveries"]) / seconds) if seconds else None,
    }


def count_rows() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM webhooks_delivery")
        deliveries = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM cursive_outboxevent")
        events = cursor.fetchone()[0]
    return {"deliveries": deliveries, "events": events}


def profile_loop(workspaces, arrivals: Arrivals, *, events: int, top: int = 25) -> dict:
    """With the cluster stopped: `events` committed over the endpoints, then one delivery loop
    (webhooks.tasks.deliver) run in this process under cProfile, with its SQL timed by an execute wrapper."""
    import cProfile
    import pstats

    from django.db import connection, transaction

    from cursive.events import emit_many
    from webhooks import tasks

    with transaction.atomic():
        for block, start in enumerate(range(0, events, BACKLOG_BLOCK)):
            items = [lead_data(n) for n in range(start, min(events, start + BACKLOG_BLOCK))]
            emit_many(workspace=workspaces[block % len(workspaces)], type="lead.created", items=items)
    sql = {"queries": 0, "seconds": 0.0}

    def timed(execute, query, params, many, context):
        started = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            sql["queries"] += 1
            sql["seconds"] += time.perf_counter() - started

    seen_before = arrivals.seen
    profiler = cProfile.Profile()
    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        profiler.enable()
        delivered = tasks.deliver(seconds=600)
        profiler.disable()
    seconds = time.perf_counter() - started
    arrivals.refresh()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, function), (_calls, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append((tottime, cumtime, calls, f"{Path(filename).name}:{line}({function})"))
    idle = tasks.IDLE_SECONDS
    busy = seconds - idle
    return {
        "events": events,
        "delivered": delivered,
        "received": arrivals.seen - seen_before,
        "seconds_including_the_idle_end": round(seconds, 2),
        "idle_end_seconds": idle,
        "deliveries_per_second_busy": round(delivered / busy, 1) if busy > 0 else None,
        "sql": {
            "queries": sql["queries"],
            "seconds": round(sql["seconds"], 2),
            "ms_per_delivery": round(1000 * sql["seconds"] / delivered, 3) if delivered else None,
        },
        "python_ms_per_delivery_outside_sql": (round(1000 * (busy - sql["seconds"]) / delivered, 3) if delivered else None),
        "top_by_own_time": [
            {"function": name, "calls": calls, "own_seconds": round(own, 3), "cumulative_seconds": round(cum, 3)}
            for own, cum, calls, name in sorted(rows, reverse=True)[:top]
        ],
        "top_by_cumulative_time": [
            {"function": name, "calls": calls, "cumulative_seconds": round(cum, 3)}
            for _own, cum, calls, name in sorted(rows, key=lambda row: row[1], reverse=True)[:top]
        ],
    }


def settle(arrivals: Arrivals, seconds: float = 2.0) -> None:
    """Until nothing has arrived for `seconds` (the previous phase's stragglers, if any)."""
    last = -1
    while arrivals.seen != last:
        last = arrivals.seen
        time.sleep(seconds)
        arrivals.refresh()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500, help="events per second in the steady phase")
    parser.add_argument("--steady-seconds", type=float, default=20)
    parser.add_argument("--backlog", type=int, default=20_000, help="events committed at once, over every endpoint")
    parser.add_argument("--backlog-one-endpoint", type=int, default=10_000, help="events committed at once, one endpoint")
    parser.add_argument("--emitters", type=int, default=2, help="processes emitting in the steady phase")
    parser.add_argument("--endpoints", type=int, default=8, help="workspaces, one endpoint each")
    parser.add_argument("--workers", type=int, default=2, help="Q_WORKERS of the one qcluster")
    parser.add_argument("--loops", type=int, default=2, help="WEBHOOK_DELIVERY_LOOPS")
    parser.add_argument("--prune-extra", type=int, default=100_000, help="aged deliveries added before pruning")
    parser.add_argument("--profile-events", type=int, default=5000, help="events for the profiled loop; 0: none")
    parser.add_argument("--timeout", type=float, default=300, help="per phase, for the deliveries to arrive")
    args = parser.parse_args()
    stdout, sys.stdout = sys.stdout, sys.stderr  # Django's chatter goes to stderr; the JSON to stdout
    loadavg_before = os.getloadavg()
    os.environ["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = "true"  # the receiver is on loopback

    with tempfile.TemporaryFile(mode="w+") as cluster_log, scratch_database(SCRATCH_DATABASE, debug=False) as original:
        from django.db import connection, connections

        from webhooks.models import Delivery

        receiver_port = free_port()
        log(f"Building {args.endpoints} workspaces with an endpoint each on 127.0.0.1:{receiver_port}")
        workspaces = build(args.endpoints, receiver_port)
        postmaster = postgres_postmaster_pid()
        scratch = dict(connection.settings_dict)
        env = {
            **os.environ,
            "DATABASE_URL": database_url(scratch),
            "DEBUG": "false",
            "Q_WORKERS": str(args.workers),
            "WEBHOOK_DELIVERY_LOOPS": str(args.loops),
        }
        connections.close_all()
        receiver = start_receiver(receiver_port)
        arrivals = Arrivals(receiver_port)
        cluster = None
        results: dict = {}
        try:
            log(f"Starting qcluster (Q_WORKERS={args.workers}, WEBHOOK_DELIVERY_LOOPS={args.loops})")
            cluster = start_cluster(env, cluster_log)
            cpu = CpuMeter({"qcluster": cluster.pid, "receiver": receiver.pid, "postgres": postmaster})
            sampler = LoopSampler(scratch, args.loops)

            log("Warm-up: 400 events")
            steady(workspaces, arrivals, rate=200, seconds=2, emitters=1, drain_timeout=120)
            settle(arrivals)

            log(f"Steady: {args.rate:.0f} events/s for {args.steady_seconds:.0f} s over {args.endpoints} endpoints")
            with Meter(cpu, sampler) as meter:
                results["steady"] = steady(
                    workspaces,
                    arrivals,
                    rate=args.rate,
                    seconds=args.steady_seconds,
                    emitters=args.emitters,
                    drain_timeout=args.timeout,
                )
            results["steady"].update(meter.result)
            account(
                results["steady"],
                deliveries=results["steady"]["delivered"],
                emitters_cpu_seconds=results["steady"]["emitters_cpu_seconds"],
            )
            log(f"  {results['steady']['lag_seconds']}, not delivered {results['steady']['not_delivered']}")
            settle(arrivals)

            aged = []
            for name, count, targets in (
                ("backlog", args.backlog, workspaces),
                ("backlog_one_endpoint", args.backlog_one_endpoint, workspaces[:1]),
            ):
                if not count:
                    continue
                log(f"{name}: {count} events committed at once over {len(targets)} endpoint(s)")
                with Meter(cpu, sampler) as meter:
                    id_range, results[name] = backlog(targets, arrivals, events=count, timeout=args.timeout)
                results[name].update(meter.result)
                account(results[name], deliveries=results[name]["delivered"])
                aged.append(id_range)
                log(f"  {results[name]['deliveries_per_second']} deliveries/s")
                settle(arrivals)

            results["receiver"] = {
                "requests": arrivals.seen,
                "duplicates": arrivals.duplicates,
                "cpu_seconds_total": round((process_ticks(receiver.pid) or 0) / TICKS, 2),
            }
            results["deliveries"] = {status: Delivery.objects.filter(status=status).count() for status in Delivery.Status.values}
            results["deliver_tasks"] = deliver_tasks()
            stop(cluster, group=True)
            if args.profile_events:
                log(f"Profile: one delivery loop in this process, {args.profile_events} events, cluster stopped")
                results["profile_one_loop"] = profile_loop(workspaces, arrivals, events=args.profile_events)
                log(f"  {results['profile_one_loop']['deliveries_per_second_busy']} deliveries/s")
        except BaseException:
            log("qcluster log (tail):\n" + tail(cluster_log))
            raise
        finally:
            stop(cluster, group=True)
            receiver.terminate()
            receiver.join()

        log(f"Prune: backlog rows aged 31 days, {args.prune_extra} more aged deliveries added")
        results["prune"] = prune(aged_event_ids=aged, extra=args.prune_extra, workspace=workspaces[0])
        log(f"  {results['prune']}")
        connections.close_all()
        postgres = server_version(original)

    steady_result = results["steady"]
    backlog_rate = results.get("backlog", {}).get("deliveries_per_second") or 0
    lag_p95 = steady_result["lag_seconds"]["p95"]
    print(
        json.dumps(
            {
                "benchmark": "outbound webhooks: outbox -> deliveries -> a local keep-alive receiver, through one "
                "qcluster as `make run` starts it",
                **run_context(loadavg_before),
                "postgres": postgres,
                "settings": {
                    "q_workers": args.workers,
                    "webhook_delivery_loops": args.loops,
                    "endpoints": args.endpoints,
                    "debug": False,
                    "conn_max_age": scratch.get("CONN_MAX_AGE"),
                    "steady_rate_per_second": args.rate,
                    "steady_seconds": args.steady_seconds,
                    "steady_emitter_processes": args.emitters,
                    "backlog_events": args.backlog,
                    "backlog_one_endpoint_events": args.backlog_one_endpoint,
                    "receiver": "asyncio HTTP/1.1, keep-alive, 200 at once, own process",
                },
                **results,
                "targets": {
                    "backlog_over_endpoints_at_least_500_deliveries_per_second": backlog_rate >= TARGET_DELIVERIES_PER_SECOND,
                    "steady_load_at_least_500_events_per_second_emitted": steady_result["emitted_per_second"]
                    >= TARGET_DELIVERIES_PER_SECOND * 0.95,
                    "steady_p95_lag_under_2_seconds": lag_p95 is not None and lag_p95 < TARGET_P95_LAG_SECONDS,
                },
            }
        ),
        file=stdout,
    )


if __name__ == "__main__":
    main()
