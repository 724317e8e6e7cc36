"""Connections to a workspace's own mail servers, always through the guarded client (cursive.outbound): the
host a customer typed is resolved and checked once and the socket goes to that checked address, exactly as for
webhooks; TLS checks the certificate against the host name."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings

from cursive import outbound
from cursive.errors import ValidationFailed

TIMEOUT_SECONDS = 15.0


class MailboxUnreachable(ValidationFailed):
    code = "mailbox_unreachable"


@dataclass(frozen=True, slots=True)
class ServerLogin:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str
    password: str


def tls_context() -> ssl.SSLContext:
    """The system's trust store, or MAIL_TLS_CA_FILE where a private CA signs the mail servers."""
    return ssl.create_default_context(cafile=settings.MAIL_TLS_CA_FILE or None)


class _GuardedSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return outbound.connect(host, port, timeout=timeout)


class _GuardedSMTPSSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        sock = outbound.connect(host, port, timeout=timeout)
        return self.context.wrap_socket(sock, server_hostname=self._host)


def smtp_open(login: ServerLogin, *, timeout: float = TIMEOUT_SECONDS) -> smtplib.SMTP:
    """A connected, greeted and (where the server offers AUTH) logged-in SMTP session. Raises
    MailboxUnreachable naming the step that failed."""
    where = f"{login.host}:{login.port}"
    try:
        if login.security == "tls":
            client = _GuardedSMTPSSL(login.host, login.port, timeout=timeout, context=tls_context())
        else:
            client = _GuardedSMTP(login.host, login.port, timeout=timeout)
    except outbound.OutboundRefused as error:
        raise MailboxUnreachable(f"SMTP server {where}: {error.message}", fields={"smtp_host": [error.message]}) from None
    except (outbound.OutboundError, OSError, smtplib.SMTPException) as error:
        raise MailboxUnreachable(
            f"Could not connect to the SMTP server {where}: {_describe(error)}. Check the host, port and security.",
            fields={"smtp_host": [_describe(error)]},
        ) from None
    try:
        client.ehlo()
        if login.security == "starttls":
            if not client.has_extn("starttls"):
                raise MailboxUnreachable(
                    f"The SMTP server {where} does not offer STARTTLS; choose TLS or no security.",
                    fields={"smtp_security": ["Not offered by the server."]},
                )
            client.starttls(context=tls_context())
            client.ehlo()
        if client.has_extn("auth"):
            client.login(login.username, login.password)
    except MailboxUnreachable:
        _quietly_close(client)
        raise
    except smtplib.SMTPAuthenticationError:
        _quietly_close(client)
        raise MailboxUnreachable(
            f"The SMTP server {where} refused the user name or password.",
            fields={"smtp_password": ["Refused by the server."]},
        ) from None
    except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
        _quietly_close(client)
        raise MailboxUnreachable(
            f"The SMTP server {where} failed during the greeting or login: {_describe(error)}.",
            fields={"smtp_host": [_describe(error)]},
        ) from None
    return client


def smtp_check(login: ServerLogin) -> None:
    client = smtp_open(login)
    _quietly_close(client)


def _quietly_close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, outbound.OutboundError):
        return str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not valid ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, TimeoutError | socket.timeout):
        return "it did not answer in time"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "it closed the connection"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"it answered {error.smtp_code} {error.smtp_error.decode(errors='replace')}"
    return str(error) or type(error).__name__
