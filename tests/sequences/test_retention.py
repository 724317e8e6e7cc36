"""Retention of sequence history: timelines and emails read from mailboxes go after their periods; the
enrolments and messages they belong to stay."""

import datetime as dt

import pytest
from django.utils import timezone

from cursive import retention
from leads.services import lead_create
from sequences.models import Activity, Enrollment, InboundMessage
from sequences.services import enrollments_create, sequence_create

pytestmark = pytest.mark.django_db


def test_timeline_rows_go_after_their_period_and_the_enrolments_stay(tenant, mailbox, settings):
    settings.RETENTION_EMAIL_ACTIVITY_DAYS = 730
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "Intro", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    )
    leads = [lead_create(workspace=tenant.workspace, data={"email": f"{n}@x.test"}, source="manual") for n in range(2)]
    assert (
        enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads]).enrolled
        == 2
    )
    old, recent = Activity.objects.order_by("pk")
    Activity.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=731))

    assert retention.rule_apply(name="sequence activities") == 1
    assert list(Activity.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Enrollment.objects.count() == 2
    assert retention.rule_apply(name="sequence activities") == 0


def test_emails_read_from_mailboxes_go_after_their_period(mailbox, settings):
    settings.RETENTION_INBOUND_EMAIL_DAYS = 180
    for uid, days in ((1, 181), (2, 179)):
        InboundMessage.objects.create(
            mailbox=mailbox,
            uidvalidity=1,
            uid=uid,
            kind=InboundMessage.Kind.REPLY,
            received_at=timezone.now() - dt.timedelta(days=days),
        )

    assert retention.rule_apply(name="emails read from mailboxes") == 1
    assert list(InboundMessage.objects.values_list("uid", flat=True)) == [2]
