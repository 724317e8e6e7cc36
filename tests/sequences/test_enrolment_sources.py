"""Enrolment from the website (identified visitors who match a sequence's rules) and from segment pulls."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ

from cursive import retention
from cursive.events import emit
from cursive.models import OutboxEvent
from leads.models import Lead
from segments.services import segment_create, segment_pull
from sequences import enrolment_sources
from sequences.models import Enrollment, HandledEvent, Sequence
from sequences.services import sequence_create, sequence_update
from tests.marketplace.conftest import fund
from tests.segments.conftest import make_person
from tests.visitors.conftest import beacon, make_pixel, pageview
from tests.visitors.test_identify import identify, run_identification

pytestmark = pytest.mark.django_db

EMAIL_STEP = {"type": "email", "subject": "Saw you on our site, {{first_name|there}}", "body": "Questions about pricing?"}


def website_sequence(tenant, mailbox, *, min_score=None, path="/pricing", active=True, name="Pricing visitors") -> Sequence:
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={
            "name": name,
            "mailbox_id": mailbox.pk,
            "steps": [EMAIL_STEP],
            "website_enabled": True,
            "website_min_score": min_score,
            "website_path_contains": path,
        },
    )
    if active:
        sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    return sequence


def visit_and_identify(pixel, *, visitor="visitor-1", url="https://example.com/pricing", email="dana@initech.example"):
    """A visitor views a page, then identifies through the site's identify call; the identification job runs."""
    client = Client()
    beacon(client, [pageview(pixel, visitor=visitor, url=url)])
    beacon(client, identify(pixel, visitor=visitor, email=email, first_name="Dana"))
    assert run_identification() == 1
    return Lead.objects.get(workspace=pixel.workspace, email=email)


def test_a_visitor_identified_on_pricing_with_a_high_enough_score_is_enrolled_once(tenant, mailbox):
    pixel = make_pixel(tenant)
    sequence = website_sequence(tenant, mailbox, min_score=0, path="/PRICING")
    lead = visit_and_identify(pixel, url="https://example.com/pricing/teams?plan=pro")
    assert enrolment_sources.website_visitors_enrol() == 1
    enrollment = Enrollment.objects.get()
    assert (enrollment.sequence, enrollment.lead, enrollment.source) == (sequence, lead, "website")
    assert enrollment.status == "active" and enrollment.next_send_at is not None
    # A second visit (another device, the same person identified again) does not enrol twice.
    visit_and_identify(pixel, visitor="visitor-2")
    assert OutboxEvent.objects.filter(type="visitor.identified").count() == 2
    assert enrolment_sources.website_visitors_enrol() == 0
    assert Enrollment.objects.count() == 1
    assert HandledEvent.objects.count() == 2
    # Nothing is handled twice.
    assert enrolment_sources.website_visitors_enrol() == 0 and HandledEvent.objects.count() == 2


def test_a_visitor_who_does_not_match_is_not_enrolled(tenant, mailbox):
    pixel = make_pixel(tenant)
    website_sequence(tenant, mailbox, path="/pricing")
    website_sequence(tenant, mailbox, min_score=100, path="", name="Only the best")
    lead = visit_and_identify(pixel, url="https://example.com/blog/tips?ref=/pricing")
    assert lead.score < 100
    assert enrolment_sources.website_visitors_enrol() == 0
    assert not Enrollment.objects.exists()
    assert HandledEvent.objects.count() == 1


def test_the_score_rule_alone_enrols_whoever_reaches_it(tenant, mailbox):
    pixel = make_pixel(tenant)
    sequence = website_sequence(tenant, mailbox, min_score=0, path="")
    visit_and_identify(pixel, url="https://example.com/")
    assert enrolment_sources.website_visitors_enrol() == 1
    assert Enrollment.objects.get().sequence == sequence


def test_a_paused_or_draft_sequence_does_not_enrol(tenant, mailbox):
    pixel = make_pixel(tenant)
    paused = website_sequence(tenant, mailbox, min_score=0)
    sequence_update(workspace=tenant.workspace, sequence_id=paused.pk, data={"status": "paused"})
    website_sequence(tenant, mailbox, min_score=0, active=False, name="Draft")
    visit_and_identify(pixel)
    assert enrolment_sources.website_visitors_enrol() == 0
    assert not Enrollment.objects.exists()


def test_other_workspaces_visitors_are_not_enrolled(tenant, other_tenant, mailbox):
    website_sequence(tenant, mailbox, min_score=0, path="")
    theirs = make_pixel(other_tenant)
    visit_and_identify(theirs)
    assert enrolment_sources.website_visitors_enrol() == 0
    assert not Enrollment.objects.exists()


def test_an_event_that_committed_late_is_still_handled(tenant, mailbox):
    """Ids and timestamps are taken before commit: an identification that committed after a newer one was
    handled must not be skipped."""
    pixel = make_pixel(tenant)
    website_sequence(tenant, mailbox, min_score=0, path="")
    late_lead = visit_and_identify(pixel, visitor="late", email="late@initech.example")
    late_event = OutboxEvent.objects.get(type="visitor.identified")
    # Handle a newer event first, as if the late one were not committed yet.
    OutboxEvent.objects.filter(pk=late_event.pk).update(type="lead.updated")
    visit_and_identify(pixel, visitor="early", email="early@initech.example")
    assert enrolment_sources.website_visitors_enrol() == 1
    OutboxEvent.objects.filter(pk=late_event.pk).update(
        type="visitor.identified", created_at=HandledEvent.objects.get().event_created_at - dt.timedelta(minutes=5)
    )
    assert enrolment_sources.website_visitors_enrol() == 1
    assert set(Enrollment.objects.values_list("lead__email", flat=True)) == {"late@initech.example", "early@initech.example"}
    assert late_lead.enrollments.count() == 1


def queued_enrolment_tasks() -> int:
    return sum(1 for task in OrmQ.objects.all() if task.func() == enrolment_sources.WEBSITE_TASK)


def test_an_identification_wakes_the_enrolment_task_after_commit(tenant, mailbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        emit(workspace=tenant.workspace, type="visitor.identified", data={"lead_id": None})
    assert queued_enrolment_tasks() == 0  # no sequence enrols from the website: nothing to wake
    website_sequence(tenant, mailbox, min_score=0)
    with django_capture_on_commit_callbacks(execute=True):
        emit(workspace=tenant.workspace, type="visitor.identified", data={"lead_id": None})
    assert queued_enrolment_tasks() == 1


def test_the_safety_net_runs_every_minute():
    from cursive.schedules import SCHEDULES

    recurring = SCHEDULES.get("sequence enrolment from the website")
    assert recurring.func == enrolment_sources.WEBSITE_TASK and recurring.minutes == 1


def test_old_handled_events_are_pruned_but_the_newest_stays(tenant, mailbox):
    pixel = make_pixel(tenant)
    website_sequence(tenant, mailbox, min_score=0, path="")
    visit_and_identify(pixel, visitor="a", email="a@initech.example")
    visit_and_identify(pixel, visitor="b", email="b@initech.example")
    enrolment_sources.website_visitors_enrol()
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    HandledEvent.objects.update(event_created_at=old)
    newest = HandledEvent.objects.order_by("-event_id").first()
    HandledEvent.objects.filter(pk=newest.pk).update(event_created_at=old + dt.timedelta(hours=1))
    assert retention.rule_apply(name="handled events") == 1
    assert list(HandledEvent.objects.values_list("pk", flat=True)) == [newest.pk]


def test_identifications_the_consumer_has_not_read_yet_outlive_the_outbox_retention(tenant, mailbox):
    pixel = make_pixel(tenant)
    website_sequence(tenant, mailbox, min_score=0, path="")
    visit_and_identify(pixel, visitor="a", email="a@initech.example")
    visit_and_identify(pixel, visitor="b", email="b@initech.example")
    enrolment_sources.website_visitors_enrol()
    visit_and_identify(pixel, visitor="c", email="c@initech.example")
    first, last_handled, unread = OutboxEvent.objects.filter(type="visitor.identified").order_by("pk")
    # All past the outbox's 30 days; the consumer resumes 10 minutes before the last one it handled.
    old = timezone.now() - dt.timedelta(days=60)
    for event, at in ((first, old - dt.timedelta(hours=2)), (last_handled, old), (unread, old + dt.timedelta(hours=1))):
        OutboxEvent.objects.filter(pk=event.pk).update(created_at=at, dispatched_at=timezone.now())
        HandledEvent.objects.filter(event_id=event.pk).update(event_created_at=at)

    retention.rule_apply(name="outbox events")

    assert list(OutboxEvent.objects.filter(type="visitor.identified").order_by("pk").values_list("pk", flat=True)) == [
        last_handled.pk,
        unread.pk,
    ]
    assert enrolment_sources.website_visitors_enrol() == 1


# --- From a segment --------------------------------------------------------------------------------------------


def test_a_pull_of_a_linked_segment_enrols_the_new_people(tenant, mailbox):
    for n in range(3):
        make_person(score=90 - n)
    make_person(score=10, email="", has_email=False, phone="+12125550199")
    fund(tenant.workspace, 100)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    linked = website_sequence(tenant, mailbox, path="", name="Linked")
    sequence_update(workspace=tenant.workspace, sequence_id=linked.pk, data={"segment_id": segment.pk, "website_enabled": False})
    paused = website_sequence(tenant, mailbox, path="", name="Paused")
    sequence_update(workspace=tenant.workspace, sequence_id=paused.pk, data={"segment_id": segment.pk, "status": "paused"})
    unlinked = website_sequence(tenant, mailbox, path="", name="Unlinked")

    run = segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=10)
    assert run.pulled == 4
    enrolled = Enrollment.objects.filter(sequence=linked)
    assert enrolled.count() == 3 and set(enrolled.values_list("source", flat=True)) == {"segment"}
    # The person without an email is skipped, and nothing about it is stored or fails the pull.
    assert not enrolled.filter(lead__email="").exists()
    assert not Enrollment.objects.filter(sequence__in=[paused, unlinked]).exists()
    # A later pull adds only new people, and they join too.
    make_person(score=95)
    assert segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=10).pulled == 1
    assert enrolled.count() == 4


def test_a_pull_that_fails_enrols_nobody(tenant, mailbox):
    make_person(score=90)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    linked = website_sequence(tenant, mailbox, path="", name="Linked")
    sequence_update(workspace=tenant.workspace, sequence_id=linked.pk, data={"segment_id": segment.pk})
    from credits.errors import InsufficientCredits

    with pytest.raises(InsufficientCredits):
        segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=10)
    assert not Enrollment.objects.exists()


def test_an_event_that_fails_does_not_hold_up_the_others(tenant, mailbox, caplog):
    pixel = make_pixel(tenant)
    website_sequence(tenant, mailbox, min_score=0, path="")
    odd = emit(workspace=tenant.workspace, type="visitor.identified", data=["not", "an", "object"])
    visit_and_identify(pixel)
    assert enrolment_sources.website_visitors_enrol() == 1
    assert not HandledEvent.objects.filter(event_id=odd.pk).exists()
    assert "website enrolment failed" in caplog.text


def test_a_pricing_pageview_written_just_after_the_identification_still_counts(tenant, mailbox, settings):
    """Another web process may hold the visitor's /pricing pageview in its buffer for PIXEL_BUFFER_MS after the
    identification: the rules are checked once the identification has settled, so the late pageview counts. (The
    beacons here are written at once; the setting is raised only for the enrolment's settling time.)"""
    pixel = make_pixel(tenant)
    sequence = website_sequence(tenant, mailbox, min_score=0, path="/pricing")
    client = Client()
    beacon(client, identify(pixel, visitor="visitor-9", email="lee@initech.example", first_name="Lee"))
    assert run_identification() == 1
    settings.PIXEL_BUFFER_MS = 2000  # a settling time of 4.5 s: room for a loaded machine
    assert enrolment_sources._pending_events() == []  # not settled yet: its pageviews may still be on their way
    settings.PIXEL_BUFFER_MS = 0
    beacon(client, [pageview(pixel, visitor="visitor-9", url="https://example.com/pricing")])
    settings.PIXEL_BUFFER_MS = 2000
    assert enrolment_sources.website_visitors_enrol() == 1  # waits out the settling, then finds the pageview
    assert Enrollment.objects.get().sequence == sequence
