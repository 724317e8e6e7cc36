"""How many one-lead credit purchases per second the marketplace takes from 8 concurrent buyers, against pgbench.

    .venv/bin/python bench/purchase.py [--threads 8] [--purchases-per-thread 250] [--http-purchases-per-thread 150]
                                       [--http-gets-per-thread 300] [--partners 8] [--gunicorn-workers 4]
                                       [--pgbench-seconds 10]

Creates `cursive_bench_purchase` on the project's database server (dropping a leftover one first), migrates it, and
measures, one after the other:

  service:     `marketplace.services.purchase_create` called directly by N threads, each with its own Django
               connection and its own funded buyer workspace, each purchase buying ONE distinct lead (the threads
               get disjoint slices of the listings, so no purchase meets a 409); listings are partner-listed,
               round-robin over --partners partners, so every sale also pays a revenue share;
  service_single_thread: the same service from ONE thread (buyer 0, its own listings): the per-call cost with no
               concurrency, to tell what the 8 threads add; one purchase of it runs under a query counter, giving
               the statements one purchase sends (after commit too), which (d) replays;
  http:        the same through `POST /api/v1/marketplace/purchases` served by a real gunicorn
               (--gunicorn-workers sync workers, DATABASE_URL pointing at the scratch database, the rate limits
               lifted), N client threads each with its buyer's API key; latency measured by the client;
  http_get:    `GET /api/v1/credits` (the workspace's credit account: one row) through the same gunicorn, the same
               middleware, API-key authentication and rate limiting, from the same N client threads: the ceiling
               of the HTTP purchases;
  pgbench:     the old hand-written purchase transaction (lock the account, debit it, mark the lead sold, insert
               the purchase) in a custom pgbench script, -c 8 -j 2 -T 10 -n, on tables of its own (schema
               `pgbench_purchase`) in the same scratch database, kept for comparison;
  pgbench_equivalent: the statements the service sent for one purchase (BEGIN, the call of the purchase function,
               COMMIT, and what runs after commit: the confirmation job's hand-off to django-q2 and the wake-up of
               the event consumers), replayed by pgbench with the buyer, its user and the listing as variables:
               N clients (-j 2), client c buying as its own funded buyer c its own block of listings, as many
               purchases each as a service thread makes: the ceiling of the service.

The JSON's top level names `service_ratio` (service purchases/s over pgbench_equivalent TPS: what Python and Django
add to the same statements) and `http_ratio` (HTTP purchases/s over http_get requests/s), with the run's load.
Then it checks that every credit account's balance equals the sum of its ledger (and what the purchases made
it), that no listing is in two sales, that every pgbench_equivalent transaction bought its lead and that
pgbench's accounts never went below zero. One JSON object goes to stdout; progress to stderr. The scratch
database is dropped at the end: the dev data is never touched. Other processes using the same server at the
same time (other test runs) slow every figure alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

from scratch import (
    ROOT,
    database_url,
    latency_summary,
    log,
    run_context,
    run_together,
    scratch_database,
    server_connection,
    server_version,
)

SCRATCH_DATABASE = "cursive_bench_purchase"
PGBENCH_SCHEMA = "pgbench_purchase"
PRICE = Decimal("1.00")
PGBENCH_ACCOUNTS = 8
PGBENCH_LEADS = 1_000_000

PGBENCH_SCRIPT = f"""\\set aid random(1, {PGBENCH_ACCOUNTS})
\\set lid random(1, {PGBENCH_LEADS})
BEGIN;
SELECT balance FROM {PGBENCH_SCHEMA}.accounts WHERE id = :aid FOR UPDATE;
UPDATE {PGBENCH_SCHEMA}.accounts SET balance = balance - 1 WHERE id = :aid;
UPDATE {PGBENCH_SCHEMA}.leads SET status = 'sold' WHERE id = :lid AND status = 'available';
INSERT INTO {PGBENCH_SCHEMA}.purchases (account_id, lead_id, amount) VALUES (:aid, :lid, 1);
COMMIT;
"""


# --- Set-up, through the real services ------------------------------------------------------------------------


def make_buyers(count: int, *, funding: Decimal, label: str = "buyer") -> list:
    from accounts.services import user_create, workspace_create
    from credits.services import credits_adjust

    buyers = []
    for n in range(count):
        owner = user_create(email=f"bench-{label}-{n}@bench.test", password="bench-password-correct-9")
        workspace = workspace_create(name=f"Bench {label} {n}", owner=owner)
        credits_adjust(workspace=workspace, amount=funding, actor=None, reason="bench funding")
        buyers.append((workspace, owner))
    return buyers


def make_partners(count: int) -> list:
    from accounts.models import Workspace
    from accounts.services import user_create, workspace_create

    partners = []
    for n in range(count):
        owner = user_create(email=f"bench-partner-{n}@bench.test", password="bench-password-correct-9")
        partners.append(workspace_create(name=f"Bench partner {n}", owner=owner, kind=Workspace.Kind.PARTNER))
    return partners


def make_listings(count: int, *, partners: list, label: str) -> list[int]:
    """`count` partner-listed leads through `listing_create`, round-robin over the partners; their ids."""
    from marketplace.services import listing_create

    ids = []
    for n in range(count):
        data = {
            "first_name": f"Lead{n}",
            "last_name": label.title(),
            "email": f"{label}-{n}@company{n % 211}.example",
            "title": "VP of Sales",
            "seniority": "vp",
            "company_name": f"Company {n % 211}",
            "company_size": "51-200",
            "industry": "SaaS",
            "state": "CA",
            "city": "San Francisco",
        }
        ids.append(listing_create(data=data, price=PRICE, quality=50 + n % 50, partner=partners[n % len(partners)]).pk)
    return ids


# --- (a) the service, called directly -------------------------------------------------------------------------


def purchase_figures(latencies: list[list[float]], errors: list[list[str]], elapsed: float) -> dict:
    """What one concurrent run did, from each thread's latencies (ms) and errors and the run's wall time."""
    all_latencies = [value for values in latencies for value in values]
    all_errors = [error for values in errors for error in values]
    return {
        "purchases": len(all_latencies),
        "failed_purchases": len(all_errors),
        "first_errors": all_errors[:3],
        "elapsed_seconds": round(elapsed, 3),
        "purchases_per_second": round(len(all_latencies) / elapsed, 1) if elapsed else None,
        "latency_ms": latency_summary(all_latencies),
        "_succeeded_by_thread": [len(values) for values in latencies],
    }


def run_service(name: str, buyers: list, slices: list[list[int]]) -> dict:
    """One thread per buyer; thread i buys the ids of slices[i], one purchase per lead."""
    from django.db import connection

    from marketplace.services import purchase_create

    threads_count = len(buyers)
    latencies: list[list[float]] = [[] for _ in range(threads_count)]
    errors: list[list[str]] = [[] for _ in range(threads_count)]

    def worker(index: int, barrier: threading.Barrier) -> None:
        workspace, owner = buyers[index]
        try:
            connection.ensure_connection()  # connect before the clock starts: measure purchases, not connects
            barrier.wait()
            mine = latencies[index]
            for listing_id in slices[index]:
                started = time.perf_counter()
                try:
                    purchase_create(workspace=workspace, lead_ids=[listing_id], payment="credits", created_by=owner)
                except Exception as exc:  # counted and reported, never hidden
                    errors[index].append(f"{exc.__class__.__name__}: {exc}")
                    continue
                mine.append((time.perf_counter() - started) * 1000)
        except threading.BrokenBarrierError:
            errors[index].append("barrier broken")
        finally:
            connection.close()

    elapsed = run_together(threads_count, worker, name=name)
    return {"threads": threads_count, **purchase_figures(latencies, errors, elapsed)}


def count_queries(buyer: tuple, listing_id: int) -> dict:
    """Run one purchase under Django's query counter: the statements it sends (BEGIN/COMMIT and savepoints
    included, the job hand-off and the wake-up of the event consumers after commit too), counted by kind, and
    as sent (`_sent`), for the equivalent pgbench transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from marketplace.services import purchase_create

    workspace, owner = buyer
    connection.queries_log.clear()  # a full log (9,000 entries) would make the counter read zero
    with CaptureQueriesContext(connection) as captured:
        purchase_create(workspace=workspace, lead_ids=[listing_id], payment="credits", created_by=owner)
    sent = [query["sql"] for query in captured.captured_queries]
    statements = [sql.split(None, 1)[0].upper() for sql in sent]
    connection.close()
    return {
        "total": len(statements),
        **{kind.lower(): statements.count(kind) for kind in ("SELECT", "INSERT", "UPDATE", "SAVEPOINT", "RELEASE")},
        "_sent": sent,
    }


# --- (b) the HTTP endpoint, through gunicorn -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(*, workers: int, env: dict, log_file) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "cursive.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=2)  # noqa: S310 - loopback only
            break
        except urllib.error.HTTPError:
            break  # a 503 still means the server answers
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_gunicorn(process)
                raise RuntimeError("gunicorn did not start; see its log above") from None
            time.sleep(0.2)
    return process, base


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_http(
    base: str, keys: list[str], work: list[list[tuple[str, str, dict | None]]], *, expected: int, warmup_requests: int = 5
) -> dict:
    """One client thread per API key, each with its own HTTP connection (reopened when the server closes it),
    sending its list of (method, path, body) requests one after the other; an answer other than `expected` is
    a failure."""
    host, port = base.removeprefix("http://").split(":")
    threads_count = len(keys)
    latencies: list[list[float]] = [[] for _ in range(threads_count)]
    errors: list[list[str]] = [[] for _ in range(threads_count)]

    def request(conn: http.client.HTTPConnection, method: str, path: str, key: str, body: dict | None = None):
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Token {key}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            conn.close()  # a stale kept-alive socket: one retry on a fresh connection
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()  # the sync worker closes after each response; the next request reconnects
        return response.status, data

    def worker(index: int, barrier: threading.Barrier) -> None:
        key = keys[index]
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            # Warm up: every worker process loaded, its database connection open, before the clock starts.
            for _ in range(warmup_requests):
                request(conn, "GET", "/api/v1/me", key)
            barrier.wait()
            mine = latencies[index]
            for method, path, body in work[index]:
                started = time.perf_counter()
                try:
                    status, data = request(conn, method, path, key, body)
                except Exception as exc:  # counted and reported, never hidden
                    errors[index].append(f"{exc.__class__.__name__}: {exc}")
                    continue
                elapsed_ms = (time.perf_counter() - started) * 1000
                if status != expected:
                    errors[index].append(f"HTTP {status}: {data[:200].decode(errors='replace')}")
                    continue
                mine.append(elapsed_ms)
        except threading.BrokenBarrierError:
            errors[index].append("barrier broken")
        finally:
            conn.close()

    elapsed = run_together(threads_count, worker, name="http")
    return {"client_threads": threads_count, **purchase_figures(latencies, errors, elapsed)}


# --- (c) pgbench -----------------------------------------------------------------------------------------------


def pgbench_binary() -> str:
    if os.environ.get("DATABASE_URL"):
        system = shutil.which("pgbench")
        if system:
            return system
    from cursive.embedded_db import binary

    return str(binary("pgbench"))


def pgbench_prepare(database: dict) -> None:
    with server_connection(database, SCRATCH_DATABASE) as conn:
        conn.execute(f"CREATE SCHEMA {PGBENCH_SCHEMA}")
        conn.execute(
            f"CREATE TABLE {PGBENCH_SCHEMA}.accounts (id integer PRIMARY KEY, "
            "balance numeric(14, 2) NOT NULL CHECK (balance >= 0))"
        )
        conn.execute(f"CREATE TABLE {PGBENCH_SCHEMA}.leads (id integer PRIMARY KEY, status varchar(16) NOT NULL)")
        conn.execute(
            f"CREATE TABLE {PGBENCH_SCHEMA}.purchases (id serial PRIMARY KEY, "
            f"account_id integer NOT NULL REFERENCES {PGBENCH_SCHEMA}.accounts (id), "
            f"lead_id integer NOT NULL REFERENCES {PGBENCH_SCHEMA}.leads (id), amount numeric(10, 2) NOT NULL)"
        )
        conn.execute(f"INSERT INTO {PGBENCH_SCHEMA}.accounts SELECT g, 1000000000 FROM generate_series(1, {PGBENCH_ACCOUNTS}) g")
        conn.execute(f"INSERT INTO {PGBENCH_SCHEMA}.leads SELECT g, 'available' FROM generate_series(1, {PGBENCH_LEADS}) g")
        conn.execute(f"VACUUM ANALYZE {PGBENCH_SCHEMA}.accounts, {PGBENCH_SCHEMA}.leads, {PGBENCH_SCHEMA}.purchases")


def run_pgbench(
    database: dict,
    *,
    script: str,
    clients: int,
    jobs: int,
    seconds: int | None = None,
    transactions_per_client: int | None = None,
    define: dict | None = None,
) -> dict:
    """pgbench -n with `script`, for `seconds` (-T) or `transactions_per_client` (-t); `define` sets variables (-D)."""
    executable = pgbench_binary()
    env = {**os.environ}
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = database["PASSWORD"]
    length = ["-T", str(seconds)] if seconds else ["-t", str(transactions_per_client)]
    variables = [arg for name, value in (define or {}).items() for arg in ("-D", f"{name}={value}")]
    with tempfile.TemporaryDirectory(prefix="bench-purchase-") as workdir:
        path = Path(workdir) / "purchase.sql"
        path.write_text(script)
        command = [
            executable,
            "-h",
            database.get("HOST") or "127.0.0.1",
            "-p",
            str(database.get("PORT") or 5432),
            "-U",
            database.get("USER") or "postgres",
            "-n",
            "-c",
            str(clients),
            "-j",
            str(jobs),
            *length,
            *variables,
            "-f",
            str(path),
            "-l",
            "--log-prefix",
            str(Path(workdir) / "tx"),
            SCRATCH_DATABASE,
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, timeout=(seconds or 600) + 120)
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        # Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us_part
        latencies = []
        for log_path in Path(workdir).glob("tx.*"):
            for line in log_path.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000)
    out = result.stdout

    def number(pattern: str) -> float | None:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else None

    shown = " ".join(["pgbench -n", f"-c {clients} -j {jobs}", " ".join(length), " ".join(variables), "-f purchase.sql"])
    return {
        "binary": executable,
        "version": subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.strip(),
        "command": f"{shown} {SCRATCH_DATABASE}",
        "script": script,
        "transactions": int(number(r"number of transactions actually processed: (\d+)") or 0),
        "failed_transactions": int(number(r"number of failed transactions: (\d+)") or 0),
        "tps": number(r"tps = ([\d.]+) \(without initial connection time\)"),
        "latency_average_ms": number(r"latency average = ([\d.]+) ms"),
        "latency_ms": latency_summary(latencies),
    }


# --- (d) pgbench, the equivalent of one service purchase -----------------------------------------------------

_CALL = re.compile(r"marketplace_purchase_credits\((\d+), '\{(\d+)\}'::int8\[\], (\d+),")


def equivalent_script(sent: list[str], *, buyers: list, first_listing: int, per_client: int) -> str:
    """The statements one service purchase sent (count_queries), in order, as a pgbench script: the buyer, its
    user and the listing bought become variables, so client c buys as buyer c the listings
    first_listing + c * per_client + 0, 1, 2, ... (`k` counts the client's transactions, from -D k=0); every
    other statement (BEGIN, COMMIT, the job's hand-off and the consumers' wake-up after commit) is replayed as
    sent."""

    def by_client(values: list[int]) -> str:
        return "CASE " + " ".join(f"WHEN :client_id = {n} THEN {value}" for n, value in enumerate(values)) + " ELSE -1 END"

    lines = [
        "\\set k :k + 1",
        f"\\set lid {first_listing} + :client_id * {per_client} + :k - 1",
        f"\\set ws {by_client([workspace.pk for workspace, _owner in buyers])}",
        f"\\set uid {by_client([owner.pk for _workspace, owner in buyers])}",
    ]
    calls = 0
    for sql in sent:
        if "marketplace_purchase_credits(" in sql:
            sql, replaced = _CALL.subn("marketplace_purchase_credits(:ws, '{:lid}'::int8[], :uid,", sql)
            calls += replaced
        lines.append(sql.strip().rstrip(";") + ";")
    if calls != 1:
        raise RuntimeError(f"expected one call of marketplace_purchase_credits in the captured statements, found {calls}")
    return "\n".join(lines) + "\n"


def equivalent_check(*, buyers: list, transactions_per_client: int) -> dict:
    """Every pgbench transaction bought its listing: as many complete purchases per buyer as transactions."""
    from marketplace.models import LeadPurchase

    bought = [
        LeadPurchase.objects.filter(workspace=workspace, status=LeadPurchase.Status.COMPLETE).count()
        for workspace, _owner in buyers
    ]
    return {"purchases_by_client": bought, "every_transaction_bought": all(n == transactions_per_client for n in bought)}


def pgbench_check(database: dict, *, transactions: int) -> dict:
    with server_connection(database, SCRATCH_DATABASE) as conn:
        negative = conn.execute(f"SELECT count(*) FROM {PGBENCH_SCHEMA}.accounts WHERE balance < 0").fetchone()[0]
        debited = conn.execute(f"SELECT sum(1000000000 - balance) FROM {PGBENCH_SCHEMA}.accounts").fetchone()[0]
        purchases, spent = conn.execute(f"SELECT count(*), coalesce(sum(amount), 0) FROM {PGBENCH_SCHEMA}.purchases").fetchone()
        sold = conn.execute(f"SELECT count(*) FROM {PGBENCH_SCHEMA}.leads WHERE status = 'sold'").fetchone()[0]
    return {
        "purchases_rows": purchases,
        "purchases_equal_transactions": purchases == transactions,
        "debits_equal_purchase_amounts": debited == spent,
        "no_negative_balance": negative == 0,
        "distinct_leads_sold": sold,
    }


# --- Final checks -----------------------------------------------------------------------------------------------


def check_marketplace(
    *,
    buyers: list,
    partners: list,
    funding: Decimal,
    bought_by_buyer: dict[int, int],
    other_buyers: tuple[list, Decimal],
    other_bought: list[int],
) -> dict:
    """Balances == ledger sums (and what the purchases made them); no listing in two sales. `other_buyers` (the
    pgbench clients' buyers, and their funding) bought `other_bought` leads each."""
    from django.db.models import Count, Q, Sum

    from credits.models import CreditAccount, CreditTransaction
    from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing

    mismatched = []
    accounts = CreditAccount.objects.annotate(ledger=Sum("transactions__amount"), rows=Count("transactions"))
    for account in accounts:
        if account.balance != (account.ledger or Decimal("0.00")):
            mismatched.append(
                {"workspace_id": account.workspace_id, "balance": str(account.balance), "ledger_sum": str(account.ledger)}
            )
    expected_buyer = {}
    for workspace, _owner in buyers:
        expected = funding - PRICE * bought_by_buyer.get(workspace.pk, 0)
        actual = CreditAccount.objects.get(workspace=workspace).balance
        expected_buyer[workspace.pk] = actual == expected
    other, other_funding = other_buyers
    for (workspace, _owner), count in zip(other, other_bought, strict=True):
        expected_buyer[workspace.pk] = CreditAccount.objects.get(workspace=workspace).balance == other_funding - PRICE * count
    earnings = {
        row["partner"]: row["total"]
        for row in LeadPurchaseItem.objects.filter(is_sale=True, partner__isnull=False)
        .values("partner")
        .annotate(total=Sum("partner_earning"))
    }
    partners_paid = all(
        CreditAccount.objects.filter(workspace=partner).values_list("balance", flat=True).first() == earnings.get(partner.pk)
        for partner in partners
        if partner.pk in earnings
    )
    in_two_sales = LeadPurchaseItem.objects.filter(is_sale=True).values("listing").annotate(n=Count("id")).filter(n__gt=1).count()
    in_two_complete = (
        LeadPurchaseItem.objects.filter(purchase__status=LeadPurchase.Status.COMPLETE)
        .values("listing")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    sold = Listing.objects.filter(status=Listing.Status.SOLD).count()
    sales = LeadPurchaseItem.objects.filter(is_sale=True).count()
    complete = LeadPurchase.objects.filter(status=LeadPurchase.Status.COMPLETE).count()
    spends = CreditTransaction.objects.filter(kind=CreditTransaction.Kind.SPEND).count()
    sold_without_sale = Listing.objects.filter(status=Listing.Status.SOLD).filter(~Q(purchase_items__is_sale=True)).count()
    return {
        "credit_accounts": accounts.count(),
        "balances_equal_ledger_sums": not mismatched,
        "mismatched_accounts": mismatched[:5],
        "buyer_balances_as_expected": all(expected_buyer.values()),
        "partner_balances_equal_their_earnings": partners_paid,
        "listings_in_two_sales": in_two_sales,
        "listings_in_two_complete_purchases": in_two_complete,
        "sold_listings": sold,
        "sale_items": sales,
        "complete_purchases": complete,
        "spend_ledger_rows": spends,
        "sold_listings_without_a_sale": sold_without_sale,
        "ok": (
            not mismatched
            and all(expected_buyer.values())
            and partners_paid
            and in_two_sales == 0
            and in_two_complete == 0
            and sold == sales == complete == spends
            and sold_without_sale == 0
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--purchases-per-thread", type=int, default=250, help="service scenario")
    parser.add_argument("--http-purchases-per-thread", type=int, default=150)
    parser.add_argument("--single-thread-purchases", type=int, default=100)
    parser.add_argument("--partners", type=int, default=8, help="listings are round-robin over this many partners")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-jobs", type=int, default=2)
    parser.add_argument(
        "--http-gets-per-thread", type=int, default=300, help="the one-row GET the HTTP purchases are compared with"
    )
    args = parser.parse_args()
    equivalent_total = args.threads * args.purchases_per_thread
    service_total = args.threads * args.purchases_per_thread
    http_total = args.threads * args.http_purchases_per_thread
    # Every buyer can pay for all of its purchases twice over: no purchase may fail for lack of credits.
    per_buyer = args.purchases_per_thread + args.http_purchases_per_thread + args.single_thread_purchases + 1
    funding = (PRICE * per_buyer * 2).quantize(Decimal("0.01"))

    from django.conf import settings

    loadavg_before = os.getloadavg()
    results: dict = {}
    gunicorn = None
    # DEBUG off as production (and the gunicorn below) runs: no per-query logging into connection.queries.
    with tempfile.TemporaryFile(mode="w+") as gunicorn_log, scratch_database(SCRATCH_DATABASE, debug=False) as original:
        import logging

        from django.db import connection, connections

        from accounts.services import api_key_create

        # django-q logs one INFO line per enqueued task (one per purchase): keep stderr for progress.
        logging.getLogger("django-q").setLevel(logging.WARNING)
        postgres = server_version(original)
        try:
            scratch = dict(connection.settings_dict)

            log(
                f"Setting up {args.threads} buyers ({funding} credits each), {args.partners} partners, "
                f"{service_total + http_total + args.single_thread_purchases + 1 + equivalent_total} listings"
            )
            started = time.perf_counter()
            buyers = make_buyers(args.threads, funding=funding)
            partners = make_partners(args.partners)
            service_ids = make_listings(service_total, partners=partners, label="service")
            http_ids = make_listings(http_total, partners=partners, label="http")
            single_ids = make_listings(args.single_thread_purchases + 1, partners=partners, label="single")
            keys = [api_key_create(workspace=workspace, name="bench", created_by=owner)[1] for workspace, owner in buyers]
            # The equivalent pgbench transaction's own buyers and listings (client c: buyer c, a contiguous block).
            equivalent_buyers = make_buyers(
                args.threads, funding=(PRICE * args.purchases_per_thread * 2).quantize(Decimal("0.01")), label="pgbench"
            )
            equivalent_ids = make_listings(equivalent_total, partners=partners, label="pgbench")
            if equivalent_ids != list(range(equivalent_ids[0], equivalent_ids[0] + equivalent_total)):
                raise RuntimeError("the pgbench listings' ids are not contiguous")
            log(f"  set-up took {time.perf_counter() - started:.1f} s")
            connections.close_all()

            # (a0) One thread: the cost of one call, and the round trips of one purchase.
            log(f"(a0) service, one thread: {args.single_thread_purchases} one-lead purchases")
            results["service_single_thread"] = run_service("single", buyers[:1], [single_ids[1:]])
            results["service_single_thread"]["queries_per_purchase"] = count_queries(buyers[0], single_ids[0])
            sent = results["service_single_thread"]["queries_per_purchase"].pop("_sent")
            log(
                f"    {results['service_single_thread']['purchases_per_second']} purchases/s, "
                f"p50 {results['service_single_thread']['latency_ms']['p50']} ms, "
                f"{results['service_single_thread']['queries_per_purchase']['total']} queries per purchase"
            )

            # (a) The service. Slice i of the listings goes to thread i: every purchase buys a distinct lead.
            log(f"(a) service: {args.threads} threads x {args.purchases_per_thread} one-lead purchases")
            service_slices = [service_ids[i :: args.threads] for i in range(args.threads)]
            results["service"] = run_service("service", buyers, service_slices)
            log(
                f"    {results['service']['purchases_per_second']} purchases/s, "
                f"p50 {results['service']['latency_ms']['p50']} ms, p95 {results['service']['latency_ms']['p95']} ms, "
                f"{results['service']['failed_purchases']} failed"
            )

            # (b) The HTTP endpoint through gunicorn.
            log(
                f"(b) http: gunicorn with {args.gunicorn_workers} workers, {args.threads} client threads x "
                f"{args.http_purchases_per_thread} purchases"
            )
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "cursive.settings",
                "DATABASE_URL": database_url(scratch),
                "RATE_LIMIT_PURCHASES": "100000000",
                "RATE_LIMIT_READS": "100000000",
                "DEBUG": "false",
            }
            gunicorn, base = start_gunicorn(workers=args.gunicorn_workers, env=env, log_file=gunicorn_log)
            http_slices = [http_ids[i :: args.threads] for i in range(args.threads)]
            path = "/api/v1/marketplace/purchases"
            purchases_work = [
                [("POST", path, {"lead_ids": [listing_id], "payment": "credits"}) for listing_id in ids] for ids in http_slices
            ]
            results["http"] = run_http(base, keys, purchases_work, expected=201)
            log(
                f"    {results['http']['purchases_per_second']} purchases/s, p50 {results['http']['latency_ms']['p50']} ms; "
                f"(b2) GET /api/v1/credits: {args.threads} client threads x {args.http_gets_per_thread}"
            )
            get_work = [[("GET", "/api/v1/credits", None)] * args.http_gets_per_thread] * args.threads
            gets = run_http(base, keys, get_work, expected=200)
            results["http_get"] = {
                "path": "/api/v1/credits",
                "reads": "the workspace's credit account (one row), after the same middleware, API-key authentication and "
                "rate limiting as the purchases",
                **{key.replace("purchases", "requests"): value for key, value in gets.items() if not key.startswith("_")},
            }
            stop_gunicorn(gunicorn)
            gunicorn = None
            results["http"].update(
                {
                    "gunicorn_workers": args.gunicorn_workers,
                    "worker_class": "sync",
                    "debug": False,
                    "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
                }
            )
            log(
                f"    {results['http']['purchases_per_second']} purchases/s, p50 {results['http']['latency_ms']['p50']} ms, "
                f"p95 {results['http']['latency_ms']['p95']} ms, {results['http']['failed_purchases']} failed"
            )

            # (c) pgbench: the hand-written transaction, same server, same scratch database.
            log(f"(c) pgbench: preparing {PGBENCH_ACCOUNTS} accounts and {PGBENCH_LEADS:,} leads")
            pgbench_prepare(scratch)
            log(f"    running pgbench -c {args.pgbench_clients} -j {args.pgbench_jobs} -T {args.pgbench_seconds} -n")
            results["pgbench"] = run_pgbench(
                scratch, script=PGBENCH_SCRIPT, clients=args.pgbench_clients, jobs=args.pgbench_jobs, seconds=args.pgbench_seconds
            )
            results["pgbench"]["check"] = pgbench_check(scratch, transactions=results["pgbench"]["transactions"])

            # (d) pgbench replaying exactly what one service purchase sent, each client its own buyer and listings.
            log(f"(d) pgbench, equivalent transaction: -c {args.threads} -j {args.pgbench_jobs} -t {args.purchases_per_thread}")
            script = equivalent_script(
                sent, buyers=equivalent_buyers, first_listing=equivalent_ids[0], per_client=args.purchases_per_thread
            )
            results["pgbench_equivalent"] = run_pgbench(
                scratch,
                script=script,
                clients=args.threads,
                jobs=args.pgbench_jobs,
                transactions_per_client=args.purchases_per_thread,
                define={"k": 0},
            )
            results["pgbench_equivalent"]["check"] = equivalent_check(
                buyers=equivalent_buyers, transactions_per_client=args.purchases_per_thread
            )
            log(
                f"    {results['pgbench_equivalent']['tps']} TPS, p50 {results['pgbench_equivalent']['latency_ms']['p50']} ms, "
                f"every transaction bought: {results['pgbench_equivalent']['check']['every_transaction_bought']}"
            )
            log(
                f"    {results['pgbench']['tps']} TPS, p50 {results['pgbench']['latency_ms']['p50']} ms, "
                f"p95 {results['pgbench']['latency_ms']['p95']} ms"
            )

            log("Checking balances against ledgers and sales")
            # What each buyer really bought (thread i is buyer i in both scenarios), failures left out.
            bought = {
                workspace.pk: service_ok + http_ok
                for (workspace, _owner), service_ok, http_ok in zip(
                    buyers,
                    results["service"].pop("_succeeded_by_thread"),
                    results["http"].pop("_succeeded_by_thread"),
                    strict=True,
                )
            }
            bought[buyers[0][0].pk] += results["service_single_thread"].pop("_succeeded_by_thread")[0] + 1
            results["check"] = check_marketplace(
                buyers=buyers,
                partners=partners,
                funding=funding,
                bought_by_buyer=bought,
                other_buyers=(equivalent_buyers, (PRICE * args.purchases_per_thread * 2).quantize(Decimal("0.01"))),
                other_bought=results["pgbench_equivalent"]["check"]["purchases_by_client"],
            )
            log(f"    {'ok' if results['check']['ok'] else 'PROBLEMS FOUND'}")
        except BaseException:
            gunicorn_log.seek(0)
            if output := gunicorn_log.read():
                log("gunicorn log (last 5,000 characters):\n" + output[-5000:])
            raise
        finally:
            if gunicorn is not None:
                stop_gunicorn(gunicorn)

    pgbench_tps = results["pgbench"]["tps"]
    equivalent_tps = results["pgbench_equivalent"]["tps"]
    service_tps = results["service"]["purchases_per_second"]
    http_tps = results["http"]["purchases_per_second"]
    get_rps = results["http_get"]["requests_per_second"]

    def ratio(numerator, denominator):
        return round(numerator / denominator, 3) if numerator and denominator else None

    print(
        json.dumps(
            {
                "benchmark": "one-lead credit purchases under concurrency, against pgbench replaying the same statements "
                "and an authenticated one-row GET",
                # Service purchases/s over the same run's pgbench TPS of the statements one purchase sends (d): what
                # Python and Django add. HTTP purchases/s over the same gunicorn's one-row GET requests/s.
                "service_ratio": ratio(service_tps, equivalent_tps),
                "http_ratio": ratio(http_tps, get_rps),
                "service_purchases_per_second": service_tps,
                "pgbench_equivalent_tps": equivalent_tps,
                "http_purchases_per_second": http_tps,
                "http_get_requests_per_second": get_rps,
                "pgbench_simple_tps": pgbench_tps,
                "queries_per_purchase": results["service_single_thread"]["queries_per_purchase"]["total"],
                "run": run_context(loadavg_before),
                "threads": args.threads,
                "price_per_lead": str(PRICE),
                "partners": args.partners,
                "revenue_share_percent": str(settings.PARTNER_REVENUE_SHARE_DEFAULT),
                "debug": False,
                "connections": "service: one Django connection per thread, opened before the clock starts; http: one "
                "keep-alive-capable client connection per thread, gunicorn workers with persistent DB "
                "connections",
                "postgres": postgres,
                "cpu_count": os.cpu_count(),
                "service_single_thread": results["service_single_thread"],
                "service": results["service"],
                "http": results["http"],
                "http_get": results["http_get"],
                "pgbench": results["pgbench"],
                "pgbench_equivalent": results["pgbench_equivalent"],
                "ratios": {
                    "service_tps_over_pgbench_tps": round(service_tps / pgbench_tps, 3) if service_tps and pgbench_tps else None,
                    "http_tps_over_pgbench_tps": round(http_tps / pgbench_tps, 3) if http_tps and pgbench_tps else None,
                },
                "check": results["check"],
                "all_ok": bool(
                    results["check"]["ok"]
                    and results["pgbench"]["check"]["no_negative_balance"]
                    and results["pgbench"]["check"]["purchases_equal_transactions"]
                    and not results["service"]["failed_purchases"]
                    and not results["http"]["failed_purchases"]
                    and not results["service_single_thread"]["failed_purchases"]
                    and not results["http_get"]["failed_requests"]
                    and results["pgbench_equivalent"]["check"]["every_transaction_bought"]
                    and not results["pgbench_equivalent"]["failed_transactions"]
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
