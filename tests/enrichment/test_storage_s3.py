"""Batch enrichment with files in an S3-compatible bucket (moto): the list dropped on the pages (a draft in the
bucket), one sent through the API, matching and the result file by the real jobs, the result downloaded, and
nothing written under MEDIA_ROOT."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cursive.jobs import job_run
from cursive.models import Job
from enrichment.models import Enrichment

from .conftest import csv_bytes, fund, make_people

pytestmark = pytest.mark.django_db


def _run_jobs(func: str) -> None:
    for job in Job.objects.filter(func=func, status=Job.Status.PENDING):
        assert job_run(job.pk) == "succeeded"


def _enrich_and_download(tenant, enrichment_id: int) -> list[str]:
    api = tenant.api()
    _run_jobs("enrichment.tasks.match_enrichment")
    assert api.get(f"/api/v1/enrichments/{enrichment_id}").json()["status"] == "awaiting_confirmation"
    assert api.post(f"/api/v1/enrichments/{enrichment_id}/confirm", {}, format="json").status_code == 202
    _run_jobs("enrichment.tasks.build_result")
    assert api.get(f"/api/v1/enrichments/{enrichment_id}").json()["status"] == "complete"
    response = api.get(f"/api/v1/enrichments/{enrichment_id}/download")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode().splitlines()


def test_a_list_dropped_on_the_pages_is_matched_enriched_and_downloaded_from_the_bucket(client, tenant, s3_storage, settings):
    people = make_people(3, prefix="s3page")
    content = csv_bytes(["Contact", "Notes"], [[p.email, "met at expo"] for p in people] + [["nobody@else.example", ""]])
    fund(tenant, 10)
    tenant.browser_client(client)
    started = client.post("/enrichment/new/", {"file": SimpleUploadedFile("expo.csv", content, content_type="text/csv")})
    assert started.status_code == 302
    [draft_key] = s3_storage.keys("drafts/")
    assert s3_storage.read(draft_key) == content
    assert people[0].email in client.get(started.url).content.decode()  # the mapping step reads the draft back

    done = client.post(started.url, {"col_0": "email", "col_1": ""})
    enrichment = Enrichment.objects.get()
    assert done.status_code == 302 and done.url == f"/enrichment/{enrichment.pk}/"
    assert s3_storage.keys("drafts/") == [] and s3_storage.keys("enrichments/") == [enrichment.file.name]

    lines = _enrich_and_download(tenant, enrichment.pk)
    assert lines[0].startswith("Contact,Notes,match_status,match_method,match_confidence,first_name")
    assert [line.split(",")[2] for line in lines[1:]] == ["matched", "matched", "matched", "no_match"]
    enrichment.refresh_from_db()
    assert enrichment.result_file.name in s3_storage.keys("enrichments/results/")

    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(media.rglob("*")), "a file was written on this machine's disk"


def test_a_list_sent_through_the_api_is_enriched_from_the_bucket(tenant, s3_storage, settings):
    people = make_people(2, prefix="s3api")
    fund(tenant, 10)
    response = tenant.api().post(
        "/api/v1/enrichments",
        {"file": SimpleUploadedFile("list.csv", csv_bytes(["Work Email"], [[p.email] for p in people]), "text/csv")},
        format="multipart",
    )
    assert response.status_code == 202
    lines = _enrich_and_download(tenant, response.json()["id"])
    assert len(lines) == 3 and all(",matched,email,1.000," in line for line in lines[1:])
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(media.rglob("*")), "a file was written on this machine's disk"
