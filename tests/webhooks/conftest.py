"""A webhook receiver for the tests: a real HTTP server on 127.0.0.2 (the only private address the tests
exempt from the outbound guard), answering from a script of statuses and recording what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from standardwebhooks.webhooks import Webhook

from cursive.jobs import job_run
from cursive.models import Job

RECEIVER_HOST = "127.0.0.2"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def verified_by(self, secret: str) -> dict:
        """The payload, checked with the standardwebhooks library as any receiver would."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str
    server: ThreadingHTTPServer
    got: list[Received] = field(default_factory=list)
    script: list[int | tuple[int, dict]] = field(default_factory=list)
    default: int = 200

    def answer_next(self, *answers: int | tuple[int, dict]) -> None:
        self.script.extend(answers)

    def types(self) -> list[str]:
        return [received.json()["type"] for received in self.got]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_NETWORKS = [f"{RECEIVER_HOST}/32"]
    lock = threading.Lock()
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = holder["receiver"]
            with lock:
                target.got.append(Received(headers={k.lower(): v for k, v in self.headers.items()}, body=body))
                answer = target.script.pop(0) if target.script else target.default
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            reply = b'{"ok": true}' if 200 <= status < 300 else b"receiver says no"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((RECEIVER_HOST, 0), Handler)
    holder["receiver"] = Receiver(url=f"http://{RECEIVER_HOST}:{server.server_address[1]}/hooks", server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield holder["receiver"]
    server.shutdown()
    server.server_close()


def run_jobs(func: str) -> int:
    jobs = list(Job.objects.filter(func=func, status=Job.Status.PENDING).order_by("pk"))
    for job in jobs:
        job_run(job.pk)
    return len(jobs)


def owner_emails() -> list[str]:
    run_jobs("webhooks.tasks.email_owners")
    return [message.subject for message in mail.outbox]
