"""The staff Jobs page in a browser: on a 390 px phone its rows are cards that fit the screen, and a failed job
is retried through the confirmation page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from cursive.jobs import job_enqueue, job_run
from cursive.models import Job, WorkerHeartbeat
from tests.conftest import PASSWORD

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_jobs_fit_a_phone_as_cards_and_a_failed_job_is_retried(page, live_server, tenant):
    staff = user_create(email="ops@cursive.test", password=PASSWORD, is_staff=True)
    failed = job_enqueue(
        "tests.analytics.job_funcs.fail_until_marked", max_attempts=1, name="smtp", workspace_id=tenant.workspace.pk
    )
    assert job_run(failed.pk) == "failed"
    job_enqueue("tests.cursive.job_funcs.record", name="receipt")
    base = live_server.url

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/admin/login/?next=/admin/jobs/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/admin/jobs/")

    rows = page.get_by_test_id("job")
    expect(rows).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page fits a 390 px phone"
    assert rows.first.evaluate("row => getComputedStyle(row).display") == "block", "each job is a card"
    card = page.locator(f'[data-testid="job"][data-id="{failed.pk}"]')
    expect(card).to_contain_text("ConnectionError: mail server unreachable")
    expect(card).to_contain_text("Acme")
    page.screenshot(path=str(artifact_path("jobs-phone.png")), full_page=True)

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(rows).to_have_count(1)
    # The mail server is back before the retry: should a worker of an earlier test still be polling this database,
    # the job it picks up succeeds rather than failing into the list again.
    WorkerHeartbeat.objects.create(name="smtp")
    card.get_by_test_id("retry").click()
    expect(page.get_by_test_id("retry-job")).to_contain_text("Runs it again with a fresh set of attempts")
    page.get_by_role("button", name="Retry").click()
    expect(page).to_have_url(re.compile(r"/admin/jobs/\?status=failed"))
    expect(page.locator(".messagelist")).to_contain_text(f"Side-effect job #{failed.pk} queued again.")
    expect(page.get_by_test_id("jobs-empty")).to_contain_text("No job matches these filters.")
    failed.refresh_from_db()
    assert failed.status in (Job.Status.PENDING, Job.Status.RUNNING, Job.Status.SUCCEEDED)
