"""inbound.classify on messages shaped like real ones: no database, no server."""

import pytest

from sequences.inbound import classify
from tests.sequences import inbound_mail

SENT_ID = "20250304151958.1.abc@acme.test"


def _raw(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


def test_a_reply_names_the_messages_it_answers_nearest_first():
    found = classify(
        inbound_mail.reply(
            sender="Jane.Doe@Globex.test", in_reply_to=SENT_ID, references=["first@acme.test", SENT_ID], subject="Re: Hi"
        )
    )
    assert found.kind == "reply"
    assert found.from_email == "jane.doe@globex.test"
    assert found.message_id == "CAF=reply-1@mail.gmail.com"
    assert found.references == (SENT_ID, "first@acme.test")
    assert found.subject == "Re: Hi"


def test_the_unsubscribe_link_quoted_below_a_reply_does_not_make_it_a_request():
    assert classify(inbound_mail.reply(sender="jane@globex.test", in_reply_to=SENT_ID)).kind == "reply"


@pytest.mark.parametrize(
    "body",
    [
        "Please remove me from your list.",
        "Stop emailing me.",
        "UNSUBSCRIBE",
        "Hi Sam, please take me off this list, thanks",
    ],
)
def test_an_unsubscribe_request_in_the_first_line(body):
    assert classify(inbound_mail.reply(sender="jane@globex.test", in_reply_to=SENT_ID, body=body)).kind == "unsubscribe"


def test_an_unsubscribe_request_in_the_subject_like_a_list_unsubscribe_mailto():
    raw = _raw(
        """
From: jane@globex.test
To: sender@acme.test
Subject: unsubscribe
Message-ID: <mailto-unsub@globex.test>

This message was sent by the unsubscribe button of the mail app.
"""
    )
    assert classify(raw).kind == "unsubscribe"


def test_an_html_only_reply_is_read_as_text():
    raw = inbound_mail.html_only_reply(sender="jane@globex.test", body_html="<p>Please unsubscribe me</p><p>Thanks</p>")
    assert classify(raw).kind == "unsubscribe"
    raw = inbound_mail.html_only_reply(sender="jane@globex.test", body_html="<p>Happy to talk!</p>")
    assert classify(raw).kind == "reply"


def test_exchange_automatic_reply():
    found = classify(inbound_mail.exchange_out_of_office(sender="jane@globex.test", in_reply_to=SENT_ID))
    assert found.kind == "auto_reply"
    assert found.references == (SENT_ID,)


def test_gmail_vacation_responder_is_told_by_its_headers_alone():
    assert classify(inbound_mail.gmail_vacation(sender="jane@globex.test", in_reply_to=SENT_ID)).kind == "auto_reply"


@pytest.mark.parametrize(
    "headers, subject",
    [
        ("X-Autoreply: yes\n", "Re: Hi Jane"),
        ("X-Autorespond: Re: Hi Jane\n", "Re: Hi Jane"),
        ("Precedence: auto_reply\n", "Re: Hi Jane"),
        ("", "Out of Office: Hi Jane"),
        ("", "Auto: Hi Jane"),
        ("", "=?UTF-8?Q?R=C3=A9ponse_automatique=C2=A0:_Hi_Jane?="),
    ],
)
def test_auto_reply_headers_and_subjects(headers, subject):
    raw = inbound_mail.reply(sender="jane@globex.test", in_reply_to=SENT_ID, subject=subject, headers=headers, body="Away.")
    assert classify(raw).kind == "auto_reply"


def test_auto_submitted_no_is_a_person():
    raw = inbound_mail.reply(sender="jane@globex.test", in_reply_to=SENT_ID, headers="Auto-Submitted: no\n")
    assert classify(raw).kind == "reply"


def test_postfix_dsn_hard_bounce():
    found = classify(inbound_mail.postfix_dsn(recipient="Jane@Globex.test", original_message_id=SENT_ID))
    assert found.kind == "bounce"
    assert found.hard_bounce is True
    assert found.bounced_email == "jane@globex.test"
    assert found.original_message_id == SENT_ID
    assert found.detail.startswith("5.1.1 smtp; 550 5.1.1")


def test_postfix_dsn_delayed_is_soft():
    found = classify(
        inbound_mail.postfix_dsn(
            recipient="jane@globex.test",
            original_message_id=SENT_ID,
            action="delayed",
            status="4.4.1",
            diagnostic="X-Postfix; connect to mx.globex.test[203.0.113.7]:25: Connection timed out",
        )
    )
    assert (found.kind, found.hard_bounce, found.original_message_id) == ("bounce", False, SENT_ID)


def test_a_failed_dsn_with_a_temporary_status_is_soft():
    raw = inbound_mail.postfix_dsn(recipient="jane@globex.test", original_message_id=SENT_ID, status="4.2.2")
    assert classify(raw).hard_bounce is False


def test_a_delivered_report_is_not_a_bounce():
    raw = inbound_mail.postfix_dsn(recipient="jane@globex.test", original_message_id=SENT_ID, action="delivered", status="2.0.0")
    assert classify(raw).kind == "other"


def test_gmail_dsn_with_only_the_original_headers():
    found = classify(inbound_mail.gmail_dsn(recipient="nobody.here@initech.test", original_message_id=SENT_ID))
    assert (found.kind, found.hard_bounce) == ("bounce", True)
    assert found.bounced_email == "nobody.here@initech.test"
    assert found.original_message_id == SENT_ID


def test_exim_bounce_without_dsn():
    found = classify(inbound_mail.exim_failure(recipient="jane@initech.test", original_message_id=SENT_ID))
    assert (found.kind, found.hard_bounce, found.bounced_email) == ("bounce", True, "jane@initech.test")
    assert found.original_message_id == SENT_ID


def test_qmail_failure_notice():
    found = classify(inbound_mail.qmail_failure(recipient="jane@initech.test"))
    assert (found.kind, found.hard_bounce, found.bounced_email) == ("bounce", True, "jane@initech.test")
    assert found.original_message_id == ""


def test_a_delay_warning_without_dsn_is_soft():
    raw = _raw(
        """
From: Mail Delivery Subsystem <mailer-daemon@mx.initech.test>
To: sender@acme.test
Subject: Delivery Status Notification (Delay)
Message-ID: <delay-1@mx.initech.test>

There was a temporary problem delivering your message to jane@initech.test.
The server will retry for 46 more hours.
"""
    )
    found = classify(raw)
    assert (found.kind, found.hard_bounce, found.bounced_email) == ("bounce", False, "jane@initech.test")


def test_a_person_writing_about_a_failed_delivery_is_a_reply():
    raw = inbound_mail.reply(sender="jane@globex.test", in_reply_to=SENT_ID, subject="Re: Delivery failure on our side?")
    assert classify(raw).kind == "reply"


def test_broken_messages_do_not_raise():
    assert classify(b"").kind == "reply"
    assert classify(b"Subject: =?bogus?Q?x?=\r\nFrom: <<<\r\n\r\n\xff\xfe").kind == "reply"
    dsn = inbound_mail.postfix_dsn(recipient="jane@globex.test", original_message_id=SENT_ID)
    # Raw 8-bit bytes in a report field (a localized status text), and a charset Python does not know.
    found = classify(dsn.replace(b"Status: 5.1.1", b"Status: 5.1.1 (Empf\xe4nger unbekannt)"))
    assert (found.kind, found.hard_bounce) == ("bounce", True)
    found = classify(dsn.replace(b"Content-Type: text/plain; charset=us-ascii", b"Content-Type: text/plain; charset=x-nope"))
    assert (found.kind, found.bounced_email) == ("bounce", "jane@globex.test")
