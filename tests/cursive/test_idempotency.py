"""Idempotency-Key under faults: a request that dies mid-way neither charges nor blocks its retry."""

import json
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from credits.selectors import credit_balance
from cursive.api.idempotency import run_once
from cursive.errors import Conflict
from cursive.models import IdempotencyRecord
from cursive.retention import rule_apply
from marketplace.models import LeadPurchase
from tests.marketplace.conftest import fund, make_listing
from tests.servers import REPO, child_env

# Runs in a process of its own and is SIGKILLed the moment the purchase service returns, before the answer
# is stored: the worst moment for a web worker to die.
DYING_PURCHASE = """
import json, os, signal, sys
import django
django.setup()
from django.test import Client
import marketplace.services as services
real = services.purchase_create
def purchase_then_die(**kwargs):
    real(**kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
services.purchase_create = purchase_then_die
Client().post("/api/v1/marketplace/purchases", json.loads(sys.argv[2]), content_type="application/json",
              HTTP_AUTHORIZATION="Token " + sys.argv[1], HTTP_IDEMPOTENCY_KEY="buy-once")
"""


@pytest.mark.django_db(transaction=True)
def test_a_purchase_whose_worker_died_is_done_once_by_its_retry_at_once(tenant):
    fund(tenant.workspace, 100)
    listing = make_listing(price="10.00")
    body = {"lead_ids": [listing.pk], "payment": "credits"}

    died = subprocess.run(
        [sys.executable, "-c", DYING_PURCHASE, tenant.raw_key, json.dumps(body)],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -9, died.stderr
    assert not LeadPurchase.objects.exists(), "the dead request's purchase must not outlive it"

    retry = tenant.api().post("/api/v1/marketplace/purchases", body, format="json", HTTP_IDEMPOTENCY_KEY="buy-once")
    assert retry.status_code == 201, retry.json()
    again = tenant.api().post("/api/v1/marketplace/purchases", body, format="json", HTTP_IDEMPOTENCY_KEY="buy-once")
    assert again.status_code == 201 and again.json() == retry.json() and again.headers["Idempotent-Replayed"] == "true"
    assert LeadPurchase.objects.count() == 1
    assert credit_balance(workspace=tenant.workspace) == 90


@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_request_runs_is_409_then_replays(tenant):
    running, release = threading.Event(), threading.Event()
    answers = []

    def slow_call():
        running.set()
        release.wait(timeout=30)
        return 201, {"id": 7}

    def first():
        from django.db import connection

        try:
            answers.append(run_once(workspace=tenant.workspace, key="k", fingerprint="f", call=slow_call))
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert running.wait(timeout=30)
    with pytest.raises(Conflict) as refused:
        run_once(workspace=tenant.workspace, key="k", fingerprint="f", call=lambda: pytest.fail("ran twice"))
    assert refused.value.code == "idempotency_in_progress"
    release.set()
    thread.join(timeout=30)

    assert answers == [(201, {"id": 7}, False)]
    assert run_once(workspace=tenant.workspace, key="k", fingerprint="f", call=lambda: pytest.fail("ran twice")) == (
        201,
        {"id": 7},
        True,
    )


@pytest.mark.django_db
def test_an_atomic_call_that_fails_leaves_neither_its_writes_nor_the_key(tenant):
    def failing_pull():
        fund(tenant.workspace, 5)
        raise Conflict("refused half-way")

    with pytest.raises(Conflict):
        run_once(workspace=tenant.workspace, key="k", fingerprint="f", call=failing_pull, atomic=True)
    assert credit_balance(workspace=tenant.workspace) == 0
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_old_keys_are_pruned(tenant, settings):
    settings.IDEMPOTENCY_KEY_RETENTION_HOURS = 72
    run_once(workspace=tenant.workspace, key="old", fingerprint="f", call=lambda: (201, {}))
    run_once(workspace=tenant.workspace, key="new", fingerprint="f", call=lambda: (201, {}))
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=73))

    assert rule_apply(name="idempotency records") == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
