"""Messages shaped like the ones real mail servers and mail apps send back: replies (Gmail, Outlook), out-of-office
answers (Exchange, Gmail's vacation responder), RFC 3464 delivery status notifications (Postfix, Gmail) and the
older non-DSN bounces (Exim, qmail)."""

from __future__ import annotations

CRLF = "\r\n"


def _raw(text: str) -> bytes:
    return text.strip("\n").replace("\n", CRLF).encode() + CRLF.encode()


def reply(
    *,
    sender: str,
    to: str = "sender@acme.test",
    subject: str = "Re: Hi Jane",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    body: str = "Sounds interesting, can we talk on Thursday?",
    message_id: str = "CAF=reply-1@mail.gmail.com",
    headers: str = "",
) -> bytes:
    """A reply as Gmail writes it: the answer on top, the quoted original below."""
    threading = ""
    if in_reply_to:
        threading += f"In-Reply-To: <{in_reply_to}>\n"
    if references or in_reply_to:
        threading += "References: " + " ".join(f"<{ref}>" for ref in (references or [in_reply_to])) + "\n"
    return _raw(
        f"""
MIME-Version: 1.0
Date: Tue, 4 Mar 2025 10:12:44 -0500
Message-ID: <{message_id}>
{threading}{headers}Subject: {subject}
From: Jane Doe <{sender}>
To: Sam Sender <{to}>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"

{body}

On Mon, Mar 3, 2025 at 9:00 AM Sam Sender <{to}> wrote:
> Hi Jane, a quick question about Globex.
>
> Unsubscribe: https://app.cursive.test/s/u/abc

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">{body}</div><br><div class="gmail_quote">On Mon, Mar 3, 2025 Sam Sender wrote:</div>

--000000000000a1b2c3--
"""
    )


def html_only_reply(*, sender: str, body_html: str, subject: str = "Re: Hi Jane") -> bytes:
    return _raw(
        f"""
MIME-Version: 1.0
Date: Tue, 4 Mar 2025 10:12:44 +0000
Message-ID: <html-reply-1@globex.test>
Subject: {subject}
From: {sender}
To: sender@acme.test
Content-Type: text/html; charset="utf-8"

<html><head><style>p {{ color: red }}</style></head><body>{body_html}<blockquote>Hi Jane</blockquote></body></html>
"""
    )


def exchange_out_of_office(*, sender: str, in_reply_to: str, to: str = "sender@acme.test") -> bytes:
    """Outlook/Exchange's automatic reply."""
    return _raw(
        f"""
From: Jane Doe <{sender}>
To: Sam Sender <{to}>
Subject: Automatic reply: Hi Jane
Thread-Topic: Hi Jane
Date: Tue, 4 Mar 2025 15:12:44 +0000
Message-ID: <DM6PR02MB1234ABCD@DM6PR02MB1234.namprd02.prod.outlook.com>
In-Reply-To: <{in_reply_to}>
References: <{in_reply_to}>
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: {sender}
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0

I am out of the office until March 10 with limited access to email.
For urgent matters please contact support@globex.test.
"""
    )


def gmail_vacation(*, sender: str, in_reply_to: str) -> bytes:
    """Gmail's vacation responder keeps the original subject; only its headers say what it is."""
    return _raw(
        f"""
MIME-Version: 1.0
Date: Tue, 4 Mar 2025 10:12:44 -0500
Message-ID: <CAF=vacation@mail.gmail.com>
In-Reply-To: <{in_reply_to}>
References: <{in_reply_to}>
Subject: Re: Hi Jane
From: Jane Doe <{sender}>
To: sender@acme.test
Auto-Submitted: auto-replied
Content-Type: text/plain; charset="UTF-8"

Thanks for your email. I'm on vacation, back next week.
"""
    )


def postfix_dsn(
    *,
    recipient: str,
    original_message_id: str,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown in virtual mailbox table",
    sender: str = "sender@acme.test",
) -> bytes:
    """Postfix's bounce: multipart/report; report-type=delivery-status with the original attached."""
    diagnostic = diagnostic.format(recipient=recipient)
    subject = "Undelivered Mail Returned to Sender" if action == "failed" else "Delayed Mail (still being retried)"
    return _raw(
        f"""
Return-Path: <>
Date: Tue, 4 Mar 2025 15:20:01 +0000 (UTC)
From: MAILER-DAEMON@mx.acme.test (Mail Delivery System)
Subject: {subject}
To: {sender}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4F1A21C0001.1741101601/mx.acme.test"
Message-Id: <20250304152001.5A1B21C0002@mx.acme.test>

This is a MIME-encapsulated message.

--4F1A21C0001.1741101601/mx.acme.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{recipient}>: host mx.globex.test[203.0.113.7] said: 550 5.1.1
    <{recipient}>: Recipient address rejected: User unknown (in reply to RCPT TO command)

--4F1A21C0001.1741101601/mx.acme.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test
X-Postfix-Queue-ID: 4F1A21C0001
X-Postfix-Sender: rfc822; {sender}
Arrival-Date: Tue,  4 Mar 2025 15:19:58 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.globex.test
Diagnostic-Code: {diagnostic}

--4F1A21C0001.1741101601/mx.acme.test
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: Sam Sender <{sender}>
To: {recipient}
Subject: Hi Jane
Message-ID: <{original_message_id}>
Date: Tue, 4 Mar 2025 15:19:58 +0000
List-Unsubscribe: <https://app.cursive.test/s/u/abc>, <mailto:{sender}?subject=unsubscribe>
Content-Type: text/plain; charset="utf-8"

Hi Jane, a quick question about Globex.

--4F1A21C0001.1741101601/mx.acme.test--
"""
    )


def gmail_dsn(*, recipient: str, original_message_id: str) -> bytes:
    """Gmail's "Delivery Status Notification (Failure)": a DSN with only the original's headers."""
    return _raw(
        f"""
Delivered-To: sender@acme.test
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: sender@acme.test
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <67c71c2e.050a0220.1a2b3c.0000.GMR@mx.google.com>
Date: Tue, 04 Mar 2025 07:28:14 -0800 (PST)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000f00dfeed"; report-type=delivery-status

--000000000000f00dfeed
Content-Type: multipart/related; boundary="000000000000f00dbeef"

--000000000000f00dbeef
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {recipient} because the address couldn't be found,
or is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist.

--000000000000f00dbeef--

--000000000000f00dfeed
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; sender@acme.test
Arrival-Date: Tue, 04 Mar 2025 07:28:13 -0800 (PST)
X-Original-Message-ID: <{original_message_id}>

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.27.26, the server for the domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
Last-Attempt-Date: Tue, 04 Mar 2025 07:28:14 -0800 (PST)

--000000000000f00dfeed
Content-Type: text/rfc822-headers

From: Sam Sender <sender@acme.test>
To: {recipient}
Subject: Hi Jane
Message-ID: <{original_message_id}>
Date: Tue, 4 Mar 2025 15:28:12 +0000

--000000000000f00dfeed--
"""
    )


def exim_failure(*, recipient: str, original_message_id: str) -> bytes:
    """Exim's bounce: not a DSN, the failed address in the text and a copy of the original below it."""
    return _raw(
        f"""
Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mx.hosting.test>
To: sender@acme.test
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tpA5b-0001Xy-2C@mx.hosting.test>
Date: Tue, 04 Mar 2025 15:30:11 +0000
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {recipient}
    host mx.initech.test [198.51.100.3]
    SMTP error from remote mail server after RCPT TO:<{recipient}>:
    550 No such user here

------ This is a copy of the message, including all the headers. ------

Return-path: <sender@acme.test>
From: Sam Sender <sender@acme.test>
To: {recipient}
Subject: Hi Jane
Message-ID: <{original_message_id}>

Hi Jane, a quick question about Initech.
"""
    )


def qmail_failure(*, recipient: str) -> bytes:
    return _raw(
        f"""
From: MAILER-DAEMON@mail.initech.test
To: sender@acme.test
Subject: failure notice
Date: 4 Mar 2025 15:31:02 -0000
Message-ID: <20250304153102.11223.qmail@mail.initech.test>

Hi. This is the qmail-send program at mail.initech.test.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{recipient}>:
Sorry, no mailbox here by this name. (#5.1.1)

--- Below this line is a copy of the message.

From: sender@acme.test
To: {recipient}
Subject: Hi
"""
    )
