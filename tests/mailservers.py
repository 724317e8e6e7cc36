"""Real mail servers for the sequence tests: an SMTP server (aiosmtpd) that keeps every message it accepts,
with optional AUTH and a switch to answer 4xx or 5xx; and an IMAP server (Debian's dovecot) with one user whose
INBOX the tests fill with replies and bounces."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from imapclient import IMAPClient

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


# --- IMAP ------------------------------------------------------------------------------------------------------

DOVECOT = shutil.which("dovecot") or next((path for path in ("/usr/sbin/dovecot",) if os.access(path, os.X_OK)), None)
DOVECOT_MISSING = (
    "IMAP tests need Debian's dovecot-imapd (/usr/sbin/dovecot) and it is not installed: "
    "`apt-get install dovecot-imapd`, or run `make mailservers` (or `make test`) as root, which installs it."
)

_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered at once: the tests about it should not wait out the default 2 s penalty.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.1/32
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {internal_user}
first_valid_uid = {mail_uid}
last_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
last_valid_gid = {mail_gid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""
_DOVECOT_TLS = """\
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
"""


@dataclass
class ImapServer:
    """A running dovecot with one user; `append` places a message in that user's INBOX as a mail server
    delivering it would."""

    host: str
    port: int
    username: str
    password: str
    root: Path
    process: subprocess.Popen
    tls_port: int | None = None  # implicit TLS (imaps); the plain port then offers STARTTLS

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, *, arrived_at=None) -> int:
        """Place a message in INBOX (IMAP APPEND), arrived now or at `arrived_at`; returns its UID."""
        client = self.client()
        try:
            answer = client.append("INBOX", raw, msg_time=arrived_at)
        finally:
            client.logout()
        # "[APPENDUID <uidvalidity> <uid>] Append completed."
        return int(answer.split(b"]", 1)[0].split()[-1])

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its own session (start_new_session): the master and every process it forked go at once, where a
            # graceful SIGTERM costs each test a second.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _server_accounts() -> tuple[str, str, int, int]:
    """(internal user, its group, mail uid, mail gid). Dovecot runs as the current user; as root, whose login
    processes and mail access dovecot refuses, it runs them as nobody."""
    if os.geteuid() != 0:
        user = pwd.getpwuid(os.getuid())
        return user.pw_name, grp.getgrgid(os.getgid()).gr_name, os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_name, grp.getgrgid(nobody.pw_gid).gr_name, nobody.pw_uid, nobody.pw_gid


def imap_server(
    *, username: str = "sender@acme.test", password: str = "imap-secret-1", tls: tuple[Path, Path] | None = None
) -> ImapServer:
    """A started dovecot on 127.0.0.1 with one user and a maildir in a temporary directory of its own: plain IMAP
    (a test server on loopback), or with `tls` = (certificate, key) files also STARTTLS and an implicit-TLS port.
    Call stop() when done."""
    if DOVECOT is None:
        raise RuntimeError(DOVECOT_MISSING)
    root = Path(tempfile.mkdtemp(prefix="cursive-imap-"))
    internal_user, internal_group, mail_uid, mail_gid = _server_accounts()
    # The mail processes may run as another user than the test (as root: nobody); they need to reach the maildir.
    root.chmod(0o755)
    for name in ("run", "state", "mail"):
        (root / name).mkdir()
    os.chown(root / "mail", mail_uid, mail_gid)
    (root / "users").write_text(f"{username}:{{PLAIN}}{password}\n")
    (root / "users").chmod(0o644)
    port = free_port()
    tls_port = free_port() if tls else None
    conf = root / "dovecot.conf"
    conf.write_text(
        (_DOVECOT_TLS.format(cert=tls[0], key=tls[1]) if tls else "ssl = no\n")
        + _DOVECOT_CONF.format(
            root=root,
            port=port,
            tls_port=tls_port or 0,
            internal_user=internal_user,
            internal_group=internal_group,
            mail_uid=mail_uid,
            mail_gid=mail_gid,
        )
    )
    with open(root / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
    server = ImapServer(
        host="127.0.0.1", port=port, username=username, password=password, root=root, process=process, tls_port=tls_port
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (root / "stderr.log").read_text(errors="replace") + server.log()
            server.stop()
            raise RuntimeError(f"dovecot exited with {process.returncode}: {output}")
        try:
            with socket.create_connection((server.host, port), timeout=1) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"dovecot did not answer on port {port} within 15 s: {server.log()}")
