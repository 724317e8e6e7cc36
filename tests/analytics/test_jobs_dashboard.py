"""The staff Jobs page (analytics.jobs): every kind of background job as uniform rows, made through the services
that run them; filters, keyset pages, retries through the owning app, CSV export, totals, staff only."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ, Task

from accounts.models import Workspace
from accounts.services import user_create
from analytics import jobs
from analytics.jobs import JobFilters, jobs_page, jobs_totals
from cursive.jobs import job_enqueue, job_run
from cursive.models import AuditEvent, Job, WorkerHeartbeat
from leads.services import lead_create
from partners.models import Upload
from partners.services import upload_create, upload_process
from segments.services import segment_create, segment_settings_update, segment_update, segments_auto_pull
from sequences import sending
from sequences.services import mailbox_create
from tests.analytics.pixel_data import make_pixel
from tests.mailservers import smtp_server
from tests.marketplace.conftest import fund
from tests.segments.conftest import make_person
from tests.sequences.test_sending import enrol, make_sequence
from tests.webhooks.conftest import receiver  # noqa: F401 (a fixture)
from tests.webhooks.test_delivery import deliver_all, make_endpoint
from visitors.services import events_record
from webhooks import services as webhook_services
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

CSV_HEADER = "first_name,last_name,email,phone,title,company_name\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(client):
    client.force_login(user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True))
    return client


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)


def upload(partner, rows: list[str], *, name="leads.csv") -> Upload:
    made = upload_create(
        workspace=partner.workspace,
        file=SimpleUploadedFile(name, (CSV_HEADER + "\n".join(rows) + "\n").encode(), "text/csv"),
        price_per_lead="5.00",
        mapping=None,
        created_by=partner.user,
    )
    upload_process(upload_id=made.pk)
    made.refresh_from_db()
    return made


def good(n: int) -> str:
    return f"Ann{n},Lee,ann{n}@company{n}.example,(415) 555-{2000 + n:04d},VP Sales,Company {n}"


BAD = "Bob,Ray,not-an-email,,CTO,Initech"


def failed_job(**kwargs) -> Job:
    """A side-effect job that failed for good, after its only attempt."""
    job = job_enqueue("tests.analytics.job_funcs.fail_until_marked", max_attempts=1, name="mail-fixed", **kwargs)
    assert job_run(job.pk) == "failed"
    job.refresh_from_db()
    return job


def identify_beacon(pixel, visitor: str) -> None:
    event = {"type": "identify", "visitor": visitor, "url": "https://example.com/", "referrer": "", "title": "", "name": ""}
    events_record(events=[(pixel.pk, {**event, "engaged_ms": None, "data": {"email": f"{visitor}@initech.example"}})])


def rows_by_kind(**filters) -> dict[str, list[jobs.JobRow]]:
    found: dict[str, list[jobs.JobRow]] = {}
    for row in jobs.jobs_iter(filters=JobFilters(**filters)):
        found.setdefault(row.kind, []).append(row)
    return found


def page_text(client, query="") -> str:
    response = client.get(f"/admin/jobs/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_each_kind_of_job_appears_with_its_status_workspace_and_counts(tenant, partner, receiver):  # noqa: F811
    listed = upload(partner, [good(1), good(2), BAD])
    job = failed_job(workspace_id=tenant.workspace.pk)
    email_job = job_enqueue("tests.cursive.job_funcs.record", name="receipt")

    for _ in range(3):
        make_person()
    fund(tenant.workspace, 100)
    segment = segment_create(workspace=tenant.workspace, name="Daily VPs", filters={})
    segment_update(workspace=tenant.workspace, segment_id=segment.pk, auto_pull_per_day=2)
    segment_settings_update(workspace=tenant.workspace, auto_pull_daily_credit_cap="50")
    assert segments_auto_pull() == 2
    schedule_failure = Task.objects.create(
        id="a" * 32, name="automatic segment pulls", func=jobs.AUTO_PULL_FUNC, started=timezone.now(),
        stopped=timezone.now() + dt.timedelta(seconds=3), result="Traceback ...\nOperationalError: the database went away",
        success=False,
    )  # fmt: skip

    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.answer_next(410)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "kim@initech.example"})
    deliver_all()

    pixel = make_pixel(tenant.workspace)
    identify_beacon(pixel, "v1")

    found = rows_by_kind()
    (upload_row,) = found["partner_upload"]
    assert (upload_row.id, upload_row.status, upload_row.rows_processed, upload_row.rows_failed) == (listed.pk, "succeeded", 3, 1)
    assert upload_row.workspace == "LeadForge" and upload_row.duration is not None and not upload_row.retryable

    generic = {row.id: row for row in found["job"]}
    assert generic[job.pk].status == "failed" and generic[job.pk].retryable
    assert "ConnectionError: mail server unreachable" in generic[job.pk].error and generic[job.pk].workspace == "Acme"
    assert generic[email_job.pk].status == "queued"
    partner_job = Job.objects.get(func="partners.tasks.process_upload")
    assert generic[partner_job.pk].workspace == "LeadForge", "found through the upload its arguments name"

    pulls = {row.source: row for row in found["segment_auto_pull"]}
    assert pulls["segment_auto_pull"].status == "succeeded" and pulls["segment_auto_pull"].rows_processed == 2
    assert pulls["segment_auto_pull"].workspace == "Acme"
    failure = pulls["segment_auto_pull_schedule"]
    assert (failure.id, failure.status) == (schedule_failure.id, "failed")
    assert failure.error == "OperationalError: the database went away"
    assert not failure.retryable, "a pull charges credits: not repeated from here"

    (delivery_row,) = [row for row in found["webhook_delivery"] if row.status == "failed"]
    delivery = Delivery.objects.get(status="failed")
    assert {row.status for row in found["webhook_delivery"]} == {"failed", "queued"}, "the rest wait for the endpoint"
    assert (delivery_row.id, delivery_row.status, delivery_row.workspace) == (delivery.pk, "failed", "Acme")
    assert delivery_row.error == "HTTP 410: receiver says no" and delivery_row.retryable

    (pixel_row,) = found["pixel_identification"]
    assert (pixel_row.status, pixel_row.rows_processed, pixel_row.workspace) == ("queued", 1, "Acme")
    assert "visitors.tasks.visitors_identify" not in {row.title for row in found["job"]}, "shown as its own kind"


def test_sequence_sends_appear_sent_and_failed(tenant):
    controller, sink = smtp_server()
    try:
        mailbox = mailbox_create(
            workspace=tenant.workspace,
            data={
                "email": sink.username, "from_name": "Sam", "smtp_host": sink.host, "smtp_port": sink.port,
                "smtp_username": sink.username, "smtp_password": sink.password, "smtp_security": "none",
                "daily_limit": 100, "hourly_limit": 100, "min_gap_seconds": 0, "warmup": False,
            },
        )  # fmt: skip
        sequence = make_sequence(tenant, mailbox, [{"type": "email", "subject": "Hi {{first_name}}", "body": "Hello"}])
        enrol(tenant, sequence, [("ann@x.test", "Ann", "Initech"), ("bob@y.test", "Bob", "")])
        sink.refuse_recipients["bob@y.test"] = "550 5.1.1 No such user"
        assert sending.run_due() == 1
    finally:
        controller.stop()
    rows = {row.title: row for row in rows_by_kind()["sequence_send"]}
    sent, failed = rows["“Hi Ann” to ann@x.test"], rows["“Hi Bob” to bob@y.test"]
    assert (sent.status, sent.workspace, sent.error) == ("succeeded", "Acme", "")
    assert (failed.status, failed.error) == ("failed", "550 5.1.1 No such user") and not failed.retryable


def test_filters_by_status_type_and_date(tenant, partner):
    old = upload(partner, [good(1)])
    Upload.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    recent = upload(partner, [BAD])  # every row invalid: the upload fails
    failed = failed_job()
    queued = job_enqueue("tests.cursive.job_funcs.record", name="later")

    def ids(**filters):
        return {(row.kind, row.id) for row in jobs.jobs_iter(filters=JobFilters(**filters))}

    assert ids(status="failed") == {("partner_upload", recent.pk), ("job", failed.pk)}
    assert ids(kind="partner_upload") == {("partner_upload", old.pk), ("partner_upload", recent.pk)}
    assert ids(kind="partner_upload", status="queued") == set()
    assert ("job", queued.pk) in ids(status="queued")
    assert ids(kind="partner_upload", until=timezone.now() - dt.timedelta(days=5)) == {("partner_upload", old.pk)}
    assert ids(kind="partner_upload", since=timezone.now() - dt.timedelta(days=5)) == {("partner_upload", recent.pk)}

    assert ids(status="cancelled") == set()

    old_day = (timezone.now() - dt.timedelta(days=10)).date().isoformat()
    staff_page = page_text_for_staff(query=f"?type=partner_upload&since={old_day}&until={old_day}")
    assert f'data-kind="partner_upload" data-id="{old.pk}"' in staff_page
    assert f'data-id="{recent.pk}"' not in staff_page


def page_text_for_staff(query: str) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user_create(email="filters@cursive.test", password="ops-password-123", is_staff=True))
    return page_text(client, query)


def _all_pages(filters: JobFilters, limit: int) -> list[jobs.JobRow]:
    rows, cursor = [], None
    while True:
        page = jobs_page(filters=filters, cursor=cursor, limit=limit)
        rows += page.rows
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_pages_show_every_job_once_newest_first_across_kinds_and_equal_times(tenant, partner):
    made = [job_enqueue("tests.cursive.job_funcs.record", name=f"j{n}").pk for n in range(7)]
    uploads = [upload(partner, [good(n)]).pk for n in range(3)]
    tie = timezone.now() - dt.timedelta(hours=1)
    Job.objects.filter(pk__in=made[:5]).update(created_at=tie)  # five jobs and two uploads queued in the same instant
    Upload.objects.filter(pk__in=uploads[:2]).update(created_at=tie)
    Job.objects.filter(func="partners.tasks.process_upload").delete()

    rows = _all_pages(JobFilters(), limit=2)
    expected = [*(("job", pk) for pk in made), *(("partner_upload", pk) for pk in uploads)]
    assert sorted((row.kind, row.id) for row in rows) == sorted(expected)
    assert [row.created for row in rows] == sorted((row.created for row in rows), reverse=True)
    assert jobs_page(filters=JobFilters(), cursor="not-a-cursor", limit=2).rows == rows[:2], "a bad cursor starts over"


def test_a_row_out_of_time_order_in_its_table_is_still_listed_once(tenant):
    made = [job_enqueue("tests.cursive.job_funcs.record", name=f"j{n}").pk for n in range(6)]
    Job.objects.filter(pk=made[4]).update(created_at=timezone.now() - dt.timedelta(days=1))
    Job.objects.filter(pk=made[1]).update(created_at=timezone.now() + dt.timedelta(minutes=1))
    assert sorted(row.id for row in _all_pages(JobFilters(kind="job"), limit=2)) == made


def test_retrying_a_failed_job_asks_first_then_queues_it_again(staff, django_capture_on_commit_callbacks):
    job = failed_job()
    confirm = staff.get(f"/admin/jobs/job/{job.pk}/retry/?next=/admin/jobs/%3Fstatus%3Dfailed")
    assert confirm.status_code == 200 and b"Queue this failed job again?" in confirm.content
    job.refresh_from_db()
    assert job.status == "failed", "asking changes nothing"

    queued_before = OrmQ.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/admin/jobs/job/{job.pk}/retry/", {"next": "/admin/jobs/?status=failed"})
    assert response.status_code == 302 and response["Location"] == "/admin/jobs/?status=failed"
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("pending", 0)
    assert OrmQ.objects.count() == queued_before + 1, "handed to django-q2 again"
    audit = AuditEvent.objects.get(action="jobs.retry")
    assert audit.target == f"job:{job.pk}" and audit.actor.email == "ops@cursive.test"

    WorkerHeartbeat.objects.create(name="mail-fixed")
    assert job_run(job.pk) == "succeeded"
    again = staff.post(f"/admin/jobs/job/{job.pk}/retry/", follow=True)
    assert b"not failed: nothing to retry" in again.content


def test_retrying_a_failed_webhook_delivery_delivers_it_again(staff, tenant, receiver, django_capture_on_commit_callbacks):  # noqa: F811
    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.answer_next(500)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "kim@initech.example"})
    deliver_all()
    delivery = Delivery.objects.get()
    for _ in range(len(webhook_services.RETRY_SCHEDULE)):
        receiver.answer_next(500)
        deliver_all(now=delivery.next_attempt_at)
        delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert f'data-kind="webhook_delivery" data-id="{delivery.pk}" data-status="failed"' in page_text(staff, "?status=failed")

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/admin/jobs/webhook_delivery/{delivery.pk}/retry/")
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at <= timezone.now()
    assert OrmQ.objects.exists(), "a delivery loop was woken"
    assert deliver_all() == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(receiver.got) == len(webhook_services.RETRY_SCHEDULE) + 2


def test_kinds_without_a_retry_say_why_and_refuse(staff, partner):
    failed = upload(partner, [BAD])
    text = page_text(staff, "?status=failed")
    assert "the partner uploads a corrected file" in text
    assert f"/admin/jobs/partner_upload/{failed.pk}/retry/" not in text
    response = staff.post(f"/admin/jobs/partner_upload/{failed.pk}/retry/", follow=True)
    assert b"cannot be retried from here" in response.content
    assert not AuditEvent.objects.filter(action="jobs.retry").exists()
    assert staff.post("/admin/jobs/nonsense/1/retry/", follow=True).status_code == 200


def test_csv_export_lists_the_filtered_jobs_with_cells_escaped(staff, partner):
    listed = upload(partner, [good(1), BAD], name="=HYPERLINK(1).csv")
    failed = failed_job()
    response = staff.get("/admin/jobs/export.csv?type=partner_upload")
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(lines) == 1
    (line,) = lines
    assert (line["type"], line["id"], line["workspace"]) == ("Partner upload", str(listed.pk), "LeadForge")
    assert line["status"] == "succeeded"
    assert line["what"] == "'=HYPERLINK(1).csv", "a formula is written as text"
    assert (line["rows_processed"], line["rows_failed"]) == ("2", "1")
    assert line["admin_url"] == f"/admin/partners/upload/{listed.pk}/change/"

    every = list(csv.DictReader(io.StringIO(b"".join(staff.get("/admin/jobs/export.csv").streaming_content).decode())))
    exported = {(line["type"], line["id"]) for line in every}
    assert exported >= {("Partner upload", str(listed.pk)), ("Side-effect job", str(failed.pk))}


def _timed(job: Job, *, status: str, seconds: float, ago: dt.timedelta) -> None:
    created = timezone.now() - ago
    Job.objects.filter(pk=job.pk).update(
        status=status, created_at=created, started_at=created, finished_at=created + dt.timedelta(seconds=seconds)
    )


def test_totals_for_24_hours_and_7_days(partner):
    for seconds, status in ((2, "succeeded"), (4, "succeeded"), (6, "failed")):
        _timed(job_enqueue("tests.cursive.job_funcs.record", name="x"), status=status, seconds=seconds, ago=dt.timedelta(hours=1))
    _timed(job_enqueue("tests.cursive.job_funcs.record", name="x"), status="succeeded", seconds=20, ago=dt.timedelta(days=3))
    _timed(job_enqueue("tests.cursive.job_funcs.record", name="x"), status="failed", seconds=1, ago=dt.timedelta(days=9))
    job_enqueue("tests.cursive.job_funcs.record", name="queued")  # neither succeeded nor failed yet
    first = upload(partner, [good(1), good(2), BAD])
    second = upload(partner, [good(3)])
    Upload.objects.filter(pk=first.pk).update(started_at=_before(first.finished_at, 8))
    Upload.objects.filter(pk=second.pk).update(started_at=_before(second.finished_at, 2))
    Job.objects.filter(func="partners.tasks.process_upload").delete()  # the uploads' hand-offs: not what is counted here

    totals = jobs_totals()
    jobs_24h, jobs_7d = totals.by_kind["job"]["24h"], totals.by_kind["job"]["7d"]
    assert (jobs_24h.jobs, jobs_24h.succeeded, jobs_24h.failed, jobs_24h.imported) == (4, 2, 1, None)
    assert jobs_24h.success_rate == 66.7 and jobs_24h.average_seconds == 4.0
    assert (jobs_7d.jobs, jobs_7d.succeeded, jobs_7d.failed) == (5, 3, 1)
    assert jobs_7d.success_rate == 75.0 and jobs_7d.average_seconds == 8.0, "(2 + 4 + 6 + 20) / 4"
    uploads = totals.by_kind["partner_upload"]["24h"]
    assert (uploads.jobs, uploads.imported, uploads.success_rate, uploads.average_seconds) == (2, 3, 100.0, 5.0)
    overall = totals.overall["24h"]
    assert (overall.jobs, overall.succeeded, overall.failed, overall.imported) == (6, 4, 1, 3)
    assert overall.success_rate == 80.0 and overall.average_seconds == 4.4, "(2 + 4 + 6 + 8 + 2) / 5"
    assert totals.by_kind["webhook_delivery"]["7d"].success_rate is None, "nothing finished: no rate"


def _before(moment, seconds):
    return moment - dt.timedelta(seconds=seconds)


def test_the_page_is_for_staff_only(client, tenant):
    failed = failed_job()
    assert client.get("/admin/jobs/")["Location"].startswith("/admin/login/")
    tenant.browser_client(client)
    for response in (
        client.get("/admin/jobs/"),
        client.get("/admin/jobs/export.csv"),
        client.post(f"/admin/jobs/job/{failed.pk}/retry/"),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_linked_from_the_admin_index_and_the_monitoring_page(staff):
    assert 'href="/admin/jobs/"' in staff.get("/admin/").content.decode()
    assert 'href="/admin/jobs/?status=failed"' in staff.get("/admin/monitoring/").content.decode()


def test_empty_state(staff):
    text = page_text(staff)
    assert 'data-testid="jobs-empty">No background job has run yet.' in text
    assert "No job matches these filters." in page_text(staff, "?status=failed")


def test_the_page_query_count_does_not_grow_with_the_number_of_jobs(staff, tenant, partner):
    pixel = make_pixel(tenant.workspace)

    def add_jobs(n: int, start: int) -> None:
        for i in range(start, start + n):
            failed_job(workspace_id=tenant.workspace.pk)
            identify_beacon(pixel, f"v{i}")
            upload(partner, [good(i)])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page_text(staff)
        return len(queries)

    add_jobs(1, 0)
    few = count()
    add_jobs(20, 100)
    assert count() == few
    rows = jobs_page(filters=JobFilters()).rows
    assert len(rows) == jobs.PAGE_SIZE and {row.kind for row in rows} == {"job", "pixel_identification", "partner_upload"}


def test_enrichments_appear_with_their_rows_and_status(tenant):
    from tests.enrichment.conftest import csv_bytes, make_person
    from tests.enrichment.conftest import upload as enrichment_upload

    person = make_person()
    rows = [[person.email, ""], ["", ""], ["nobody@nowhere.example", ""]]
    enrichment = enrichment_upload(tenant, csv_bytes(["email", "title"], rows))
    assert enrichment.status == "awaiting_confirmation"

    (row,) = rows_by_kind(kind="enrichment")["enrichment"]
    assert (row.id, row.status, row.status_detail) == (enrichment.pk, "succeeded", "Awaiting confirmation")
    assert (row.rows_processed, row.rows_failed, row.workspace) == (3, 1, tenant.workspace.name)
    assert not row.retryable and row.url == f"/admin/enrichment/enrichment/{enrichment.pk}/change/"
