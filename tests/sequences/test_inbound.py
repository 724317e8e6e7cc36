"""Replies, out-of-office answers, bounces and unsubscribe requests read from a real IMAP server (dovecot).

The sending engine is not on this branch: each test enrols leads through services.enrollments_create and writes
the Message row of step 1 the way the sender records a sent email (Message.objects.create, in `_sent`)."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from cursive import crypto
from cursive.models import OutboxEvent
from leads.models import Lead, Suppression
from leads.selectors import suppressed_emails
from leads.services import lead_create
from sequences import inbound, tasks
from sequences.models import Activity, Enrollment, InboundMessage, Mailbox, Message
from sequences.services import enrollments_create, mailbox_create, sequence_create
from sequences.transport import MailboxUnreachable
from tests.mailservers import DOVECOT, DOVECOT_MISSING, imap_server
from tests.sequences import inbound_mail
from tests.servers import throwaway_certificates

pytestmark = pytest.mark.django_db


@pytest.fixture
def imap_data(mailbox_data, imap):
    return {
        **mailbox_data,
        "imap_host": imap.host,
        "imap_port": imap.port,
        "imap_username": imap.username,
        "imap_password": imap.password,
        "imap_security": "none",
    }


@pytest.fixture
def imap_mailbox(tenant, imap_data):
    return mailbox_create(workspace=tenant.workspace, data=imap_data)


@pytest.fixture
def sequence(tenant, imap_mailbox):
    return sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Intro",
            "mailbox_id": imap_mailbox.pk,
            "stop_on_reply": True,
            "steps": [
                {"type": "email", "subject": "Hi {{first_name}}", "body": "A quick question, {{first_name}}."},
                {"type": "wait", "hours": 48},
                {"type": "email", "subject": "Re: Hi {{first_name}}", "body": "Following up."},
            ],
        },
    )


def _sent(tenant, sequence, email: str, first_name: str = "Jane", *, sent_at=None) -> Message:
    """Enrol a lead and record step 1 as sent to it."""
    lead = lead_create(workspace=tenant.workspace, data={"email": email, "first_name": first_name}, source="manual")
    assert enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk]).enrolled == 1
    enrollment = Enrollment.objects.get(sequence=sequence, lead=lead)
    return Message.objects.create(
        workspace=tenant.workspace,
        enrollment=enrollment,
        step=sequence.steps.get(position=0),
        mailbox=sequence.mailbox,
        message_id=f"{uuid.uuid4().hex}@acme.test",
        to_email=enrollment.email,
        subject=f"Hi {first_name}",
        status=Message.Status.SENT,
        sent_at=sent_at or timezone.now(),
    )


def _enrollment(message: Message) -> Enrollment:
    return Enrollment.objects.get(pk=message.enrollment_id)


def test_a_reply_in_the_inbox_stops_that_enrolment_and_emits_the_event(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    other = _sent(tenant, sequence, "omar@initech.test", "Omar")
    imap.append(inbound_mail.reply(sender="jane@globex.test", in_reply_to=jane.message_id, body="Yes, call me Thursday."))

    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 1

    enrollment = _enrollment(jane)
    assert enrollment.status == Enrollment.Status.REPLIED
    assert enrollment.next_send_at is None
    assert _enrollment(other).status == Enrollment.Status.ACTIVE
    jane.refresh_from_db()
    assert jane.replied_at is not None
    assert enrollment.activities.filter(kind=Activity.Kind.REPLIED, message=jane).count() == 1
    recorded = InboundMessage.objects.get()
    assert (recorded.kind, recorded.enrollment_id, recorded.from_email) == ("reply", enrollment.pk, "jane@globex.test")
    event = OutboxEvent.objects.get(type="sequence.replied")
    assert event.workspace_id == tenant.workspace.pk
    assert event.data == {
        "sequence_id": sequence.pk,
        "enrollment_id": enrollment.pk,
        "lead_id": enrollment.lead_id,
        "message_id": jane.pk,
        "email": "jane@globex.test",
        "from_email": "jane@globex.test",
        "subject": "Re: Hi Jane",
    }
    assert "Thursday" not in str(event.data)
    mailbox = Mailbox.objects.get(pk=sequence.mailbox_id)
    assert mailbox.imap_error == "" and mailbox.imap_polled_at is not None and mailbox.imap_last_uid == 1


def test_a_reply_from_a_colleague_at_the_same_company_domain_is_matched(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.reply(sender="ops-lead@globex.test", subject="Re: your note to Jane", body="Jane forwarded this."))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    assert _enrollment(jane).status == Enrollment.Status.REPLIED
    assert OutboxEvent.objects.get(type="sequence.replied").data["from_email"] == "ops-lead@globex.test"


def test_a_reply_from_someone_else_at_a_free_mail_domain_is_not_matched(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane.doe@gmail.com")
    imap.append(inbound_mail.reply(sender="somebody.else@gmail.com", subject="Re: something else"))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    assert _enrollment(jane).status == Enrollment.Status.ACTIVE
    assert InboundMessage.objects.get().kind == "other"
    assert not OutboxEvent.objects.filter(type="sequence.replied").exists()


def test_a_reply_without_thread_headers_is_matched_by_the_sender_address(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.reply(sender="JANE@globex.test", subject="About your email"))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    assert _enrollment(jane).status == Enrollment.Status.REPLIED


def test_a_dsn_bounce_suppresses_the_address_and_stops_the_enrolment(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.postfix_dsn(recipient="jane@globex.test", original_message_id=jane.message_id))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    enrollment = _enrollment(jane)
    assert enrollment.status == Enrollment.Status.BOUNCED
    assert "5.1.1" in enrollment.stop_reason
    assert suppressed_emails(workspace=tenant.workspace, emails=["jane@globex.test"]) == {"jane@globex.test"}
    assert Suppression.objects.get(workspace=tenant.workspace).reason == Suppression.Reason.BOUNCED
    assert Lead.objects.get(pk=enrollment.lead_id).email_status == "invalid"
    jane.refresh_from_db()
    assert jane.bounced_at is not None
    recorded = InboundMessage.objects.get()
    assert (recorded.kind, recorded.hard_bounce, recorded.bounced_email) == ("bounce", True, "jane@globex.test")
    assert not OutboxEvent.objects.filter(type="sequence.replied").exists()


def test_a_bounce_without_the_original_is_matched_by_its_recipient(tenant, sequence, imap):
    omar = _sent(tenant, sequence, "omar@initech.test", "Omar")
    imap.append(inbound_mail.qmail_failure(recipient="omar@initech.test"))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    assert _enrollment(omar).status == Enrollment.Status.BOUNCED


def test_a_soft_bounce_only_notes_it(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(
        inbound_mail.postfix_dsn(
            recipient="jane@globex.test", original_message_id=jane.message_id, action="delayed", status="4.4.1"
        )
    )

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    enrollment = _enrollment(jane)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert "Soft bounce" in enrollment.activities.get(kind=Activity.Kind.BOUNCED).detail
    assert not suppressed_emails(workspace=tenant.workspace, emails=["jane@globex.test"])


def test_an_out_of_office_does_not_stop_the_sequence(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.exchange_out_of_office(sender="jane@globex.test", in_reply_to=jane.message_id))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    enrollment = _enrollment(jane)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.activities.filter(kind=Activity.Kind.AUTO_REPLY).count() == 1
    jane.refresh_from_db()
    assert jane.replied_at is None
    assert not OutboxEvent.objects.filter(type="sequence.replied").exists()


def test_an_unsubscribe_request_by_email_suppresses_and_ends_the_enrolment(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.reply(sender="jane@globex.test", in_reply_to=jane.message_id, body="Please remove me."))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    assert _enrollment(jane).status == Enrollment.Status.UNSUBSCRIBED
    assert Suppression.objects.get(workspace=tenant.workspace).reason == Suppression.Reason.UNSUBSCRIBED
    jane.refresh_from_db()
    assert jane.unsubscribed_at is not None


def test_a_reply_keeps_the_sequence_going_when_it_should_not_stop_on_reply(tenant, sequence, imap):
    sequence.stop_on_reply = False
    sequence.save(update_fields=["stop_on_reply"])
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.reply(sender="jane@globex.test", in_reply_to=jane.message_id))

    inbound.mailbox_poll(mailbox_id=sequence.mailbox_id)

    enrollment = _enrollment(jane)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.activities.filter(kind=Activity.Kind.REPLIED).count() == 1
    assert OutboxEvent.objects.filter(type="sequence.replied").count() == 1


def test_polling_twice_handles_each_message_once(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    omar = _sent(tenant, sequence, "omar@initech.test", "Omar")
    imap.append(inbound_mail.exchange_out_of_office(sender="jane@globex.test", in_reply_to=jane.message_id))

    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 1
    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 0
    imap.append(inbound_mail.reply(sender="omar@initech.test", in_reply_to=omar.message_id, message_id="omar-reply@x"))
    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 1
    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 0

    assert InboundMessage.objects.count() == 2
    assert Activity.objects.filter(kind=Activity.Kind.AUTO_REPLY).count() == 1
    assert Activity.objects.filter(kind=Activity.Kind.REPLIED).count() == 1
    assert OutboxEvent.objects.filter(type="sequence.replied").count() == 1
    # Recording a message already recorded (a poll that raced this one) changes nothing.
    raw = inbound_mail.reply(sender="omar@initech.test", in_reply_to=omar.message_id)
    mailbox = Mailbox.objects.get(pk=sequence.mailbox_id)
    again = inbound.inbound_message_record(mailbox=mailbox, uidvalidity=mailbox.imap_uidvalidity, uid=2, raw=raw)
    assert again is None
    assert OutboxEvent.objects.filter(type="sequence.replied").count() == 1


def test_the_first_poll_skips_what_arrived_before_the_mailbox_was_connected(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(
        inbound_mail.reply(sender="jane@globex.test", subject="An old thread", message_id="old@globex.test"),
        arrived_at=timezone.now() - dt.timedelta(days=3),
    )

    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 0
    assert _enrollment(jane).status == Enrollment.Status.ACTIVE
    assert Mailbox.objects.get(pk=sequence.mailbox_id).imap_last_uid == 1

    imap.append(inbound_mail.reply(sender="jane@globex.test", in_reply_to=jane.message_id))
    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 1
    assert _enrollment(jane).status == Enrollment.Status.REPLIED


def test_an_unreachable_imap_server_is_recorded_on_the_mailbox_not_raised(tenant, sequence, imap):
    imap.stop()

    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 0

    mailbox = Mailbox.objects.get(pk=sequence.mailbox_id)
    assert mailbox.imap_error.startswith(f"Could not connect to the IMAP server 127.0.0.1:{imap.port}")
    assert "connection refused" in mailbox.imap_error


def test_a_changed_imap_password_is_recorded_on_the_mailbox(tenant, sequence, imap):
    # The password was changed at the mail provider: the one Cursive keeps no longer logs in.
    Mailbox.objects.filter(pk=sequence.mailbox_id).update(imap_password=crypto.encrypt("the-old-password"))

    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 0

    mailbox = Mailbox.objects.get(pk=sequence.mailbox_id)
    assert mailbox.imap_error == f"The IMAP server 127.0.0.1:{imap.port} refused the user name or password."


def test_a_wrong_imap_password_is_refused_naming_imap(tenant, imap_data):
    with pytest.raises(MailboxUnreachable) as caught:
        mailbox_create(workspace=tenant.workspace, data={**imap_data, "imap_password": "wrong"})

    error = caught.value
    assert error.status_code == 400
    assert error.as_dict() == {
        "error": {
            "code": "mailbox_unreachable",
            "message": f"The IMAP server 127.0.0.1:{imap_data['imap_port']} refused the user name or password.",
            "fields": {"imap_password": ["Refused by the server."]},
        }
    }
    assert not Mailbox.objects.exists()


def test_an_imap_server_that_does_not_answer_is_named(tenant, imap_data, imap):
    imap.stop()
    with pytest.raises(MailboxUnreachable) as caught:
        mailbox_create(workspace=tenant.workspace, data=imap_data)
    assert caught.value.message.startswith(f"Could not connect to the IMAP server 127.0.0.1:{imap.port}")
    assert "imap_host" in caught.value.fields


def test_starttls_is_refused_when_the_server_does_not_offer_it(tenant, imap_data):
    with pytest.raises(MailboxUnreachable) as caught:
        mailbox_create(workspace=tenant.workspace, data={**imap_data, "imap_security": "starttls"})
    assert "does not offer STARTTLS" in caught.value.message
    assert list(caught.value.fields) == ["imap_security"]


def test_the_imap_connection_obeys_the_private_network_rule(tenant, imap_data, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(MailboxUnreachable) as caught:
        inbound.imap_check(
            inbound.transport.ServerLogin(
                host="127.0.0.1", port=imap_data["imap_port"], security="none", username="x", password="y"
            )
        )
    assert "loopback" in caught.value.message
    assert list(caught.value.fields) == ["imap_host"]


def test_the_task_polls_every_mailbox_that_reads_replies(tenant, sequence, imap, mailbox_data, monkeypatch):
    from django_q.conf import Conf

    from cursive.schedules import SCHEDULES

    monkeypatch.setattr(Conf, "SYNC", True)
    mailbox_create(workspace=tenant.workspace, data={**mailbox_data, "email": "no-imap@acme.test"})
    jane = _sent(tenant, sequence, "jane@globex.test")
    imap.append(inbound_mail.reply(sender="jane@globex.test", in_reply_to=jane.message_id))

    assert tasks.mailboxes_poll() == 1

    assert _enrollment(jane).status == Enrollment.Status.REPLIED
    assert SCHEDULES.get("mailbox replies and bounces").func == "sequences.tasks.mailboxes_poll"


@pytest.mark.django_db(transaction=True)
def test_two_polls_racing_handle_each_message_once(tenant_factory, mailbox_data, imap):
    tenant = tenant_factory("Acme")
    mailbox = mailbox_create(
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
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "Race", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    )
    sent = [_sent(tenant, sequence, f"person{index}@company{index}.test") for index in range(6)]
    for index, message in enumerate(sent):
        imap.append(inbound_mail.reply(sender=message.to_email, in_reply_to=message.message_id, message_id=f"r{index}@x"))
    handled: list[int] = []
    barrier = threading.Barrier(2)

    def poll():
        try:
            barrier.wait()
            handled.append(inbound.mailbox_poll(mailbox_id=mailbox.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(handled) == 6
    assert InboundMessage.objects.count() == 6
    assert Enrollment.objects.filter(status=Enrollment.Status.REPLIED).count() == 6
    assert Activity.objects.filter(kind=Activity.Kind.REPLIED).count() == 6
    assert OutboxEvent.objects.filter(type="sequence.replied").count() == 6


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throw-away CA and certificates it signed for localhost and imap.other.test."""
    return throwaway_certificates(tmp_path_factory.mktemp("imap-tls"), ("localhost", "imap.other.test"))


@pytest.fixture
def tls_imap(certificates, settings):
    """dovecot with a certificate for localhost, signed by a CA Cursive is told to trust."""
    if DOVECOT is None:
        pytest.skip(DOVECOT_MISSING)
    settings.MAIL_TLS_CA_FILE = str(certificates / "ca.pem")
    servers = []

    def start(name: str = "localhost"):
        servers.append(imap_server(tls=(certificates / f"{name}.crt", certificates / f"{name}.key")))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _login(server, *, port: int, security: str):
    return inbound.transport.ServerLogin(
        host="localhost", port=port, security=security, username=server.username, password=server.password
    )


def test_a_mailbox_read_over_tls_and_starttls(tenant, tls_imap, mailbox_data):
    server = tls_imap()
    inbound.imap_check(_login(server, port=server.port, security="starttls"))
    mailbox = mailbox_create(
        workspace=tenant.workspace,
        data={
            **mailbox_data,
            "imap_host": "localhost",
            "imap_port": server.tls_port,
            "imap_username": server.username,
            "imap_password": server.password,
            "imap_security": "tls",
        },
    )
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "TLS", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    )
    jane = _sent(tenant, sequence, "jane@globex.test")
    server.append(inbound_mail.reply(sender="jane@globex.test", in_reply_to=jane.message_id))

    assert inbound.mailbox_poll(mailbox_id=mailbox.pk) == 1
    assert _enrollment(jane).status == Enrollment.Status.REPLIED


def test_a_certificate_for_another_host_name_is_refused(tls_imap):
    server = tls_imap("imap.other.test")
    for port, security in ((server.tls_port, "tls"), (server.port, "starttls")):
        with pytest.raises(MailboxUnreachable) as caught:
            inbound.imap_check(_login(server, port=port, security=security))
        assert "its TLS certificate is not valid" in caught.value.message
        assert "IMAP server localhost" in caught.value.message


def test_a_renumbered_folder_reads_only_what_arrived_since_the_last_poll(tenant, sequence, imap):
    jane = _sent(tenant, sequence, "jane@globex.test")
    omar = _sent(tenant, sequence, "omar@initech.test", "Omar")
    imap.append(inbound_mail.exchange_out_of_office(sender="jane@globex.test", in_reply_to=jane.message_id))
    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 1
    before = Mailbox.objects.get(pk=sequence.mailbox_id).imap_uidvalidity
    # The provider rebuilt the folder (a migration, a restore): dovecot numbers it again under a new UIDVALIDITY.
    maildir = imap.root / "mail" / imap.username
    for path in [maildir / "dovecot-uidlist", *maildir.glob("dovecot.index*")]:
        path.unlink()
    imap.append(
        inbound_mail.reply(sender="omar@initech.test", in_reply_to=omar.message_id, message_id="omar@x"),
        arrived_at=timezone.now() + dt.timedelta(seconds=2),
    )

    assert inbound.mailbox_poll(mailbox_id=sequence.mailbox_id) == 1

    assert Mailbox.objects.get(pk=sequence.mailbox_id).imap_uidvalidity != before
    assert Activity.objects.filter(kind=Activity.Kind.AUTO_REPLY).count() == 1
    assert _enrollment(omar).status == Enrollment.Status.REPLIED
