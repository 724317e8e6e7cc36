"""The pixel's beacon under load, against a static file of the same server, and how fast an identify call becomes
a lead, through the serving stack of `make run`.

    .venv/bin/python bench/pixel.py [--seconds 10] [--rounds 2] [--clients 16] [--client-processes 4]
                                    [--workers 3] [--threads 16] [--visitors 3000] [--identifications 30]

Creates `cursive_bench_pixel` on the project's database server (dropping a leftover one first), migrates it and
builds one buyer workspace with a pixel for `bench-shop.example` (visitors.services.pixel_create) and `--people`
people in the lead database (the seed generator, leads.demo.fill_lead_database). Then it starts what `manage.py
serve` starts: gunicorn with `serve.gunicorn_command` (gthread workers, `--workers` x `--threads`, access log on)
and a django-q2 cluster (`manage.py qcluster`), DATABASE_URL pointing at the scratch database, DEBUG off, and the
per-site event limit lifted (PIXEL_EVENTS_PER_SECOND_PER_SITE) so that every event sent is stored and counted.
collectstatic is not run: outside production whitenoise serves static/ through the finders, the same files.

`--clients` clients, spread over `--client-processes` processes (threads within each, so that the load generator
is not one GIL), each on one kept-alive http.client connection, send requests back to back for `--seconds` per
phase; the phases run in turn, `--rounds` times, so that a neighbour's load on the shared machine falls on all:

  singles:  POST /p/collect, one pageview a request (text/plain, an Origin on the pixel's domain, a desktop
            Chrome User-Agent), from `--visitors` visitor ids, with realistic urls, referrers and titles;
  batches:  POST /p/collect, 20 events a request (pageviews, and engagement events with engaged_ms) of 20
            visitors drawn from the same ids;
  static:   GET /static/css/app.css (whitenoise, uncompressed as no Accept-Encoding is sent).

For each: requests/s, events/s, p50/p95 latency, answers other than 202/200, and the CPU seconds the clients,
the gunicorn workers, PostgreSQL (the backends of a local server) and the machine spent. Afterwards the events
table is counted against the events answered 202, once the web processes' buffered writes have caught up
(visitors/buffer.py; how long that took is reported).

Then the identification lag: `--identifications` visitors, one every `--identify-interval` seconds, each send a
pageview and then an `identify` event whose traits.email is a person of the lead database; a poller reads the
workspace's leads every 50 ms and records when the lead with source `pixel` and that email appears (the
contract of issue 11: identification runs in the django-q2 cluster). Seconds from sending the identify event to
the lead being there: median, p95, max, and any not there after `--identify-timeout` seconds.

One JSON object goes to stdout; progress to stderr. The servers are stopped and the scratch database dropped at
the end, however the run ends: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from exports import free_port, start_gunicorn
from scratch import (
    ROOT,
    database_url,
    latency_summary,
    log,
    percentile,
    run_context,
    scratch_database,
    server_connection,
    server_version,
)

SCRATCH_DATABASE = "cursive_bench_pixel"
PASSWORD = "bench-password-correct-9"
DOMAIN = "bench-shop.example"
ORIGIN = f"https://{DOMAIN}"
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
STATIC_PATH = "/static/css/app.css"
BATCH_SIZE = 20
PIXEL_RATE_LIMIT = 1_000_000_000
TICKS = os.sysconf("SC_CLK_TCK")

PAGES = [
    ("/", "Bench Shop – Workwear for teams"),
    ("/pricing", "Pricing – Bench Shop"),
    ("/products", "All products – Bench Shop"),
    ("/blog/how-we-source-cotton", "How we source our cotton – Bench Shop blog"),
    ("/about", "About us – Bench Shop"),
    ("/contact", "Contact sales – Bench Shop"),
]
REFERRERS = ["", "https://www.google.com/", "https://www.linkedin.com/", "https://news.ycombinator.com/", ORIGIN + "/"]


# --- Request bodies ------------------------------------------------------------------------------------------


def visitor_ids(count: int, rng: random.Random) -> list[str]:
    """Ids like the snippet's: random, url-safe, 22 characters."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return ["".join(rng.choice(alphabet) for _ in range(22)) for _ in range(count)]


def page_event(site: str, visitor: str, rng: random.Random, *, kind: str = "pageview") -> dict:
    path, title = rng.choice(PAGES)
    if path == "/products":
        item = rng.randrange(1, 400)
        path, title = f"/products/item-{item}", f"Item {item} – Bench Shop"
    query = "?utm_source=newsletter&utm_medium=email" if rng.random() < 0.2 else ""
    event = {
        "site": site,
        "type": kind,
        "visitor": visitor,
        "url": f"{ORIGIN}{path}{query}",
        "referrer": rng.choice(REFERRERS),
        "title": title,
    }
    if kind == "engagement":
        event["engaged_ms"] = rng.randrange(500, 120_000)
    return event


def single_bodies(site: str, visitors: list[str], count: int, rng: random.Random) -> list[bytes]:
    return [json.dumps(page_event(site, rng.choice(visitors), rng)).encode() for _ in range(count)]


def batch_bodies(site: str, visitors: list[str], count: int, rng: random.Random) -> list[bytes]:
    return [
        json.dumps(
            [
                page_event(site, visitor, rng, kind="engagement" if rng.random() < 0.3 else "pageview")
                for visitor in rng.sample(visitors, BATCH_SIZE)
            ]
        ).encode()
        for _ in range(count)
    ]


# --- CPU accounting ------------------------------------------------------------------------------------------


def process_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds of the server-side process trees (gunicorn, the job cluster, PostgreSQL when it runs on this
    machine) and of the whole machine between `snapshot()` calls. Whole trees: the job cluster's workers are
    its grandchildren (qcluster -> sentinel -> workers). A process that ended between two snapshots is not
    counted."""

    def __init__(self, roots: dict[str, int | None]):
        self.roots = {name: pid for name, pid in roots.items() if pid}

    def _trees(self) -> dict[str, dict[int, int]]:
        trees = {}
        for name, root in self.roots.items():
            pids, frontier = [root], [root]
            while frontier:
                frontier = [child for pid in frontier for child in children_of(pid)]
                pids.extend(frontier)
            trees[name] = {pid: ticks for pid in pids if (ticks := process_ticks(pid)) is not None}
        return trees

    def snapshot(self):
        return self._trees(), machine_ticks(), time.perf_counter()

    def since(self, before) -> dict:
        trees_before, (busy_before, total_before), started = before
        trees_after, (busy_after, total_after), ended = self.snapshot()
        seconds = ended - started
        result = {}
        for name, after in trees_after.items():
            ticks = sum(value - trees_before.get(name, {}).get(pid, 0) for pid, value in after.items())
            result[f"{name}_cpu_seconds"] = round(ticks / TICKS, 2)
        cores = os.cpu_count() or 1
        result["machine_busy_fraction"] = round((busy_after - busy_before) / max(1, total_after - total_before), 3)
        result["machine_busy_core_seconds"] = round(result["machine_busy_fraction"] * cores * seconds, 2)
        return result


def postgres_postmaster_pid() -> int | None:
    """The local server's postmaster: the parent of this connection's backend (None for a remote server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


# --- Load ----------------------------------------------------------------------------------------------------


def _client_process(port, method, path, bodies, headers, threads, start_at, stop_at, out) -> None:
    """`threads` clients, each on its own kept-alive connection, requesting back to back from start_at until
    stop_at (wall clock, shared by every process); puts its figures on `out`."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    lock = threading.Lock()

    def client(index: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        mine, seen, failed = [], {}, 0
        position = index * 7919
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < stop_at:
            body = bodies[position % len(bodies)] if bodies else None
            position += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - started) * 1000)
            seen[response.status] = seen.get(response.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    for worker in workers:
        worker.join()
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    out.put({"latencies": latencies, "statuses": statuses, "errors": errors[0], "cpu_seconds": cpu})


def run_phase(port, *, method, path, bodies, headers, clients, processes, seconds, meter) -> dict:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    start_at = time.time() + 0.5  # every process has connected by then
    stop_at = start_at + seconds
    children = [
        context.Process(target=_client_process, args=(port, method, path, bodies, headers, share, start_at, stop_at, out))
        for share in shares
        if share
    ]
    for child in children:
        child.start()
    time.sleep(max(0.0, start_at - time.time()))
    before = meter.snapshot()
    results = [out.get(timeout=seconds + 120) for _ in children]
    cpu = meter.since(before)
    for child in children:
        child.join()
    latencies = [ms for result in results for ms in result["latencies"]]
    statuses: dict[str, int] = {}
    for result in results:
        for status, count in result["statuses"].items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    client_cpu = sum(result["cpu_seconds"] for result in results)
    return {
        "seconds": seconds,
        "requests": len(latencies),
        "statuses": statuses,
        "connection_errors": sum(result["errors"] for result in results),
        "latencies": latencies,
        "cpu": {"client_cpu_seconds": round(client_cpu, 2), **cpu},
    }


def summarize(rounds: list[dict], *, events_per_request: int, ok_status: int) -> dict:
    seconds = sum(r["seconds"] for r in rounds)
    requests = sum(r["requests"] for r in rounds)
    ok = sum(r["statuses"].get(str(ok_status), 0) for r in rounds)
    statuses: dict[str, int] = {}
    cpu: dict[str, float] = {}
    for r in rounds:
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
        for key, value in r["cpu"].items():
            if key != "machine_busy_fraction":
                cpu[key] = round(cpu.get(key, 0) + value, 2)
    busy = [r["cpu"]["machine_busy_fraction"] for r in rounds]
    cpu["machine_busy_fraction"] = round(statistics.fmean(busy), 3)
    cpu["client_cores"] = round(cpu["client_cpu_seconds"] / seconds, 2)
    # On a shared machine the rest of the busy time is other people's processes: the rates above are then low.
    ours = sum(value for key, value in cpu.items() if key.endswith("_cpu_seconds"))
    cpu["other_processes_cpu_seconds"] = round(max(0.0, cpu["machine_busy_core_seconds"] - ours), 2)
    if requests:
        cpu["server_cpu_ms_per_request"] = round(
            1000 * (cpu.get("gunicorn_cpu_seconds", 0) + cpu.get("postgres_cpu_seconds", 0)) / requests, 3
        )
    return {
        "seconds": seconds,
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1),
        "events_per_request": events_per_request,
        "events_per_second": round(ok * events_per_request / seconds, 1) if events_per_request else None,
        "latency_ms": latency_summary([ms for r in rounds for ms in r["latencies"]]),
        "statuses": statuses,
        "connection_errors": sum(r["connection_errors"] for r in rounds),
        "requests_per_second_by_round": [round(r["requests"] / r["seconds"], 1) for r in rounds],
        "cpu": cpu,
    }


# --- Identification ------------------------------------------------------------------------------------------


def post(port: int, body: bytes, headers: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/p/collect", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def identification_lag(port, *, site, workspace_id, people, headers, interval, timeout, rng) -> dict:
    """Send an identify event for each person (after a pageview of the same visitor), one every `interval`
    seconds, while one poller watches the workspace's pixel leads; returns the seconds each took."""
    from django.db import connection

    sent: dict[str, float] = {}
    appeared: dict[str, float] = {}
    statuses: dict[str, int] = {}
    done = threading.Event()

    def poller():
        with server_connection(connection.settings_dict) as conn:
            while not done.is_set():
                waiting = [email for email in sent if email not in appeared]
                if waiting:
                    rows = conn.execute(
                        "SELECT lower(email) FROM leads_lead WHERE workspace_id = %s AND source = 'pixel' "
                        "AND lower(email) = ANY(%s)",
                        [workspace_id, waiting],
                    ).fetchall()
                    now = time.perf_counter()
                    for (email,) in rows:
                        appeared.setdefault(email, now)
                done.wait(0.05)

    watcher = threading.Thread(target=poller)
    watcher.start()
    visitors = visitor_ids(len(people), rng)
    try:
        for visitor, person in zip(visitors, people, strict=True):
            post(port, json.dumps(page_event(site, visitor, rng)).encode(), headers)
            identify = {
                "site": site,
                "type": "identify",
                "visitor": visitor,
                "url": f"{ORIGIN}/signup",
                "referrer": ORIGIN + "/pricing",
                "title": "Sign up – Bench Shop",
                "traits": {"email": person["email"], "first_name": person["first_name"], "last_name": person["last_name"]},
            }
            started = time.perf_counter()
            status = post(port, json.dumps(identify).encode(), headers)
            sent[person["email"].lower()] = started
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            time.sleep(interval)
        deadline = time.perf_counter() + timeout
        while len(appeared) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.1)
    finally:
        done.set()
        watcher.join()

    lags = sorted(appeared[email] - sent[email] for email in appeared)
    from visitors.models import Visitor

    identified = Visitor.objects.filter(key__in=visitors)
    server_lags = sorted(v.identification_lag_ms for v in identified if v.identification_lag_ms is not None)
    by_method: dict[str, int] = {}
    for visitor in identified:
        by_method[str(visitor.identified_by)] = by_method.get(str(visitor.identified_by), 0) + 1
    return {
        "identify_events_sent": len(sent),
        "identify_statuses": statuses,
        "interval_seconds": interval,
        "timeout_seconds": timeout,
        "leads_appeared": len(lags),
        "leads_missing": len(sent) - len(lags),
        "seconds_to_lead": {
            "p50": round(statistics.median(lags), 3) if lags else None,
            "p95": round(percentile(lags, 0.95), 3) if lags else None,
            "max": round(lags[-1], 3) if lags else None,
        },
        "visitors_identified_by": by_method,
        "server_identification_lag_ms": {
            "count": len(server_lags),
            "p50": statistics.median(server_lags) if server_lags else None,
            "p95": percentile(server_lags, 0.95) if server_lags else None,
        },
    }


# --- Set-up and the run --------------------------------------------------------------------------------------


def build(people: int):
    """The bench workspace, its pixel and the people of the lead database; returns (workspace, pixel)."""
    from accounts.services import user_create, workspace_create
    from cursive.tasks import worker_heartbeat
    from leads.demo import fill_lead_database
    from visitors.services import pixel_create

    owner = user_create(email="owner@bench-pixel.test", password=PASSWORD, full_name="Bench Owner")
    workspace = workspace_create(name="Bench Pixel Co", owner=owner)
    pixel = pixel_create(workspace=workspace, name="Bench shop", domain=DOMAIN)
    fill_lead_database(people)
    worker_heartbeat()  # /health answers 200 before the job cluster's first beat
    return workspace, pixel


def start_cluster(env: dict, log_file) -> subprocess.Popen:
    """The job worker as `serve` runs it, in a process group of its own so that stopping it ends its workers."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen | None, *, group: bool = False) -> None:
    if process is None or process.poll() is not None:
        return
    if group:
        os.killpg(process.pid, 15)
    else:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, 9)
        else:
            process.kill()
        process.wait()


def tail(log_file, characters: int = 4000) -> str:
    log_file.flush()
    log_file.seek(0)
    return log_file.read()[-characters:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "3")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "16")))
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--people", type=int, default=500, help="people in the lead database")
    parser.add_argument("--identifications", type=int, default=30)
    parser.add_argument("--identify-interval", type=float, default=1.0)
    parser.add_argument("--identify-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    stdout, sys.stdout = sys.stdout, sys.stderr  # Django's chatter goes to stderr; the JSON to stdout
    rng = random.Random(args.seed)
    loadavg_before = os.getloadavg()

    with (
        tempfile.TemporaryFile(mode="w+") as gunicorn_log,
        tempfile.TemporaryFile(mode="w+") as cluster_log,
        scratch_database(SCRATCH_DATABASE, debug=False) as original,
    ):
        from django.conf import settings
        from django.db import connection, connections

        from leads.models import Person

        log(f"Building the workspace, its pixel and {args.people} people in the lead database")
        workspace, pixel = build(args.people)
        people = list(Person.objects.exclude(email="").values("email", "first_name", "last_name")[: args.people])
        identify_people = rng.sample(people, min(args.identifications, len(people)))
        visitors = visitor_ids(args.visitors, rng)
        singles = single_bodies(pixel.site_key, visitors, 5000, rng)
        batches = batch_bodies(pixel.site_key, visitors, 1000, rng)
        postmaster = postgres_postmaster_pid()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "DEBUG": "false",
            "PIXEL_EVENTS_PER_SECOND_PER_SITE": str(PIXEL_RATE_LIMIT),
        }
        connections.close_all()
        port = free_port()
        gunicorn = cluster = None
        results: dict = {}
        try:
            log(f"Starting gunicorn ({args.workers} workers x {args.threads} threads) on port {port} and qcluster")
            cluster = start_cluster(env, cluster_log)
            gunicorn = start_gunicorn(port=port, workers=args.workers, threads=args.threads, env=env, log_file=gunicorn_log)
            meter = CpuMeter({"gunicorn": gunicorn.pid, "qcluster": cluster.pid, "postgres": postmaster})
            beacon_headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, "User-Agent": USER_AGENT}
            static_headers = {"User-Agent": USER_AGENT, "Accept": "text/css,*/*;q=0.1"}
            phases = {
                "singles": {"method": "POST", "path": "/p/collect", "bodies": singles, "headers": beacon_headers},
                "batches": {"method": "POST", "path": "/p/collect", "bodies": batches, "headers": beacon_headers},
                "static": {"method": "GET", "path": STATIC_PATH, "bodies": None, "headers": static_headers},
            }
            load = {"clients": args.clients, "processes": args.client_processes, "meter": meter}
            log("Warming up every worker (2 s of each phase)")
            for phase in phases.values():
                run_phase(port, **phase, **load, seconds=2)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM visitors_event")
                events_before = cursor.fetchone()[0]
            rounds: dict[str, list[dict]] = {name: [] for name in phases}
            for round_number in range(1, args.rounds + 1):
                for name, phase in phases.items():
                    measured = run_phase(port, **phase, **load, seconds=args.seconds)
                    rounds[name].append(measured)
                    log(
                        f"  round {round_number} {name}: {measured['requests'] / args.seconds:.0f} req/s, "
                        f"client {measured['cpu']['client_cpu_seconds']} s CPU, statuses {measured['statuses']}"
                    )
            for name, events_per_request, ok_status in (("singles", 1, 202), ("batches", BATCH_SIZE, 202), ("static", 0, 200)):
                results[name] = summarize(rounds[name], events_per_request=events_per_request, ok_status=ok_status)
            accepted = results["singles"]["statuses"].get("202", 0) + BATCH_SIZE * results["batches"]["statuses"].get("202", 0)
            # Accepted events are written by each web process's writer a moment later (visitors/buffer.py): wait
            # until they are all there, or until the count stops growing.
            drain_started = time.monotonic()
            stored, last_growth = -1, time.monotonic()
            while time.monotonic() - last_growth < 5:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM visitors_event")
                    now_stored = cursor.fetchone()[0] - events_before
                if now_stored != stored:
                    stored, last_growth = now_stored, time.monotonic()
                if stored >= accepted:
                    break
                time.sleep(0.1)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM visitors_visitor")
                visitor_rows = cursor.fetchone()[0]
            results["stored"] = {
                "events_answered_202": accepted,
                "events_stored": stored,
                "all_stored": accepted == stored,
                "seconds_to_store_the_last_accepted": round(time.monotonic() - drain_started, 2),
                "visitor_rows": visitor_rows,
            }
            connections.close_all()

            log(f"Identification: {len(identify_people)} identify events, one every {args.identify_interval} s")
            results["identification"] = identification_lag(
                port,
                site=pixel.site_key,
                workspace_id=workspace.pk,
                people=identify_people,
                headers=beacon_headers,
                interval=args.identify_interval,
                timeout=args.identify_timeout,
                rng=rng,
            )
            log(f"  {results['identification']['seconds_to_lead']}, missing {results['identification']['leads_missing']}")
        except BaseException:
            log("gunicorn log (tail):\n" + tail(gunicorn_log))
            log("qcluster log (tail):\n" + tail(cluster_log))
            raise
        finally:
            stop(gunicorn)
            stop(cluster, group=True)
            connections.close_all()
        postgres = server_version(original)
        static_bytes = (ROOT / "static" / STATIC_PATH.removeprefix("/static/")).stat().st_size

    singles_rps, static_rps = results["singles"]["requests_per_second"], results["static"]["requests_per_second"]
    lag_p95 = results["identification"]["seconds_to_lead"]["p95"]
    print(
        json.dumps(
            {
                "benchmark": "POST /p/collect (single events, batches of 20) against a static file, and identify event "
                "to pixel lead, through gunicorn and qcluster as `make run` starts them",
                **run_context(loadavg_before),
                "postgres": postgres,
                "settings": {
                    "gunicorn": {"worker_class": "gthread", "workers": args.workers, "threads": args.threads},
                    "qcluster_workers": settings.Q_CLUSTER["workers"],
                    "debug": False,
                    "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
                    "pixel_events_per_second_per_site": PIXEL_RATE_LIMIT,
                    "clients": args.clients,
                    "client_processes": args.client_processes,
                    "client": "http.client, one kept-alive connection per client thread",
                    "seconds_per_phase_per_round": args.seconds,
                    "rounds": args.rounds,
                    "batch_size": BATCH_SIZE,
                    "visitor_ids": args.visitors,
                    "static_file": {"path": STATIC_PATH, "bytes": static_bytes},
                    "people_in_lead_database": args.people,
                },
                "singles": results["singles"],
                "batches": results["batches"],
                "static": results["static"],
                "ratios": {"singles_requests_over_static_requests": round(singles_rps / static_rps, 3) if static_rps else None},
                "stored": results["stored"],
                "identification": results["identification"],
                "targets": {
                    "singles_at_least_half_of_static": bool(static_rps and singles_rps >= 0.5 * static_rps),
                    "batches_at_least_5000_events_per_second": (results["batches"]["events_per_second"] or 0) >= 5000,
                    "identification_p95_under_5_seconds": lag_p95 is not None and lag_p95 < 5,
                },
            }
        ),
        file=stdout,
    )


if __name__ == "__main__":
    main()
