"""Issue 13 end to end through the real parts: the sending engine mails a real SMTP server (aiosmtpd), replies and
bounces are read from a real IMAP server (dovecot), a marketplace lead is bought with credits and refunded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Workspace
from credits.models import CreditAccount, CreditTransaction
from cursive.jobs import job_run
from cursive.models import Job
from leads.models import Lead, Suppression
from leads.services import lead_create
from marketplace.services import purchase_create
from sequences import inbound, sending
from sequences.models import BounceRefund, Enrollment, Message
from sequences.services import enrollments_create, mailbox_create, sequence_create, sequence_update
from tests.marketplace.conftest import fund, make_listing
from tests.sequences import inbound_mail
from tests.webhooks.conftest import run_jobs

from .test_sending import EVERY_HOUR, FOLLOW_UP, INTRO

pytestmark = pytest.mark.django_db


@pytest.fixture
def imap_mailbox(tenant, mailbox_data, imap):
    return mailbox_create(
        workspace=tenant.workspace,
        data={
            **mailbox_data,
            "imap_host": imap.host,
            "imap_port": imap.port,
            "imap_username": imap.username,
            "imap_password": imap.password,
            "imap_security": "none",
        },
    )


def active_sequence(tenant, mailbox, steps):
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "Outreach", "mailbox_id": mailbox.pk, "steps": steps, "send_window": EVERY_HOUR, "stop_on_reply": True},
    )
    return sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})


def test_a_reply_in_the_inbox_stops_that_lead_before_step_two(tenant, imap_mailbox, imap, smtp):
    sequence = active_sequence(tenant, imap_mailbox, [INTRO, {"type": "wait", "hours": 48}, FOLLOW_UP])
    leads = [
        lead_create(workspace=tenant.workspace, data={"email": email, "first_name": name}, source="manual")
        for email, name in (("ann@initech.test", "Ann"), ("bob@globex.test", "Bob"), ("cy@hooli.test", "Cy"))
    ]
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads])
    start = timezone.now()
    assert sending.run_due(now=start) == 3
    first = smtp.to("ann@initech.test")[0].message
    assert first["Subject"] == "Hi Ann" and "Hello Ann" in first.get_body(("plain",)).get_content()
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    imap.append(inbound_mail.reply(sender="ann@initech.test", in_reply_to=first["Message-ID"].strip("<>")))
    inbound.mailbox_poll(mailbox_id=imap_mailbox.pk)

    assert Enrollment.objects.get(lead=leads[0]).status == "replied"
    assert sending.run_due(now=start + dt.timedelta(hours=49)) == 2
    assert [message.message["Subject"] for message in smtp.to("ann@initech.test")] == ["Hi Ann"]
    assert len(smtp.to("bob@globex.test")) == 2 and len(smtp.to("cy@hooli.test")) == 2


def test_a_dsn_bounce_of_a_bought_lead_suppresses_it_and_refunds_its_credits_exactly_once(
    tenant, tenant_factory, imap_mailbox, imap, smtp
):
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    fund(tenant.workspace, 100)
    listing = make_listing(partner=partner.workspace, price="12.00", email="gone@bounced.test", first_name="Gus")
    purchase_create(workspace=tenant.workspace, lead_ids=[listing.pk], payment="credits")
    lead = Lead.objects.get(workspace=tenant.workspace, email="gone@bounced.test")
    paid = CreditAccount.objects.get(workspace=tenant.workspace).balance
    partner_paid = CreditAccount.objects.get(workspace=partner.workspace).balance

    sequence = active_sequence(tenant, imap_mailbox, [INTRO, {"type": "wait", "hours": 24}, FOLLOW_UP])
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    assert sending.run_due() == 1
    sent = Message.objects.get(enrollment__lead=lead)

    dsn = inbound_mail.postfix_dsn(recipient="gone@bounced.test", original_message_id=sent.message_id)
    imap.append(dsn)
    inbound.mailbox_poll(mailbox_id=imap_mailbox.pk)
    assert run_jobs("sequences.tasks.bounce_refund") == 1
    # The same bounce delivered twice, and the refund job run again: still one refund.
    imap.append(dsn)
    inbound.mailbox_poll(mailbox_id=imap_mailbox.pk)
    run_jobs("sequences.tasks.bounce_refund")
    for job in Job.objects.filter(func="sequences.tasks.bounce_refund"):
        job_run(job.pk)

    assert Enrollment.objects.get(lead=lead).status == "bounced"
    assert Suppression.objects.filter(workspace=tenant.workspace, email="gone@bounced.test", reason="bounced").exists()
    assert BounceRefund.objects.filter(workspace=tenant.workspace).count() == 1
    refunds = CreditTransaction.objects.filter(account__workspace=tenant.workspace, kind="refund")
    assert [row.amount for row in refunds] == [Decimal("12.00")]
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == paid + Decimal("12.00")
    assert CreditAccount.objects.get(workspace=partner.workspace).balance == partner_paid - Decimal("8.40")  # 70% share back
    lead.refresh_from_db()
    assert lead.email_status == "invalid"
    assert sending.run_due(now=timezone.now() + dt.timedelta(hours=25)) == 0  # step 2 never goes to a bounced address
