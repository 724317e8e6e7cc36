"""Reading a workspace's mailbox over IMAP: replies, out-of-office answers, bounces and unsubscribe requests.

`mailbox_poll` reads what arrived since the last poll (the UIDVALIDITY and last UID bookmarks on the Mailbox),
records each message as an InboundMessage (unique per mailbox, UIDVALIDITY and UID, so no message is handled
twice), classifies it (`classify`, pure), matches it to what the workspace sent and applies its effect: one
transaction per message. The IMAP connection goes through the guarded client, like SMTP (transport.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.errors
import email.policy
import html
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message as MimeMessage
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from imapclient import IMAPClient, imap4, tls
from imapclient import exceptions as imap_errors

from cursive import crypto, events, outbound
from cursive.jobs import job_enqueue
from cursive.locks import try_lock_for_session, unlock_for_session
from leads.models import Lead, Suppression, VerificationStatus
from leads.normalize import email_domain, is_disposable_email, is_valid_email, normalize_email
from leads.services import leads_changed, suppressions_add

from . import services, transport
from .models import Activity, Enrollment, InboundMessage, Mailbox, Message

logger = logging.getLogger("cursive.sequences")

TIMEOUT_SECONDS = transport.TIMEOUT_SECONDS
FETCH_BATCH = 25
# A bounce quotes the original, attachments included: what matters is in its first part.
MAX_MESSAGE_BYTES = 2_000_000
# Clocks of mail servers and Cursive differ a little: the first poll also reads what arrived just before.
FIRST_POLL_MARGIN = dt.timedelta(minutes=5)
DOMAIN_MATCH_DAYS = 30
LATEST = F("sent_at").desc(nulls_last=True)

# A reply from someone else at one of these domains says nothing about which company answered.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "live.com",
        "live.co.uk",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "mail.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "free.fr",
        "orange.fr",
        "laposte.net",
        "libero.it",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "btinternet.com",
    }
)


# --- The IMAP connection ---------------------------------------------------------------------------------------


class _GuardedIMAP4(imap4.IMAP4WithTimeout):
    def _create_socket(self, timeout=None):
        return outbound.connect(self.host, self.port, timeout=timeout or self._timeout or TIMEOUT_SECONDS)


class _GuardedIMAP4TLS(tls.IMAP4_TLS):
    def _create_socket(self, timeout=None):
        sock = outbound.connect(self.host, self.port, timeout=timeout or self._timeout or TIMEOUT_SECONDS)
        try:
            return tls.wrap_socket(sock, self.ssl_context, self.host)
        except BaseException:
            sock.close()
            raise


class _GuardedIMAPClient(IMAPClient):
    """IMAPClient whose socket is the guarded client's: the checked address of the host, TLS checked against the
    host name."""

    def _create_IMAP4(self):
        timeout = self._timeout.connect
        if self.ssl:
            return _GuardedIMAP4TLS(self.host, self.port, self.ssl_context, timeout)
        return _GuardedIMAP4(self.host, self.port, timeout)


_IMAP_ERRORS = (imap_errors.IMAPClientError, imaplib.IMAP4.error, OSError, ssl.SSLError, outbound.OutboundError)


def imap_open(login: transport.ServerLogin, *, timeout: float = TIMEOUT_SECONDS) -> IMAPClient:
    """A connected and logged-in IMAP session. Raises MailboxUnreachable naming the step that failed."""
    where = f"{login.host}:{login.port}"
    try:
        client = _GuardedIMAPClient(
            login.host,
            login.port,
            ssl=login.security == Mailbox.Security.TLS,
            ssl_context=transport.tls_context() if login.security == Mailbox.Security.TLS else None,
            timeout=timeout,
        )
    except outbound.OutboundRefused as error:
        raise transport.MailboxUnreachable(
            f"IMAP server {where}: {error.message}", fields={"imap_host": [error.message]}
        ) from None
    except _IMAP_ERRORS as error:
        raise transport.MailboxUnreachable(
            f"Could not connect to the IMAP server {where}: {_describe(error)}. Check the host, port and security.",
            fields={"imap_host": [_describe(error)]},
        ) from None
    # Dates as the server sent them, with their offsets, not converted to naive local times.
    client.normalise_times = False
    try:
        if login.security == Mailbox.Security.STARTTLS:
            if not client.has_capability("STARTTLS"):
                raise transport.MailboxUnreachable(
                    f"The IMAP server {where} does not offer STARTTLS; choose TLS or no security.",
                    fields={"imap_security": ["Not offered by the server."]},
                )
            client.starttls(transport.tls_context())
        client.login(login.username, login.password)
    except transport.MailboxUnreachable:
        _close(client)
        raise
    except imap_errors.LoginError:
        _close(client)
        raise transport.MailboxUnreachable(
            f"The IMAP server {where} refused the user name or password.",
            fields={"imap_password": ["Refused by the server."]},
        ) from None
    except _IMAP_ERRORS as error:
        _close(client)
        raise transport.MailboxUnreachable(
            f"The IMAP server {where} failed during the greeting or login: {_describe(error)}.",
            fields={"imap_host": [_describe(error)]},
        ) from None
    return client


def imap_check(login: transport.ServerLogin) -> None:
    """Log in and open INBOX, as the poller will; raises MailboxUnreachable naming what failed."""
    client = imap_open(login)
    try:
        client.select_folder("INBOX", readonly=True)
    except _IMAP_ERRORS as error:
        raise transport.MailboxUnreachable(
            f"The IMAP server {login.host}:{login.port} accepted the login but could not open INBOX: {_describe(error)}.",
            fields={"imap_username": [_describe(error)]},
        ) from None
    finally:
        _close(client)


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except _IMAP_ERRORS:
        with contextlib.suppress(*_IMAP_ERRORS):
            client.shutdown()


def _describe(error: BaseException) -> str:
    if isinstance(error, imaplib.IMAP4.error) and error.args:
        text = error.args[0]
        return (text.decode(errors="replace") if isinstance(text, bytes) else str(text)) or type(error).__name__
    return transport._describe(error)


# --- Polling ---------------------------------------------------------------------------------------------------


def mailboxes_to_poll() -> list[int]:
    return list(Mailbox.objects.exclude(imap_host="").order_by("pk").values_list("pk", flat=True))


def mailbox_poll(*, mailbox_id) -> int:
    """Read and handle what arrived in the mailbox since the last poll; returns how many messages were handled.
    A poll already running for this mailbox makes this one return 0 at once. Connection and login failures are
    recorded on the mailbox (`imap_error`, shown by its page), never raised: the next poll tries again."""
    # An advisory lock rather than the mailbox row's: senders lock that row to pace their sends, and a poll
    # waits on a remote server for seconds.
    lock = f"sequences.mailbox_poll:{int(mailbox_id)}"
    if not try_lock_for_session(lock):
        return 0
    try:
        mailbox = Mailbox.objects.select_related("workspace").exclude(imap_host="").filter(pk=mailbox_id).first()
        return _poll(mailbox) if mailbox is not None else 0
    finally:
        unlock_for_session(lock)


def _poll(mailbox: Mailbox) -> int:
    try:
        login = services.imap_login(mailbox)
    except crypto.SecretUnreadable:
        _poll_failed(mailbox, "The stored IMAP password can no longer be read; enter it again.")
        return 0
    where = f"IMAP server {login.host}:{login.port}"
    try:
        client = imap_open(login)
    except transport.MailboxUnreachable as error:
        _poll_failed(mailbox, error.message)
        return 0
    handled = 0
    try:
        folder = client.select_folder("INBOX", readonly=True)
        uidvalidity = int(folder[b"UIDVALIDITY"])
        uids = _new_uids(client, mailbox, folder, uidvalidity)
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            fetched = client.fetch(batch, [f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"])
            # A message deleted since the search is simply not fetched.
            for uid in sorted(uid for uid in batch if uid in fetched):
                raw = _body(fetched[uid])
                if inbound_message_record(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, raw=raw) is not None:
                    handled += 1
        _bookmark_at_least(mailbox, _uidnext(client, folder) - 1)
    except _IMAP_ERRORS as error:
        _poll_failed(mailbox, f"The {where} failed while reading INBOX: {_describe(error)}.")
        return handled
    finally:
        _close(client)
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_polled_at=timezone.now(), imap_error="")
    return handled


def _new_uids(client: IMAPClient, mailbox: Mailbox, folder: dict, uidvalidity: int) -> list[int]:
    """The UIDs to read, oldest first. The first poll (or one after the server renumbered the folder, a new
    UIDVALIDITY) reads what arrived since the mailbox was connected (or last polled); later polls read the UIDs
    after the bookmark."""
    if mailbox.imap_uidvalidity == uidvalidity:
        last = mailbox.imap_last_uid
        return sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
    since = (mailbox.imap_polled_at if mailbox.imap_uidvalidity else None) or mailbox.created_at - FIRST_POLL_MARGIN
    # SEARCH SINCE compares dates in the server's time zone: a day earlier, then the exact arrival times.
    candidates = client.search(["SINCE", (since - dt.timedelta(days=1)).date()])
    arrived = client.fetch(candidates, ["INTERNALDATE"]) if candidates else {}
    uids = sorted(uid for uid, data in arrived.items() if _aware(data.get(b"INTERNALDATE")) >= since)
    # Saved before reading, so a poll that fails half-way resumes here rather than from the folder's first UID.
    last = uids[0] - 1 if uids else _uidnext(client, folder) - 1
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_uidvalidity=uidvalidity, imap_last_uid=last)
    mailbox.imap_uidvalidity, mailbox.imap_last_uid = uidvalidity, last
    return uids


def _aware(value) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return value if value.tzinfo else timezone.make_aware(value)


def _uidnext(client: IMAPClient, folder: dict) -> int:
    if folder.get(b"UIDNEXT"):
        return int(folder[b"UIDNEXT"])
    return max(client.search(["ALL"]), default=0) + 1


def _bookmark_at_least(mailbox: Mailbox, uid: int) -> None:
    Mailbox.objects.filter(pk=mailbox.pk, imap_last_uid__lt=uid).update(imap_last_uid=uid)


def _body(data: dict) -> bytes:
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[") and isinstance(value, bytes):
            return value
    return b""


def _poll_failed(mailbox: Mailbox, reason: str) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_error=reason[:1000], imap_polled_at=timezone.now())


# --- Classification (pure) ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classified:
    """What a message read from the mailbox is. `references` are the Message-IDs it answers (In-Reply-To
    first); for a bounce, `original_message_id` names the message that bounced and `bounced_email` its
    recipient."""

    kind: str
    message_id: str = ""
    from_email: str = ""
    subject: str = ""
    references: tuple[str, ...] = ()
    bounced_email: str = ""
    hard_bounce: bool = False
    original_message_id: str = ""
    detail: str = ""


DAEMON_SENDERS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mail.delivery.system"})
BOUNCE_SUBJECT = re.compile(
    r"undeliver(ed|able)|returned mail|returned to sender|mail delivery (failed|failure|system)|delivery (status notification|"
    r"failure|failed|has failed|incomplete|problem)|failure notice|could not be delivered|non-?delivery|delayed mail|"
    r"delivery delayed|warning: message .* delayed",
    re.IGNORECASE,
)
DELAY_WORDS = re.compile(
    r"\bdelay(ed)?\b|will (be )?retr(y|ied)|still trying|temporar(y|ily)|not yet been delivered|will keep trying",
    re.IGNORECASE,
)
ENHANCED_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
SMTP_PERMANENT = re.compile(r"\b5[0-5]\d[ -]")
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
AUTO_REPLY_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response|antwort)|^auto:|abwesenheit|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|autosvar|on vacation|on leave",
    re.IGNORECASE,
)
AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})
UNSUBSCRIBE_WORDS = re.compile(
    r"\bunsubscribe\b|\bremove me\b|\btake me off\b|\bopt[- ]?out\b|"
    r"\bstop (e-?mail(ing)?|sending|contacting|messaging|writing)\b",
    re.IGNORECASE,
)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def classify(raw: bytes) -> Classified:
    """Bounce (DSN or the common non-DSN forms), auto-reply, unsubscribe request or reply."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = _header(message, "Subject")
    sender_name, sender = parseaddr(_header(message, "From"))
    base = {
        "message_id": _first_id(_header(message, "Message-ID")),
        "from_email": normalize_email(sender) if is_valid_email(sender) else "",
        "subject": subject[:300],
        "references": _references(message),
    }
    bounce = _bounce(message, sender=base["from_email"], sender_name=sender_name, subject=subject)
    if bounce is not None:
        return Classified(**base, **bounce)
    if _is_auto_reply(message, subject):
        return Classified(kind=InboundMessage.Kind.AUTO_REPLY, **base)
    if UNSUBSCRIBE_WORDS.search(subject) or UNSUBSCRIBE_WORDS.search(_first_line(_text(message))):
        return Classified(kind=InboundMessage.Kind.UNSUBSCRIBE, **base)
    return Classified(kind=InboundMessage.Kind.REPLY, **base)


def _header(message: MimeMessage, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())


def _first_id(value: str) -> str:
    found = MESSAGE_ID.search(value)
    return (found.group(1) if found else value.strip())[:250]


def _references(message: MimeMessage) -> tuple[str, ...]:
    ids = MESSAGE_ID.findall(_header(message, "In-Reply-To"))
    # References lists the thread oldest first: the nearest message is the last.
    ids += reversed(MESSAGE_ID.findall(_header(message, "References")))
    return tuple(dict.fromkeys(ids))[:50]


def _is_daemon(address: str, name: str = "") -> bool:
    local = address.split("@", 1)[0].lower()
    return local in DAEMON_SENDERS or name.strip().lower() in ("mail delivery system", "mail delivery subsystem")


def _bounce(message: MimeMessage, *, sender: str, sender_name: str, subject: str) -> dict | None:
    if message.get_content_type() == "multipart/report" and (message.get_param("report-type") or "").lower() == (
        "delivery-status"
    ):
        return _delivery_status(message)
    if not (_is_daemon(sender, sender_name) or (BOUNCE_SUBJECT.search(subject) and not subject.lower().startswith("re:"))):
        return None
    text = _text(message)
    original = _original_headers(message)
    recipients = [address for address in ADDRESS.findall(text) if not _is_daemon(address) and normalize_email(address) != sender]
    if not recipients and original is not None:
        recipients = [address for _name, address in getaddresses([_header(original, "To")]) if address]
    original_id = _first_id(_header(original, "Message-ID")) if original is not None else ""
    if not original_id:
        quoted = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", text, re.IGNORECASE | re.MULTILINE)
        original_id = _first_id(quoted.group(1)) if quoted else ""
    classes = {code for code in ENHANCED_STATUS.findall(text)}
    if "5" in classes or (not classes and SMTP_PERMANENT.search(text) and not DELAY_WORDS.search(subject)):
        hard = True
    elif "4" in classes or DELAY_WORDS.search(subject) or DELAY_WORDS.search(text):
        hard = False
    else:
        hard = True
    status = ENHANCED_STATUS.search(text)
    return {
        "kind": InboundMessage.Kind.BOUNCE,
        "bounced_email": normalize_email(recipients[0]) if recipients else "",
        "hard_bounce": hard,
        "original_message_id": original_id,
        "detail": (status.group(0) if status else ("permanent failure" if hard else "delayed"))[:300],
    }


def _delivery_status(report: MimeMessage) -> dict:
    """RFC 3464: the per-recipient fields of the message/delivery-status part, the original's Message-ID from
    its message/rfc822 or text/rfc822-headers part."""
    failed: list[MimeMessage] = []
    delayed: list[MimeMessage] = []
    for part in report.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        for block in _status_blocks(part):
            action = _header(block, "Action").lower()
            if action == "failed":
                failed.append(block)
            elif action == "delayed":
                delayed.append(block)
    original = _original_headers(report)
    original_id = _first_id(_header(original, "Message-ID")) if original is not None else ""
    block = (failed or delayed or [None])[0]
    if block is None:
        # A report of delivery (Action: delivered, relayed, expanded) is not a bounce.
        return {"kind": InboundMessage.Kind.OTHER, "original_message_id": original_id}
    status = _header(block, "Status").split(" ", 1)[0]
    hard = bool(failed) and not status.startswith("4")
    recipient = _dsn_address(_header(block, "Original-Recipient")) or _dsn_address(_header(block, "Final-Recipient"))
    diagnostic = _header(block, "Diagnostic-Code")
    return {
        "kind": InboundMessage.Kind.BOUNCE,
        "bounced_email": recipient,
        "hard_bounce": hard,
        "original_message_id": original_id,
        "detail": " ".join(filter(None, [status, diagnostic]))[:300],
    }


def _status_blocks(part: MimeMessage) -> list[MimeMessage]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, MimeMessage)]
    # Some senders encode the part (base64): parse its blocks by hand.
    text = _decoded(part)
    return [HeaderParser().parsestr(chunk.strip() + "\n") for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _dsn_address(value: str) -> str:
    """`rfc822; jane@example.com` -> jane@example.com."""
    address = value.split(";", 1)[-1].strip().strip("<>")
    return normalize_email(address) if is_valid_email(address) else ""


def _original_headers(message: MimeMessage) -> MimeMessage | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        elif kind in ("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers"):
            return HeaderParser().parsestr(_decoded(part))
    return None


def _decoded(part: MimeMessage) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload() or "")
    try:
        return data.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _is_auto_reply(message: MimeMessage, subject: str) -> bool:
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None:
        return True
    if _header(message, "Precedence").lower() in AUTO_PRECEDENCE:
        return True
    return bool(AUTO_REPLY_SUBJECT.search(subject))


def _text(message: MimeMessage) -> str:
    """The message's own words: its first text/plain part (or its HTML as text), not a quoted original."""
    html_text = ""
    for part in _own_parts(message):
        kind = part.get_content_type()
        if kind == "text/plain":
            return _decoded(part)
        if kind == "text/html" and not html_text:
            html_text = _html_to_text(_decoded(part))
    return html_text


def _own_parts(message: MimeMessage):
    """Leaf parts, not descending into attached messages."""
    if message.is_multipart():
        for part in message.get_payload():
            if isinstance(part, MimeMessage) and part.get_content_type() not in ("message/rfc822", "message/global"):
                yield from _own_parts(part)
    else:
        yield message


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?i)<(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


# --- Matching and effects -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    enrollment_id: int
    message: Message | None


def inbound_message_record(*, mailbox: Mailbox, uidvalidity: int, uid: int, raw: bytes) -> InboundMessage | None:
    """Record, classify, match and apply one message read from the mailbox, in one transaction. Returns None
    when this (mailbox, UIDVALIDITY, UID) was recorded before: it is never handled twice."""
    try:
        found = classify(raw)
    except Exception:
        # A message nobody foresaw must not stop the mailbox's later messages from being read.
        logger.exception("inbound message not understood", extra={"mailbox_id": mailbox.pk, "uid": uid})
        found = Classified(kind=InboundMessage.Kind.OTHER)
    with transaction.atomic():
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    mailbox=mailbox,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    message_id=found.message_id,
                    from_email=found.from_email[:254],
                    subject=found.subject,
                    kind=found.kind,
                    bounced_email=found.bounced_email[:254],
                    hard_bounce=found.hard_bounce,
                )
        except IntegrityError:
            _bookmark_at_least(mailbox, uid)
            return None
        match = _match(mailbox, found)
        inbound.enrollment_id = match.enrollment_id if match else None
        inbound.kind = _apply(mailbox, found, match)
        inbound.save(update_fields=["enrollment", "kind"])
        _bookmark_at_least(mailbox, uid)
    return inbound


def _match(mailbox: Mailbox, found: Classified) -> Match | None:
    # Any message of the workspace: one whose worker died mid-send (status unknown, no sent_at) may have gone out.
    ours = Message.objects.filter(workspace_id=mailbox.workspace_id)
    if found.kind == InboundMessage.Kind.BOUNCE:
        if found.original_message_id:
            message = ours.filter(message_id=found.original_message_id).first()
            if message is not None:
                return Match(message.enrollment_id, message)
        return _match_address(mailbox, found.bounced_email, ours)
    if found.kind == InboundMessage.Kind.OTHER:
        return None
    if found.references:
        message = ours.filter(message_id__in=found.references).order_by(LATEST).first()
        if message is not None:
            return Match(message.enrollment_id, message)
    by_address = _match_address(mailbox, found.from_email, ours)
    if by_address is not None:
        return by_address
    domain = email_domain(found.from_email)
    if not domain or domain in FREE_MAIL_DOMAINS or is_disposable_email(found.from_email):
        return None
    # Someone else at the company answered (an alias, a colleague, an assistant).
    message = (
        Message.objects.filter(
            mailbox=mailbox,
            to_email__endswith=f"@{domain}",
            sent_at__gte=timezone.now() - dt.timedelta(days=DOMAIN_MATCH_DAYS),
        )
        .order_by("-sent_at")
        .first()
    )
    return Match(message.enrollment_id, message) if message is not None else None


def _match_address(mailbox: Mailbox, address: str, ours) -> Match | None:
    if not address:
        return None
    message = ours.filter(to_email=address).order_by(LATEST).first()
    if message is not None:
        return Match(message.enrollment_id, message)
    enrollments = Enrollment.objects.filter(workspace_id=mailbox.workspace_id, email=address).order_by("-enrolled_at")
    enrollment = enrollments.filter(status=Enrollment.Status.ACTIVE).first() or enrollments.first()
    return Match(enrollment.pk, None) if enrollment is not None else None


def _apply(mailbox: Mailbox, found: Classified, match: Match | None) -> str:
    """The effect of one classified message, inside its transaction; returns the kind to record."""
    if match is None:
        if found.kind == InboundMessage.Kind.UNSUBSCRIBE and found.from_email:
            # Nobody is enrolled under this address, but whoever wrote asked not to be mailed.
            _suppress(mailbox, [found.from_email], Suppression.Reason.UNSUBSCRIBED, "Asked by email")
            return found.kind
        return InboundMessage.Kind.OTHER
    enrollment = Enrollment.objects.select_for_update(of=("self",)).select_related("sequence").get(pk=match.enrollment_id)
    message = match.message or enrollment.messages.order_by(LATEST).first()
    if found.kind == InboundMessage.Kind.REPLY:
        _replied(mailbox, found, enrollment, message)
    elif found.kind == InboundMessage.Kind.AUTO_REPLY:
        _activity(enrollment, message, Activity.Kind.AUTO_REPLY, found.subject)
    elif found.kind == InboundMessage.Kind.UNSUBSCRIBE:
        _suppress(mailbox, {found.from_email, enrollment.email} - {""}, Suppression.Reason.UNSUBSCRIBED, "Asked by email")
        _stamp(message, "unsubscribed_at")
        _finish_or_note(enrollment, message, Enrollment.Status.UNSUBSCRIBED, f"Asked by email: {found.subject}")
    elif found.hard_bounce:
        _hard_bounce(mailbox, found, enrollment, message)
    else:
        _activity(enrollment, message, Activity.Kind.BOUNCED, f"Soft bounce ({found.detail}): the sequence goes on")
    return found.kind


def _replied(mailbox: Mailbox, found: Classified, enrollment: Enrollment, message: Message | None) -> None:
    _stamp(message, "replied_at")
    detail = f"From {found.from_email}: {found.subject}" if found.from_email != enrollment.email else found.subject
    if enrollment.status == Enrollment.Status.ACTIVE and enrollment.sequence.stop_on_reply:
        services.enrollment_finish(enrollment, status=Enrollment.Status.REPLIED, reason=detail, message=message)
    else:
        _activity(enrollment, message, Activity.Kind.REPLIED, detail)
    events.emit(
        workspace=mailbox.workspace,
        type="sequence.replied",
        data={
            "sequence_id": enrollment.sequence_id,
            "enrollment_id": enrollment.pk,
            "lead_id": enrollment.lead_id,
            "message_id": message.pk if message else None,
            "email": enrollment.email,
            "from_email": found.from_email,
            "subject": found.subject,
        },
    )


def _hard_bounce(mailbox: Mailbox, found: Classified, enrollment: Enrollment, message: Message | None) -> None:
    address = message.to_email if message else enrollment.email
    _suppress(mailbox, [address], Suppression.Reason.BOUNCED, found.detail or "Hard bounce")
    invalid = list(
        Lead.objects.filter(workspace_id=enrollment.workspace_id, pk=enrollment.lead_id, email__iexact=address)
        .exclude(email_status=VerificationStatus.INVALID)
        .values_list("pk", flat=True)
    )
    if invalid:
        Lead.objects.filter(pk__in=invalid).update(email_status=VerificationStatus.INVALID, updated_at=timezone.now())
        leads_changed(workspace=mailbox.workspace, lead_ids=invalid, fields=["email_status"])
    _stamp(message, "bounced_at")
    _finish_or_note(enrollment, message, Enrollment.Status.BOUNCED, f"Hard bounce: {found.detail}".strip(": "))
    # The refund locks purchases, leads and credit accounts: a job of its own after this commit, so those locks
    # are never taken while the enrolment's is held (a staff refund takes them in the other order).
    job_enqueue("sequences.tasks.bounce_refund", workspace_id=enrollment.workspace_id, email=address)


def _finish_or_note(enrollment: Enrollment, message: Message | None, status: str, reason: str) -> None:
    if enrollment.status == Enrollment.Status.ACTIVE:
        services.enrollment_finish(enrollment, status=status, reason=reason, message=message)
    else:
        kind = {Enrollment.Status.BOUNCED: Activity.Kind.BOUNCED, Enrollment.Status.UNSUBSCRIBED: Activity.Kind.UNSUBSCRIBED}
        _activity(enrollment, message, kind[status], reason)


def _activity(enrollment: Enrollment, message: Message | None, kind: str, detail: str) -> None:
    Activity.objects.create(
        workspace_id=enrollment.workspace_id, enrollment=enrollment, message=message, kind=kind, detail=detail[:300]
    )


def _stamp(message: Message | None, field: str) -> None:
    if message is not None:
        Message.objects.filter(pk=message.pk, **{f"{field}__isnull": True}).update(**{field: timezone.now()})


def _suppress(mailbox: Mailbox, emails, reason: str, detail: str) -> None:
    valid = [address for address in emails if is_valid_email(address)]
    if valid:
        suppressions_add(workspace=mailbox.workspace, emails=valid, reason=reason, detail=detail)
