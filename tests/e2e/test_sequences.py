"""Sequences in Chromium, under the Content-Security-Policy: connect a mailbox (a real SMTP server checks the login),
build a sequence with two emails and a wait without a page reload, preview it for a lead, activate it, enrol three
leads from My Leads' bulk action "Add to sequence", have the first sends happen and see them in the sequence's report,
and the lead drawer's timeline.

The sending worker's job is done by calling `sequences.sending.run_due()` from the test process against the live
server's database (no job cluster runs here); the emails reach the real SMTP server."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from leads.services import lead_create
from sequences import sending
from sequences.models import Enrollment, Mailbox, Sequence
from tests.mailservers import smtp_server

from .test_visitors_pages import _log_in, _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp():
    controller, sink = smtp_server()
    yield sink
    controller.stop()


def _step(page, index):
    return page.get_by_test_id("step").nth(index)


def _preview_ready(page):
    """htmx attaches its handlers to a swapped-in preview form only when the swap settles (and then drops the
    `htmx-added` class): a choice made before that would trigger nothing, which a busy machine makes likely."""
    expect(page.get_by_test_id("preview")).not_to_have_class(re.compile(r"\bhtmx-added\b"))
    return page


def test_build_preview_enrol_and_report(page, live_server, tenant, smtp):
    base = live_server.url
    leads = [
        lead_create(
            workspace=tenant.workspace,
            source="manual",
            data={"email": f"{name.lower()}@initech.test", "first_name": name, "company_name": "Initech"},
        )
        for name in ("Ann", "Bob", "Cid")
    ]
    _log_in(page, base, tenant)
    problems = _watch(page)

    # No mailbox yet: the empty state leads to connecting one.
    page.get_by_role("link", name="Sequences", exact=True).first.click()
    expect(page.get_by_test_id("sequences-empty")).to_contain_text("A sequence is a series of emails")
    page.get_by_test_id("connect-mailbox").click()
    page.get_by_role("link", name="Gmail / Google Workspace").click()
    expect(page.get_by_label("SMTP host")).to_have_value("smtp.gmail.com")
    page.get_by_role("link", name="Other (custom SMTP/IMAP)").click()
    page.get_by_label("Email address").fill(smtp.username)
    page.get_by_label("SMTP host").fill(smtp.host)
    page.get_by_label("SMTP port").fill(str(smtp.port))
    page.get_by_label("SMTP security").select_option("none")
    page.get_by_label("SMTP password").fill("not-the-password")
    page.get_by_test_id("save-mailbox").click()
    expect(page.locator(".field", has=page.get_by_label("SMTP password"))).to_contain_text("refused the user name or password")
    page.get_by_label("SMTP password").fill(smtp.password)
    # A test mailbox: no pause between emails, so the three first sends go out in one run.
    page.get_by_label("Seconds between emails").fill("0")
    page.get_by_test_id("save-mailbox").click()
    expect(page.get_by_test_id("mailbox-row")).to_contain_text(smtp.username)
    expect(page.get_by_test_id("no-imap")).to_have_text("Replies and bounces are not read: add IMAP")
    assert Mailbox.objects.filter(workspace=tenant.workspace).count() == 1

    # A new sequence, then its steps, each added and saved in place.
    page.get_by_role("link", name="Sequences", exact=True).first.click()
    page.get_by_test_id("new-sequence").click()
    page.get_by_label("Name").fill("Pricing follow-up")
    # Any day, any hour: the sends below do not depend on when the test runs.
    for day in ("Sat", "Sun"):
        page.get_by_label(day, exact=True).check()
    page.get_by_label("From", exact=True).fill("00:00")
    page.get_by_label("Until", exact=True).fill("23:59")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_test_id("steps-empty")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    page.get_by_test_id("add-email").click()
    expect(page.get_by_test_id("step")).to_have_count(1)
    _step(page, 0).get_by_label("Subject").fill("Hi {{first_name}}, a question about {{company_name|your team}}")
    _step(page, 0).get_by_label("Body").fill("Hello {{first_name}},\nHow is {{company_name}} doing?")
    _step(page, 0).get_by_test_id("save-step").click()
    expect(page.locator(".toast").last).to_contain_text("Step 1 saved")
    page.get_by_test_id("add-wait").click()
    expect(page.get_by_test_id("step")).to_have_count(2)
    _step(page, 1).get_by_label("Wait").fill("3")
    _step(page, 1).get_by_test_id("save-step").click()
    expect(page.locator(".toast").last).to_contain_text("Step 2 saved")
    page.get_by_test_id("add-email").click()
    expect(page.get_by_test_id("step")).to_have_count(3)
    _step(page, 2).get_by_label("Subject").fill("Following up, {{first_name}}")
    _step(page, 2).get_by_label("Body").fill("")
    _step(page, 2).get_by_test_id("save-step").click()
    expect(_step(page, 2).get_by_test_id("step-errors")).to_contain_text("An email step needs a body.")
    _step(page, 2).get_by_label("Body").fill("Just checking in.")
    _step(page, 2).get_by_test_id("save-step").click()
    expect(page.locator(".toast").last).to_contain_text("Step 3 saved")

    # A condition added by mistake is removed after confirming; a step is moved and moved back.
    page.get_by_test_id("add-condition").click()
    expect(page.get_by_test_id("step")).to_have_count(4)
    _step(page, 3).get_by_test_id("delete-step").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Remove step 4 (condition)?")
    dialog.locator("button[value=yes]").click()
    expect(page.get_by_test_id("step")).to_have_count(3)
    _step(page, 2).get_by_test_id("move-up").click()
    expect(_step(page, 1)).to_have_attribute("data-kind", "email")
    _step(page, 1).get_by_test_id("move-down").click()
    expect(_step(page, 1)).to_have_attribute("data-kind", "wait")
    assert page.evaluate("window.notReloaded") is True

    sequence = Sequence.objects.get(workspace=tenant.workspace)
    steps = list(sequence.steps.order_by("position"))
    assert [step.kind for step in steps] == ["email", "wait", "email"] and steps[1].wait_hours == 72
    assert steps[2].body == "Just checking in."

    # The preview, for a chosen lead, with the variables filled.
    _preview_ready(page).get_by_label("For lead").select_option(str(leads[0].pk))
    expect(page.get_by_test_id("preview-subject")).to_have_text("Hi Ann, a question about Initech")
    expect(page.get_by_test_id("preview-body")).to_contain_text("How is Initech doing?")
    _preview_ready(page).get_by_label("Email", exact=True).select_option("2")
    expect(page.get_by_test_id("preview-subject")).to_have_text("Following up, Ann")
    # Saving a step brings the preview along, for the same lead and email.
    _step(page, 2).get_by_label("Subject").fill("Still there, {{first_name}}?")
    _step(page, 2).get_by_test_id("save-step").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Still there, Ann?")

    # Activate, then enrol the three leads from My Leads.
    page.get_by_test_id("activate-sequence").click()
    expect(page.get_by_test_id("sequence-status")).to_have_text("active")
    page.get_by_role("link", name="My Leads").first.click()
    for lead in leads:
        page.locator(f'input[name="lead_ids"][value="{lead.pk}"]').check()
    page.get_by_test_id("bulk-action").select_option(label="Add to sequence")
    page.get_by_test_id("bulk-sequence").select_option(label="Pricing follow-up")
    page.get_by_test_id("bulk-apply").click()
    expect(page.locator("#toasts .toast.success")).to_contain_text("Enrolled 3.")
    assert Enrollment.objects.filter(sequence=sequence, status="active", source="manual").count() == 3

    # The sending worker's turn. In the last minute of a day the window is closed: the sends wait for midnight.
    deadline, sent = time.monotonic() + 90, 0
    while sent < 3 and time.monotonic() < deadline:
        if not (count := sending.run_due()):
            time.sleep(0.5)
        sent += count
    assert sent == 3 and sorted(item.rcpt_tos[0] for item in smtp.received()) == [lead.email for lead in leads]

    # The report: three enrolled, step 1 sent to each, and the lead's timeline in the drawer.
    page.get_by_role("link", name="Sequences", exact=True).first.click()
    page.get_by_role("link", name="Pricing follow-up").click()
    page.get_by_test_id("report-tab").click()
    expect(page.get_by_test_id("enrolled")).to_have_text("3")
    expect(page.get_by_test_id("sent")).to_have_text("3")
    expect(page.get_by_test_id("enrollment-row")).to_have_count(3)
    expect(page.get_by_test_id("stats-table")).to_contain_text("not tracked")
    step_rows = page.get_by_test_id("stats-step")
    expect(step_rows).to_have_count(2)
    expect(step_rows.nth(0).locator("td").first).to_have_text("3")
    expect(step_rows.nth(1).locator("td").first).to_have_text("0")
    # Each enrolment now waits out the 3 days to step 3, the second email.
    expect(page.get_by_test_id("enrollment-row").locator("td:nth-child(3)")).to_have_text(["3", "3", "3"])
    page.get_by_role("link", name="Ann").click()
    expect(page.get_by_test_id("lead-drawer").get_by_test_id("lead-sequences")).to_contain_text("Pricing follow-up")
    activities = page.get_by_test_id("lead-drawer").get_by_test_id("lead-activity")
    expect(activities.first).to_contain_text("Enrolled")
    expect(activities.nth(1)).to_contain_text("Sent")
    assert problems == []
