"""The sending engine (sequences.sending) against a real SMTP server (aiosmtpd), data through the services."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from cursive.models import OutboxEvent
from leads.services import lead_create, suppressions_add
from sequences import sending, tokens
from sequences.models import Activity, Enrollment, Mailbox, Message
from sequences.services import enrollments_create, mailbox_update, message_clicked, sequence_create, sequence_update

pytestmark = pytest.mark.django_db

EVERY_HOUR = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}
INTRO = {
    "type": "email",
    "subject": "Hi {{first_name}}",
    "body": "Hello {{first_name}} at {{company_name|your team}},\n\nSee https://acme.test/pricing?plan=pro.\n\nSam",
}
FOLLOW_UP = {"type": "email", "subject": "Re: {{first_name}}", "body": "Any thoughts, {{first_name}}?"}


def make_sequence(tenant, mailbox, steps, **options):
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "Outreach", "mailbox_id": mailbox.pk, "steps": steps, "send_window": EVERY_HOUR, **options},
    )
    return sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})


def enrol(tenant, sequence, people):
    """people: [(email, first_name, company_name)] -> their leads, enrolled."""
    leads = [
        lead_create(
            workspace=tenant.workspace,
            data={"email": email, "first_name": first, "company_name": company},
            source="manual",
        )
        for email, first, company in people
    ]
    result = enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads])
    assert result.enrolled == len(people), result.skipped
    return leads


THREE = [("ann@x.test", "Ann", "Initech"), ("bob@y.test", "Bob", ""), ("cy@z.test", "Cy", "Globex")]


def test_a_three_step_sequence_sends_step_one_with_variables_and_headers_then_step_two_after_the_wait(
    tenant, mailbox, smtp, settings
):
    sequence = make_sequence(tenant, mailbox, [INTRO, {"type": "wait", "hours": 48}, FOLLOW_UP])
    enrol(tenant, sequence, THREE)
    start = timezone.now()

    assert sending.run_due(now=start) == 3
    assert len(smtp.received()) == 3
    ann = smtp.to("ann@x.test")[0].message
    assert ann["Subject"] == "Hi Ann"
    assert ann["From"] == "Sam Sender <sender@acme.test>"
    row = Message.objects.get(to_email="ann@x.test")
    assert row.status == "sent" and row.sent_at and row.subject == "Hi Ann"
    assert ann["Message-ID"] == f"<{row.message_id}>" and row.message_id.endswith("@acme.test")
    url, mailto = ann["List-Unsubscribe"].split(", ")
    assert mailto == "<mailto:sender@acme.test?subject=unsubscribe>"
    assert url.startswith("<" + settings.SITE_URL.rstrip("/") + "/u/") and url.endswith("/>")
    assert tokens.unsubscribe_message_pk(url.strip("<>").rstrip("/").rpartition("/")[2]) == row.pk
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = ann.get_body(("plain",)).get_content()
    html = ann.get_body(("html",)).get_content()
    assert "Hello Ann at Initech," in text
    assert "https://acme.test/pricing" not in text.replace("acme.test/pricing?plan=pro</a>", "")
    # Each link goes through the click redirect, which knows the message and the destination.
    click = next(word for word in text.split() if "/e/c/?t=" in word).rstrip(".")
    assert tokens.click_target(parse_qs(urlsplit(click).query)["t"][0]) == (row.pk, "https://acme.test/pricing?plan=pro")
    assert 'href="' + click.replace("&", "&amp;") + '"' in html
    assert "<img" not in html  # open tracking is off by default
    assert "Hello Bob at your team," in smtp.to("bob@y.test")[0].message.get_body(("plain",)).get_content()

    enrollment = Enrollment.objects.get(email="ann@x.test")
    assert enrollment.current_step == 2 and enrollment.status == "active"
    assert start + dt.timedelta(hours=47) < enrollment.next_send_at < start + dt.timedelta(hours=49)
    assert sending.run_due(now=start + dt.timedelta(hours=1)) == 0
    assert sending.run_due(now=start + dt.timedelta(hours=47)) == 0
    assert len(smtp.received()) == 3

    assert sending.run_due(now=start + dt.timedelta(hours=48, minutes=1)) == 3
    assert [item.message["Subject"] for item in smtp.to("cy@z.test")] == ["Hi Cy", "Re: Cy"]
    assert set(Enrollment.objects.values_list("status", "current_step")) == {("completed", 3)}
    completed = OutboxEvent.objects.filter(type="sequence.completed")
    assert sorted(event.data["email"] for event in completed) == ["ann@x.test", "bob@y.test", "cy@z.test"]
    kinds = list(Activity.objects.filter(enrollment=enrollment).order_by("id").values_list("kind", flat=True))
    assert kinds == ["enrolled", "sent", "sent", "completed"]


def test_the_open_pixel_is_added_only_when_the_sequence_tracks_opens(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO], track_opens=True)
    enrol(tenant, sequence, THREE[:1])
    assert sending.run_due() == 1
    row = Message.objects.get()
    html = smtp.received()[0].message.get_body(("html",)).get_content()
    pixel = html.partition('<img src="')[2].partition('"')[0]
    assert tokens.open_message_pk(pixel.rpartition("/")[2].removesuffix(".gif")) == row.pk
    assert Enrollment.objects.get().status == "completed"


def test_the_hourly_cap_holds_and_the_rest_goes_in_the_next_hours(tenant, mailbox, smtp):
    mailbox_update(workspace=tenant.workspace, mailbox_id=mailbox.pk, data={"hourly_limit": 5})
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, [(f"p{n}@x.test", f"P{n}", "Co") for n in range(12)])
    start = timezone.now()

    assert sending.run_due(now=start) == 5
    assert sending.run_due(now=start) == 0
    assert sending.run_due(now=start + dt.timedelta(minutes=59 - start.minute)) == 0
    assert len(smtp.received()) == 5
    assert Mailbox.objects.get().next_send_at == start.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)

    assert sending.run_due(now=start + dt.timedelta(hours=1)) == 5
    assert sending.run_due(now=start + dt.timedelta(hours=2)) == 2
    assert len(smtp.received()) == 12 and len({item.rcpt_tos[0] for item in smtp.received()}) == 12


def test_a_new_mailbox_warms_up(tenant, mailbox, smtp, settings):
    settings.MAILBOX_WARMUP_START_PER_DAY = 3
    settings.MAILBOX_WARMUP_STEP_PER_DAY = 2
    mailbox_update(workspace=tenant.workspace, mailbox_id=mailbox.pk, data={"warmup": True})
    mailbox.refresh_from_db()
    created = mailbox.created_at.date()
    assert sending.daily_cap(mailbox, today=created) == 3
    assert sending.daily_cap(mailbox, today=created + dt.timedelta(days=2)) == 7
    assert sending.daily_cap(mailbox, today=created + dt.timedelta(days=400)) == mailbox.daily_limit

    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, [(f"p{n}@x.test", f"P{n}", "Co") for n in range(5)])
    start = timezone.now()
    assert sending.run_due(now=start) == 3
    # Later the same (UTC) day: the day's ramp is used up. (Two hours on could be tomorrow, with a larger ramp.)
    end_of_day = start.astimezone(dt.UTC).replace(hour=23, minute=59, second=59, microsecond=0)
    assert sending.run_due(now=min(start + dt.timedelta(hours=2), end_of_day)) == 0


def test_a_minimum_gap_sends_one_message_per_jittered_gap(tenant, mailbox, smtp):
    mailbox_update(workspace=tenant.workspace, mailbox_id=mailbox.pk, data={"min_gap_seconds": 60})
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, THREE)
    start = timezone.now()

    assert sending.run_due(now=start) == 1
    assert sending.run_due(now=start + dt.timedelta(seconds=40)) == 0
    gap = (Mailbox.objects.get().next_send_at - start).total_seconds()
    assert 48 <= gap <= 72
    assert sending.run_due(now=start + dt.timedelta(seconds=73)) == 1
    assert len(smtp.received()) == 2


def test_a_temporary_failure_is_retried_and_later_sent(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO, {"type": "wait", "hours": 24}, FOLLOW_UP])
    enrol(tenant, sequence, THREE[:1])
    start = timezone.now()
    smtp.refuse_with = "451 4.3.0 Try again later"

    assert sending.run_due(now=start) == 0
    row = Message.objects.get()
    assert (row.status, row.attempts, row.error) == ("retry", 1, "451 4.3.0 Try again later")
    enrollment = Enrollment.objects.get()
    assert enrollment.current_step == 0
    assert start + dt.timedelta(minutes=5) <= enrollment.next_send_at < start + dt.timedelta(minutes=5, seconds=10)
    assert Activity.objects.filter(kind="retrying").count() == 1
    assert sending.run_due(now=start + dt.timedelta(minutes=4)) == 0

    smtp.refuse_with = None
    assert sending.run_due(now=start + dt.timedelta(minutes=6)) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert smtp.received()[0].message["Message-ID"] == f"<{row.message_id}>"
    assert Enrollment.objects.get().current_step == 2


def test_a_message_that_keeps_failing_temporarily_fails_after_the_last_backoff(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, THREE[:1])
    smtp.refuse_with = "452 4.2.2 Mailbox full"
    moment = timezone.now()
    for backoff in [dt.timedelta(0), *sending.BACKOFF]:
        moment += backoff + dt.timedelta(seconds=1)
        assert sending.run_due(now=moment) == 0
    row = Message.objects.get()
    assert (row.status, row.attempts) == ("failed", sending.MAX_ATTEMPTS)
    enrollment = Enrollment.objects.get()
    assert enrollment.status == "stopped" and "452 4.2.2 Mailbox full" in enrollment.stop_reason
    assert sending.run_due(now=moment + dt.timedelta(days=1)) == 0


def test_a_permanent_failure_stops_that_enrolment_only(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO, FOLLOW_UP])
    enrol(tenant, sequence, THREE)
    smtp.refuse_recipients["bob@y.test"] = "550 5.1.1 No such user"

    assert sending.run_due() == 2
    bob = Enrollment.objects.get(email="bob@y.test")
    assert bob.status == "stopped" and "550 5.1.1 No such user" in bob.stop_reason
    failed = Message.objects.get(to_email="bob@y.test")
    assert failed.status == "failed" and failed.error == "550 5.1.1 No such user"
    assert Activity.objects.filter(enrollment=bob, kind="failed").exists()
    sequence.refresh_from_db()
    assert sequence.status == "active"
    assert sending.run_due() == 2
    assert len(smtp.to("ann@x.test")) == 2 and smtp.to("bob@y.test") == []


def test_a_send_claimed_by_a_worker_that_died_is_settled_as_unknown_and_never_resent(tenant, mailbox, smtp, settings):
    sequence = make_sequence(tenant, mailbox, [INTRO, {"type": "wait", "hours": 24}, FOLLOW_UP])
    enrol(tenant, sequence, THREE)
    start = timezone.now()
    # A worker claims (the claim commits) and dies before talking to the server.
    claim = sending._claim(now=start, batch=100)
    assert len(claim.outgoing) == 3
    assert sending.run_due(now=start + dt.timedelta(seconds=10)) == 0

    lease = dt.timedelta(seconds=settings.SEQUENCE_SEND_LEASE_SECONDS)
    assert sending.lost_sends_settle(now=start + lease / 2) == 0
    assert sending.lost_sends_settle(now=start + lease + dt.timedelta(seconds=1)) == 3
    assert set(Message.objects.values_list("status", flat=True)) == {"unknown"}
    assert set(Enrollment.objects.values_list("status", "current_step")) == {("active", 2)}
    assert sending.run_due(now=start + lease + dt.timedelta(seconds=2)) == 0
    assert smtp.received() == []
    # The next step still goes out after the wait.
    assert sending.run_due(now=start + dt.timedelta(hours=24, minutes=1)) == 3
    assert {item.message["Subject"] for item in smtp.received()} == {"Re: Ann", "Re: Bob", "Re: Cy"}


def test_a_lost_send_found_by_the_next_claim_is_not_resent(tenant, mailbox, smtp, settings):
    sequence = make_sequence(tenant, mailbox, [INTRO, FOLLOW_UP])
    enrol(tenant, sequence, THREE[:1])
    start = timezone.now()
    sending._claim(now=start, batch=100)
    later = start + dt.timedelta(seconds=settings.SEQUENCE_SEND_LEASE_SECONDS + 1)
    # The enrolment is due again before any settling ran: its first step is settled, the second one sent.
    assert sending.run_due(now=later) == 1
    assert [item.message["Subject"] for item in smtp.received()] == ["Re: Ann"]
    assert list(Message.objects.order_by("id").values_list("status", flat=True)) == ["unknown", "sent"]


def test_a_suppressed_address_is_not_sent_and_its_enrolment_stops(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, THREE)
    suppressions_add(workspace=tenant.workspace, emails=["Bob@y.test"], reason="unsubscribed")
    suppressions_add(workspace=None, emails=["cy@z.test"], reason="erased")

    assert sending.run_due() == 1
    assert [item.rcpt_tos for item in smtp.received()] == [["ann@x.test"]]
    stopped = Enrollment.objects.filter(status="stopped", stop_reason="suppressed")
    assert sorted(stopped.values_list("email", flat=True)) == ["bob@y.test", "cy@z.test"]
    assert list(Message.objects.values_list("to_email", flat=True)) == ["ann@x.test"]


def test_a_refused_login_marks_the_mailbox_failing_and_keeps_the_messages_for_later(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, THREE[:2])
    smtp.password = "changed-on-the-server"

    assert sending.run_due() == 0
    mailbox.refresh_from_db()
    assert mailbox.status == "failing" and "refused the user name or password" in mailbox.last_error
    assert set(Message.objects.values_list("status", "attempts")) == {("retry", 0)}
    assert sending.run_due() == 0

    mailbox_update(workspace=tenant.workspace, mailbox_id=mailbox.pk, data={"smtp_password": "changed-on-the-server"})
    assert sending.run_due() == 2
    assert set(Message.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_condition_branches_on_what_the_lead_did(tenant, mailbox, smtp):
    clicked = {"type": "condition", "condition": "clicked", "if_met": "continue", "if_not_met": "stop"}
    sequence = make_sequence(tenant, mailbox, [INTRO, {"type": "wait", "hours": 2}, clicked, FOLLOW_UP])
    enrol(tenant, sequence, THREE[:2])
    start = timezone.now()
    assert sending.run_due(now=start) == 2
    message_clicked(message_pk=Message.objects.get(to_email="ann@x.test").pk)

    assert sending.run_due(now=start + dt.timedelta(hours=2, minutes=1)) == 1
    assert [item.message["Subject"] for item in smtp.to("ann@x.test")] == ["Hi Ann", "Re: Ann"]
    bob = Enrollment.objects.get(email="bob@y.test")
    assert bob.status == "stopped" and "Not met" in bob.stop_reason
    assert Activity.objects.filter(kind="branched").count() == 2


def test_a_paused_sequence_sends_nothing(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, THREE)
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "paused"})
    assert sending.run_due() == 0
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    assert sending.run_due() == 3


def _next_weekday(after: dt.datetime, weekday: int, hour: int, zone: str) -> dt.datetime:
    from zoneinfo import ZoneInfo

    local = after.astimezone(ZoneInfo(zone)).replace(hour=hour, minute=0, second=0, microsecond=0)
    local += dt.timedelta(days=(weekday - local.weekday()) % 7 or 7)
    return local


def test_an_email_that_comes_due_outside_the_leads_window_waits_for_its_next_opening(tenant, mailbox, smtp):
    """Monday to Friday 08:00-18:00 in the lead's zone (California): due on a Saturday, it goes out on Monday 08:00."""
    sequence = sequence_create(workspace=tenant.workspace, data={"name": "Weekdays", "mailbox_id": mailbox.pk, "steps": [INTRO]})
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    lead = lead_create(
        workspace=tenant.workspace, data={"email": "cal@x.test", "first_name": "Cal", "state": "CA"}, source="manual"
    )
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    enrollment = Enrollment.objects.get(lead=lead)
    saturday = _next_weekday(enrollment.next_send_at, 5, 12, "America/Los_Angeles")
    Enrollment.objects.filter(pk=enrollment.pk).update(next_send_at=saturday)

    assert sending.run_due(now=saturday) == 0
    assert smtp.received() == []
    enrollment.refresh_from_db()
    monday = (saturday + dt.timedelta(days=2)).replace(hour=8)  # wall-clock arithmetic: right across DST too
    assert enrollment.next_send_at == monday and enrollment.status == "active"
    assert sending.run_due(now=monday) == 1


def test_the_step_after_a_wait_is_scheduled_into_the_leads_window(tenant, mailbox, smtp):
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "Weekdays", "mailbox_id": mailbox.pk, "steps": [INTRO, {"type": "wait", "hours": 1}, FOLLOW_UP]},
    )
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    lead = lead_create(
        workspace=tenant.workspace, data={"email": "cal@x.test", "first_name": "Cal", "state": "CA"}, source="manual"
    )
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    friday_five_pm = _next_weekday(timezone.now(), 4, 17, "America/Los_Angeles")
    Enrollment.objects.filter(lead=lead).update(next_send_at=friday_five_pm)

    assert sending.run_due(now=friday_five_pm) == 1
    enrollment = Enrollment.objects.get(lead=lead)
    assert enrollment.next_send_at == (friday_five_pm + dt.timedelta(days=3)).replace(hour=8)  # Monday 08:00, not 18:00
