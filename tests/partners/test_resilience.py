"""Uploads under real concurrency, and a processing worker killed mid-file."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.models import Listing
from partners.models import Upload, UploadedLead
from partners.services import partner_profile_ensure, upload_approve, upload_process
from tests.servers import REPO, child_env

from .conftest import csv_text, person, upload_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def messy_file(rows: int) -> bytes:
    """Every 20th row repeats an earlier one and every 20th (offset) row is invalid: 5% + 5%."""
    lines = []
    for i in range(1, rows + 1):
        if i % 20 == 0:
            lines.append(person(i - 7))
        elif i % 20 == 10:
            lines.append(person(i, email="broken-at-" + str(i)))
        else:
            lines.append(person(i))
    return csv_text(lines).encode()


def test_two_partners_uploading_overlapping_files_at_once_list_each_lead_once(tenant_factory):
    partners = [tenant_factory(f"Partner {n}", kind="partner") for n in range(2)]
    for partner in partners:
        profile = partner_profile_ensure(workspace=partner.workspace)
        profile.trusted = True  # listed the moment processing ends: the race is at its tightest
        profile.save()
    files = [csv_text([person(i) for i in range(1, 61)]), csv_text([person(i) for i in range(31, 91)])]
    uploads = [upload_bytes(p, f.encode(), process=False) for p, f in zip(partners, files, strict=True)]
    barrier, errors = threading.Barrier(2), []

    def run(upload):
        try:
            barrier.wait()
            upload_process(upload_id=upload.pk)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in uploads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for upload in uploads:
        upload.refresh_from_db()
        assert upload.status == Upload.Status.LISTED
    assert Listing.objects.count() == 90
    assert Listing.objects.values("dedup_hash").distinct().count() == 90
    assert sum(u.listed_rows for u in uploads) == 90


def test_a_worker_killed_mid_file_is_resumed_and_lists_exactly_what_an_uninterrupted_run_does(tenant_factory, settings, tmp_path):
    settings.UPLOAD_CHUNK_ROWS = 200
    content = messy_file(20_000)
    interrupted_partner = tenant_factory("Interrupted", kind="partner")
    reference_partner = tenant_factory("Reference", kind="partner")
    interrupted = upload_bytes(interrupted_partner, content, process=False)
    env = child_env(UPLOAD_CHUNK_ROWS=200, MEDIA_ROOT=settings.MEDIA_ROOT)
    code = f"from partners.services import upload_process; upload_process(upload_id={interrupted.pk})"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
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
    total_chunks = 20_000 // 200
    assert interrupted.status == Upload.Status.PROCESSING and 5 <= interrupted.chunks_done < total_chunks, (
        "the worker must die mid-file"
    )
    # Another worker may take over only once the heartbeat is stale; before that the claim is refused.
    assert upload_process(upload_id=interrupted.pk) is None
    Upload.objects.filter(pk=interrupted.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    upload_process(upload_id=interrupted.pk)
    interrupted.refresh_from_db()

    reference = upload_bytes(reference_partner, content)
    assert interrupted.status == reference.status == Upload.Status.AWAITING_REVIEW
    counts = ("total_rows", "valid_rows", "duplicate_rows", "invalid_rows")
    assert [getattr(interrupted, c) for c in counts] == [getattr(reference, c) for c in counts] == [20_000, 18_000, 1_000, 1_000]
    staged = set(UploadedLead.objects.filter(upload=reference).values_list("dedup_hash", "row"))
    assert set(UploadedLead.objects.filter(upload=interrupted).values_list("dedup_hash", "row")) == staged
    assert interrupted.errors.count() == reference.errors.count() == 1_000
    upload_approve(upload_id=interrupted.pk, actor=None)
    assert set(Listing.objects.values_list("dedup_hash", flat=True)) == {key for key, _ in staged}
    assert Listing.objects.count() == 18_000
