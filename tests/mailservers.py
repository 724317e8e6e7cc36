"""Real mail servers for the sequence tests: an SMTP server (aiosmtpd) that keeps every message it accepts,
with optional AUTH and a switch to answer 4xx or 5xx."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class SmtpSink:
    """What the server received, and how it should answer the next messages."""

    host: str
    port: int
    username: str
    password: str
    messages: list[Received] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user"
    refuse_recipients: dict[str, str] = field(default_factory=dict)  # address -> the answer to its RCPT TO
    delay_seconds: float = 0.0  # how long each DATA takes to be answered
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def to(self, address: str) -> list[Received]:
        return [item for item in self.received() if address in item.rcpt_tos]


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.sink.refuse_recipients.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay_seconds:
            await asyncio.sleep(self.sink.delay_seconds)
        if self.sink.refuse_with:
            return self.sink.refuse_with
        with self.sink._lock:
            self.sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class _Authenticator:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.sink.username
            and auth_data.password.decode() == self.sink.password
        )
        return AuthResult(success=ok, handled=False)


def smtp_server(*, username: str = "sender@acme.test", password: str = "mail-secret-1") -> tuple[Controller, SmtpSink]:
    """A started SMTP server on 127.0.0.1 requiring AUTH LOGIN/PLAIN with these credentials (allowed without TLS:
    it is a test server on loopback). Stop the controller when done."""
    sink = SmtpSink(host="127.0.0.1", port=free_port(), username=username, password=password)
    controller = Controller(
        _Handler(sink),
        hostname=sink.host,
        port=sink.port,
        authenticator=_Authenticator(sink),
        auth_require_tls=False,
        decode_data=False,
    )
    controller.start()
    return controller, sink
