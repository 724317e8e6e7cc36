"""Confirmation under real concurrency, and a matching worker killed mid-file."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from credits.models import CreditTransaction
from credits.selectors import credit_balance
from enrichment.models import Enrichment, EnrichmentRow
from enrichment.services import enrichment_build_result, enrichment_confirm, enrichment_match
from leads.models import Lead
from tests.locking import Paused
from tests.servers import REPO, child_env

from .conftest import csv_bytes, fund, make_people, upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_confirmations_at_once_charge_once(tenant):
    people = make_people(20, prefix="race")
    enrichment = upload(tenant, csv_bytes(["email"], [[p.email] for p in people]))
    fund(tenant, 100)
    results, errors = [], []
    barrier = threading.Barrier(4)

    def confirm():
        try:
            barrier.wait()
            results.append(enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {r.status for r in results} == {Enrichment.Status.PROCESSING}
    assert CreditTransaction.objects.filter(reference=enrichment.reference).count() == 1
    assert credit_balance(workspace=tenant.workspace) == Decimal("96.00")
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 20
    call_command("check_consistency")


def test_a_confirmation_waiting_on_another_sees_it_done_and_charges_nothing(tenant):
    people = make_people(5, prefix="wait")
    enrichment = upload(tenant, csv_bytes(["email"], [[p.email] for p in people]))
    fund(tenant, 100)

    def confirm():
        return enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)

    # The first confirmation stops right after adding the leads, holding its locks; the second starts then.
    with Paused(confirm, r"INSERT INTO leads_lead") as first:
        second = threading.Thread(target=lambda: (results.append(confirm()), connection.close()))
        results: list = []
        second.start()
        second.join(0.5)
        assert second.is_alive(), "the second confirmation must wait for the first's lock"
    second.join(30)
    assert first.result.credits_charged == Decimal("1.00")
    assert results[0].status == Enrichment.Status.PROCESSING and results[0].credits_charged == Decimal("1.00")
    assert CreditTransaction.objects.filter(reference=enrichment.reference).count() == 1
    assert credit_balance(workspace=tenant.workspace) == Decimal("99.00")


def big_list(rows: int) -> bytes:
    """Known people by email and by phone, repeats and strangers, so every counter moves in every chunk."""
    by_email = make_people(rows // 4, prefix="kill")
    make_people(rows // 4, prefix="killtel", email="", phone=lambda i: f"+1303555{i:04d}")
    lines = []
    for i in range(rows):
        kind = i % 4
        if kind == 0:
            lines.append([by_email[(i // 4) % len(by_email)].email, ""])
        elif kind == 1:
            lines.append(["", f"303-555-{(i // 4) % (rows // 4):04d}"])
        elif kind == 2:
            lines.append([by_email[(i * 7) % len(by_email)].email, ""])  # often a repeat of an earlier row
        else:
            lines.append([f"stranger{i}@nowhere.example", ""])
    return csv_bytes(["email", "phone"], lines)


@pytest.mark.slow
def test_a_worker_killed_mid_file_resumes_to_the_totals_of_an_uninterrupted_run_and_charges_once(tenant_factory, settings):
    settings.ENRICHMENT_CHUNK_ROWS = 100
    content = big_list(10_000)
    interrupted_tenant, reference_tenant = tenant_factory("Interrupted"), tenant_factory("Reference")
    interrupted = upload(interrupted_tenant, content, match=False)
    code = f"from enrichment.services import enrichment_match; enrichment_match(enrichment_id={interrupted.pk})"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=child_env(ENRICHMENT_CHUNK_ROWS=100, MEDIA_ROOT=settings.MEDIA_ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        interrupted.refresh_from_db()
        if interrupted.chunks_done >= 5:
            break
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    interrupted.refresh_from_db()
    assert interrupted.status == Enrichment.Status.MATCHING and 5 <= interrupted.chunks_done < 100, "must die mid-file"
    # Another worker takes over only once the heartbeat is stale.
    assert enrichment_match(enrichment_id=interrupted.pk) is None
    Enrichment.objects.filter(pk=interrupted.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    enrichment_match(enrichment_id=interrupted.pk)
    interrupted.refresh_from_db()

    reference = upload(reference_tenant, content)
    counts = (
        "status",
        "total_rows",
        "matched_rows",
        "already_owned_rows",
        "duplicate_rows",
        "unusable_rows",
        "billable_rows",
        "credits_quote",
        "matched_by",
        "fills",
    )
    assert [getattr(interrupted, c) for c in counts] == [getattr(reference, c) for c in counts]
    assert interrupted.total_rows == 10_000 and interrupted.matched_rows == 7_500
    assert interrupted.billable_rows == 5_000 and interrupted.credits_quote == Decimal("1000.00")

    def rows(enrichment):
        return set(EnrichmentRow.objects.filter(enrichment=enrichment).values_list("row", "person_id", "duplicate", "billable"))

    assert rows(interrupted) == rows(reference)
    for who, enrichment in ((interrupted_tenant, interrupted), (reference_tenant, reference)):
        fund(who, 1000)
        enrichment_confirm(workspace=who.workspace, enrichment_id=enrichment.pk, actor=who.user)
        enrichment_confirm(workspace=who.workspace, enrichment_id=enrichment.pk, actor=who.user)
        assert CreditTransaction.objects.filter(reference=enrichment.reference).count() == 1
        assert credit_balance(workspace=who.workspace) == 0
        assert Lead.objects.filter(workspace=who.workspace).count() == 5_000
    enrichment_build_result(enrichment_id=interrupted.pk)
    interrupted.refresh_from_db()
    assert interrupted.status == Enrichment.Status.COMPLETE and interrupted.result_rows == 10_000
    call_command("check_consistency")
