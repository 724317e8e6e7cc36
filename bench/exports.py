"""Many clients exporting CSV at once, and what /health answers meanwhile, through gunicorn as `serve` runs it.

    .venv/bin/python bench/exports.py [--clients 250] [--leads 7500] [--workers 3] [--threads 16]
                                      [--health-seconds 5] [--deadline 600] [--client-processes 5]

Creates `cursive_bench_exports` on the project's database server (dropping a leftover one first), migrates it and
builds one buyer workspace with `--leads` leads (INSERT ... SELECT, as bench/pages.py does; 7,500 leads make a
~1.2 MB export), an API key and a fresh worker heartbeat. Then it starts gunicorn with the command line `manage.py serve` uses
(`serve.gunicorn_command`: threaded workers), DATABASE_URL pointing at the scratch database, rate limits lifted,
DEBUG off, and measures over loopback:

  health_alone:  `GET /health` from 8 client threads on kept-alive connections for `--health-seconds`: requests
                 per second and latency with nothing else running;
  exports:       `--clients` threads (spread over `--client-processes` processes) each `GET /api/v1/leads/export`
                 once, reading the whole body; a 429 (exports busy) is retried after its Retry-After, and the
                 client's latency covers the retries; meanwhile a process of its own samples `GET /health` every
                 100 ms (a new connection each, as a load balancer does).

Every client has a timeout and the export phase a deadline (`--deadline`): the run is bounded. One JSON object goes
to stdout; progress to stderr. The scratch database is dropped at the end: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pages import insert_leads
from scratch import ROOT, database_url, latency_summary, log, scratch_database, server_version

SCRATCH_DATABASE = "cursive_bench_exports"
PASSWORD = "bench-password-correct-9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(leads: int) -> str:
    """The bench workspace and its leads; returns the API key."""
    from django.db import connection, transaction

    from accounts.services import api_key_create, user_create, workspace_create
    from cursive.tasks import worker_heartbeat
    from leads.services import leads_rescore

    owner = user_create(email="owner@bench-exports.test", password=PASSWORD, full_name="Bench Owner")
    workspace = workspace_create(name="Bench Exports Co", owner=owner)
    with transaction.atomic(), connection.cursor() as cursor:
        insert_leads(cursor, workspace_id=workspace.pk, count=leads, days=365)
    leads_rescore(workspace=workspace)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")
    _, raw_key = api_key_create(workspace=workspace, name="bench", created_by=owner)
    worker_heartbeat()  # no job worker runs here: without a fresh heartbeat /health would answer 503
    return raw_key


def start_gunicorn(*, port: int, workers: int, threads: int, env: dict, log_file) -> subprocess.Popen:
    from cursive.management.commands.serve import gunicorn_command

    command = gunicorn_command(host="127.0.0.1", port=port, workers=workers, threads=threads)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            status, _, _ = request(port, "/health", timeout=2)
            if status in (200, 503):
                return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)


def request(
    port: int,
    path: str,
    *,
    headers: dict | None = None,
    timeout: float = 60,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, int, dict]:
    """GET path; returns (status, body bytes read, headers)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        size = 0
        while chunk := response.read(256 * 1024):
            size += len(chunk)
        return response.status, size, dict(response.getheaders())
    finally:
        if connection is None:
            conn.close()


def health_alone(port: int, *, seconds: float, threads: int = 8) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client():
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, failed = [], 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                status, _, _ = request(port, "/health", connection=conn)
            except OSError:
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append((time.perf_counter() - started) * 1000)
            failed += status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    workers = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return {
        "client_threads": threads,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "non_200": errors,
        "latency_ms": latency_summary(latencies),
    }


def _exporter_process(port: int, api_key: str, clients: int, end_by: float, out) -> None:
    """`clients` threads, each exporting once (retrying after a 429); results go to `out`."""
    headers = {"Authorization": f"Token {api_key}"}
    results: list[dict] = []
    lock = threading.Lock()

    def exporter():
        started = time.perf_counter()
        retries, outcome = 0, {}
        while time.time() < end_by:
            try:
                status, size, answer_headers = request(
                    port, "/api/v1/leads/export", headers=headers, timeout=max(1, end_by - time.time())
                )
            except OSError as exc:
                outcome = {"status": exc.__class__.__name__}
                break
            if status == 429:
                retries += 1
                time.sleep(float(answer_headers.get("Retry-After", "1")))
                continue
            outcome = {"status": status, "bytes": size}
            break
        outcome.update(ms=(time.perf_counter() - started) * 1000, retries=retries)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=exporter) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)


def _sampler_process(port: int, stop, out) -> None:
    """`GET /health` every 100 ms on a new connection, as a load balancer polls, until told to stop."""
    samples = []
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _, _ = request(port, "/health", timeout=30)
        except OSError:
            status = 0
        samples.append(((time.perf_counter() - started) * 1000, status))
        stop.wait(0.1)
    out.put(samples)


def exports_under_load(port: int, *, clients: int, api_key: str, deadline: float, processes: int) -> dict:
    """The export clients run in `processes` processes and the /health sampler in one of its own, so that the
    sampler's figures are not the client's own GIL queue."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results_queue, samples_queue, stop = context.Queue(), context.Queue(), context.Event()
    sampler = context.Process(target=_sampler_process, args=(port, stop, samples_queue))
    sampler.start()
    time.sleep(0.5)  # a few samples before the load
    end_by = time.time() + deadline
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    started = time.perf_counter()
    exporters = [
        context.Process(target=_exporter_process, args=(port, api_key, share, end_by, results_queue)) for share in shares if share
    ]
    for process in exporters:
        process.start()
    results: list[dict] = []
    for _ in exporters:
        results.extend(results_queue.get(timeout=deadline + 60))
    elapsed = time.perf_counter() - started
    for process in exporters:
        process.join()
    stop.set()
    health = samples_queue.get(timeout=60)
    sampler.join()

    ok = [r for r in results if r.get("status") == 200]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
    health_ms = [ms for ms, _ in health]
    return {
        "clients": clients,
        "client_processes": len(exporters),
        "seconds": round(elapsed, 2),
        "statuses": statuses,
        "export_bytes": sorted({r["bytes"] for r in ok}),
        "megabytes_sent": round(sum(r["bytes"] for r in ok) / 1e6, 1),
        "retries_after_429": sum(r["retries"] for r in results),
        "export_latency_ms": latency_summary([r["ms"] for r in ok]),
        "health_samples": len(health),
        "health_non_200": sum(1 for _, status in health if status != 200),
        "health_latency_ms": latency_summary(health_ms),
        "health_over_1s": sum(1 for ms in health_ms if ms > 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=250)
    parser.add_argument("--leads", type=int, default=7500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--health-seconds", type=float, default=5)
    parser.add_argument("--deadline", type=float, default=600)
    parser.add_argument("--client-processes", type=int, default=5)
    parser.add_argument("--gunicorn-log", help="keep gunicorn's output (access log with server-side durations) here")
    args = parser.parse_args()
    stdout, sys.stdout = sys.stdout, sys.stderr  # Django's chatter goes to stderr; the JSON to stdout

    log_file = open(args.gunicorn_log, "w+") if args.gunicorn_log else tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    with log_file as gunicorn_log, scratch_database(SCRATCH_DATABASE, fast_passwords=True, debug=False) as original:
        from django.conf import settings
        from django.db import connections

        log(f"Building {args.leads:,} leads")
        api_key = build(args.leads)
        env = {
            **os.environ,
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "DEBUG": "false",
            "RATE_LIMIT_READS": "100000000",
            "RATE_LIMIT_WRITES": "100000000",
        }
        connections.close_all()
        port = free_port()
        log(f"Starting gunicorn ({args.workers} workers x {args.threads} threads) on port {port}")
        gunicorn = start_gunicorn(port=port, workers=args.workers, threads=args.threads, env=env, log_file=gunicorn_log)
        try:
            request(port, "/api/v1/leads/export", headers={"Authorization": f"Token {api_key}"})  # warm up
            log(f"/health alone for {args.health_seconds} s")
            alone = health_alone(port, seconds=args.health_seconds)
            log(f"  {alone['requests_per_second']} req/s, p50 {alone['latency_ms']['p50']} ms")
            log(f"{args.clients} clients exporting at once")
            loaded = exports_under_load(
                port, clients=args.clients, api_key=api_key, deadline=args.deadline, processes=args.client_processes
            )
            log(
                f"  exports p50 {loaded['export_latency_ms']['p50']:.0f} ms, p95 {loaded['export_latency_ms']['p95']:.0f}"
                f" ms; /health p50 {loaded['health_latency_ms']['p50']:.0f} ms, max {loaded['health_latency_ms']['max']:.0f} ms"
            )
        finally:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        postgres = server_version(original)

    print(
        json.dumps(
            {
                "benchmark": "concurrent CSV exports through gunicorn as serve runs it, with /health sampled meanwhile",
                "postgres": postgres,
                "cpu_count": os.cpu_count(),
                "gunicorn": {"workers": args.workers, "threads": args.threads},
                "leads_per_export": args.leads,
                "health_alone": alone,
                "under_export_load": loaded,
            }
        ),
        file=stdout,
    )


if __name__ == "__main__":
    main()
