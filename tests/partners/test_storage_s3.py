"""A partner upload with files in an S3-compatible bucket (moto): the draft between the mapping steps, the stored
upload and its processing by the real job all go through the bucket, and nothing is written under MEDIA_ROOT."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cursive.jobs import job_run
from cursive.models import Job
from partners.models import Upload
from partners.services import upload_approve

from .conftest import csv_text, person

pytestmark = pytest.mark.django_db


def test_a_partner_upload_goes_through_the_pages_and_the_worker_with_files_only_in_the_bucket(
    client, partner, s3_storage, settings
):
    client.force_login(partner.user)
    content = csv_text([person(1), person(2), person(3, email="not-an-email", phone="")]).encode()
    started = client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("northwind.csv", content), "price_per_lead": "4"})
    assert started.status_code == 302
    token = started.url.rstrip("/").rsplit("/", 1)[-1]
    [draft_key] = s3_storage.keys("drafts/")
    assert draft_key == f"drafts/{partner.workspace.pk}-{token}.csv" and s3_storage.read(draft_key) == content

    mapping_page = client.get(started.url).content.decode()
    assert "ann1@company1.example" in mapping_page  # the first rows, read back from the bucket
    assert re.search(r'<option value="email" selected>', mapping_page)

    fields = ["first_name", "last_name", "email", "phone", "title", "company_name"]
    columns = {f"col_{i}": field for i, field in enumerate(fields)}
    submitted = client.post(started.url, {**columns, "price_per_lead": "4"})
    upload = Upload.objects.get()
    assert submitted.status_code == 302 and submitted.url == f"/partner/uploads/{upload.pk}/"
    assert s3_storage.keys("drafts/") == []  # the draft became the upload
    assert s3_storage.keys("uploads/") == [upload.file.name] and s3_storage.read(upload.file.name) == content

    job = Job.objects.get(func="partners.tasks.process_upload")
    assert job_run(job.pk) == "succeeded"
    upload.refresh_from_db()
    assert upload.status == Upload.Status.AWAITING_REVIEW
    assert (upload.total_rows, upload.valid_rows, upload.invalid_rows) == (3, 2, 1)
    upload_approve(upload_id=upload.pk, actor=None, note="")
    listed = partner.api().get(f"/api/v1/partner/uploads/{upload.pk}").json()
    assert listed["status"] == "listed" and listed["valid_rows"] == 2

    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(media.rglob("*")), "a file was written on this machine's disk"


def test_an_abandoned_draft_in_the_bucket_is_pruned(client, partner, s3_storage, settings):
    from leads.drafts import drafts_prune

    client.force_login(partner.user)
    content = csv_text([person(1)]).encode()
    client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", content), "price_per_lead": "3"})
    assert len(s3_storage.keys("drafts/")) == 1
    assert drafts_prune() == 0  # fresh
    settings.UPLOAD_DRAFT_MAX_AGE_HOURS = -1  # every draft is now past its age
    assert drafts_prune() == 1 and s3_storage.keys("drafts/") == []


def test_an_upload_whose_file_left_the_bucket_fails_with_a_message(partner, s3_storage):
    from .conftest import upload_bytes

    upload = upload_bytes(partner, csv_text([person(1)]).encode(), process=False)
    s3_storage.client().delete_object(Bucket=s3_storage.name, Key=upload.file.name)
    job_run(Job.objects.get(func="partners.tasks.process_upload").pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED and "missing" in upload.failure_message
