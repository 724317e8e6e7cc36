"""Cursive on two "nodes": each a real gunicorn web process and a real django-q2 cluster (manage.py qcluster), with
a working directory and a MEDIA_ROOT of its own, sharing only the database (the test database) and an S3-compatible
bucket (moto). What one node takes, the other can serve and process; what must happen once happens once."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.test import Client
from pytest_httpserver import HTTPServer

from accounts.models import Workspace
from credits.selectors import credit_balance
from cursive.events import emit_many
from cursive.jobs import job_enqueue
from cursive.models import Job, WorkerHeartbeat
from marketplace.models import LeadPurchase
from partners.models import Upload
from tests.marketplace.conftest import fund, make_listing
from tests.servers import REPO, child_env, gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECEIVER_HOST = "127.0.0.2"  # the private address the outbound guard is told to allow, as in tests/webhooks
READ_LIMIT = 12
EVENTS = 12
JOBS = 12
DEADLINE_SECONDS = 120


@dataclass
class Node:
    name: str
    directory: Path
    env: dict
    web: str = ""

    @property
    def media(self) -> Path:
        return self.directory / "media"


def _node(name: str, tmp_path: Path, storage_url: str) -> Node:
    directory = tmp_path / f"node-{name}"
    (directory / "media").mkdir(parents=True)
    env = child_env(
        PYTHONPATH=REPO,  # the code is shared; the working directory is the node's own
        MEDIA_ROOT=directory / "media",
        STORAGE_URL=storage_url,
        CURSIVE_TEST_NODE=name,
        Q_WORKERS=2,
        RATE_LIMIT_READS=READ_LIMIT,
        RATE_LIMIT_WINDOW_SECONDS=1_000_000_000,  # one window for the whole test: no reset can interfere
        OUTBOUND_ALLOW_PRIVATE_NETWORKS="false",
        OUTBOUND_ALLOWED_NETWORKS=f"{RECEIVER_HOST}/32",
    )
    return Node(name=name, directory=directory, env=env)


@contextmanager
def _cluster(node: Node):
    log = (node.directory / "qcluster.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "qcluster"],
        cwd=node.directory,
        env=node.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_for(condition, what: str, nodes: list[Node]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"--- node {node.name} qcluster.log ---\n{(node.directory / 'qcluster.log').read_text(errors='replace')[-3000:]}"
                for node in nodes
                if (node.directory / "qcluster.log").exists()
            )
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.25)


def _csrf(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def _upload_through_a_processed_by_b(a: Node, b: Node, partner, bucket) -> Upload:
    """The file is dropped on A's page, mapped on B's page (the draft is in the bucket), processed by B's worker
    (the only cluster running), and shown by both."""
    browser = Client()
    browser.force_login(partner.user)
    session = requests.Session()
    session.cookies.set("sessionid", browser.cookies["sessionid"].value)
    content = b"first_name,last_name,email,phone\nAnn,Lee,ann@north.example,\nBo,Kim,bo@north.example,\nCy,Oh,nope,\n"
    start = session.get(a.web + "/partner/uploads/new/")
    dropped = session.post(
        a.web + "/partner/uploads/new/",
        data={"csrfmiddlewaretoken": _csrf(start), "price_per_lead": "4"},
        files={"file": ("northwind.csv", content, "text/csv")},
        allow_redirects=False,
    )
    assert dropped.status_code == 302, dropped.text[-2000:]
    assert len(bucket.keys("drafts/")) == 1
    mapping = session.get(b.web + dropped.headers["Location"])
    assert mapping.status_code == 200 and "ann@north.example" in mapping.text
    columns = {"col_0": "first_name", "col_1": "last_name", "col_2": "email", "col_3": "phone"}
    submitted = session.post(
        b.web + dropped.headers["Location"],
        data={**columns, "price_per_lead": "4", "csrfmiddlewaretoken": _csrf(mapping)},
        allow_redirects=False,
    )
    upload = Upload.objects.get(workspace=partner.workspace)
    assert submitted.status_code == 302 and submitted.headers["Location"] == f"/partner/uploads/{upload.pk}/"
    assert bucket.keys("drafts/") == [] and bucket.keys("uploads/") == [upload.file.name]

    with _cluster(b):
        _wait_for(
            lambda: Upload.objects.get(pk=upload.pk).status not in (Upload.Status.QUEUED, Upload.Status.PROCESSING),
            "node B's worker to process the upload",
            [b],
        )
    upload.refresh_from_db()
    assert upload.status == Upload.Status.AWAITING_REVIEW, upload.failure_message
    assert (upload.total_rows, upload.valid_rows, upload.invalid_rows) == (3, 2, 1)
    headers = {"Authorization": f"Token {partner.raw_key}"}
    for node in (a, b):
        assert "northwind.csv" in session.get(node.web + "/partner/").text
        detail = requests.get(f"{node.web}/api/v1/partner/uploads/{upload.pk}", headers=headers, timeout=30).json()
        assert (detail["status"], detail["valid_rows"]) == ("awaiting_review", 2)
    return upload


def _jobs_and_webhooks_done_once(a: Node, b: Node, buyer) -> collections.Counter:
    """With both clusters running, every queued job and every webhook delivery is done exactly once."""
    with HTTPServer(host=RECEIVER_HOST, port=0) as receiver:
        receiver.expect_request("/hooks", method="POST").respond_with_json({"ok": True})
        created = requests.post(
            a.web + "/api/v1/webhooks",
            json={"url": receiver.url_for("/hooks")},
            headers={"Authorization": f"Token {buyer.raw_key}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        with _cluster(a), _cluster(b):
            emit_many(workspace=buyer.workspace, type="lead.created", items=[{"lead_id": i} for i in range(EVENTS)])
            jobs = [job_enqueue("tests.reliability.node_funcs.record_node", label=f"once-{i}") for i in range(JOBS)]
            _wait_for(
                lambda: (
                    len(receiver.log) >= EVENTS
                    and Job.objects.filter(pk__in=[job.pk for job in jobs], status=Job.Status.SUCCEEDED).count() == JOBS
                ),
                "both clusters to deliver every event and run every job",
                [a, b],
            )
            # Both clusters keep polling the queue for a few rounds (every 0.5 s): a second run would show now.
            time.sleep(3)
        delivered = [request.headers["webhook-id"] for request, _ in receiver.log]
    assert len(delivered) == EVENTS and len(set(delivered)) == EVENTS
    runs = list(WorkerHeartbeat.objects.filter(name__startswith="once-").values_list("name", flat=True))
    assert sorted(name.split("@")[0] for name in runs) == sorted(f"once-{i}" for i in range(JOBS))
    assert set(Job.objects.filter(pk__in=[job.pk for job in jobs]).values_list("attempts", flat=True)) == {1}
    return collections.Counter(name.split("@")[1] for name in runs)


def _limits_and_idempotency_hold_across_nodes(a: Node, b: Node, reader, buyer) -> None:
    alternating = [a.web, b.web] * READ_LIMIT
    statuses = [
        requests.get(web + "/api/v1/me", headers={"Authorization": f"Token {reader.raw_key}"}, timeout=30).status_code
        for web in alternating
    ]
    assert statuses == [200] * READ_LIMIT + [429] * READ_LIMIT

    fund(buyer.workspace, 100)
    listing = make_listing(price="7.00")
    headers = {"Authorization": f"Token {buyer.raw_key}", "Idempotency-Key": "buy-once-on-any-node"}
    answers = [
        requests.post(web + "/api/v1/marketplace/purchases", json={"lead_ids": [listing.pk]}, headers=headers, timeout=30)
        for web in (a.web, b.web, a.web)
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert [answer.headers.get("Idempotent-Replayed") for answer in answers] == [None, "true", "true"]
    assert LeadPurchase.objects.filter(workspace=buyer.workspace).count() == 1
    assert credit_balance(workspace=buyer.workspace) == Decimal("93.00")


def test_two_nodes_share_files_jobs_limits_and_idempotency(tenant_factory, s3_bucket, tmp_path):
    partner = tenant_factory("Northwind Data", kind=Workspace.Kind.PARTNER)
    a, b = _node("A", tmp_path, s3_bucket.storage_url), _node("B", tmp_path, s3_bucket.storage_url)
    with ExitStack() as stack:
        for node in (a, b):
            node.web = stack.enter_context(
                gunicorn(workers=1, env=node.env, access_log=node.directory / "access.log", cwd=node.directory)
            )
        _upload_through_a_processed_by_b(a, b, partner, s3_bucket)
        ran_on = _jobs_and_webhooks_done_once(a, b, tenant_factory("Hooked Co"))
        _limits_and_idempotency_hold_across_nodes(a, b, tenant_factory("Reader Co"), tenant_factory("Buyer Co"))
    print(f"jobs run per node: {dict(ran_on)}")
    for node in (a, b):
        assert not any(node.media.rglob("*")), f"node {node.name} wrote files to its own disk"
