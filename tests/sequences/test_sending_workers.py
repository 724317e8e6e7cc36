"""Sending with several workers at once, each with its own database connection, as the job cluster runs them."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from sequences import sending, tasks
from sequences.models import Message

from .test_sending import INTRO, enrol, make_sequence

pytestmark = pytest.mark.django_db(transaction=True)


def _worker(errors: list, sent: list) -> None:
    try:
        while count := sending.run_due(batch=5):
            sent.append(count)
    except Exception as error:  # noqa: BLE001 - handed to the test's thread to fail it there
        errors.append(error)
    finally:
        connection.close()


def test_a_second_worker_started_mid_batch_sends_nothing_twice(tenant, mailbox, smtp):
    sequence = make_sequence(tenant, mailbox, [INTRO])
    people = [(f"p{n}@x.test", f"P{n}", "Co") for n in range(30)]
    enrol(tenant, sequence, people)
    smtp.delay_seconds = 0.02
    errors: list = []
    sent_by = {"first": [], "second": []}
    first = threading.Thread(target=_worker, args=(errors, sent_by["first"]))
    first.start()
    deadline = time.monotonic() + 10
    while not smtp.received() and time.monotonic() < deadline:
        time.sleep(0.005)
    second = threading.Thread(target=_worker, args=(errors, sent_by["second"]))
    second.start()
    first.join(30)
    second.join(30)

    assert not errors
    per_recipient = Counter(item.rcpt_tos[0] for item in smtp.received())
    assert per_recipient == Counter({email: 1 for email, *_ in people})
    assert sum(sent_by["first"]) + sum(sent_by["second"]) == 30
    assert sent_by["second"], "the second worker found work while the first was sending"
    assert Message.objects.filter(status="sent").count() == 30


def test_the_send_loop_sends_what_is_due_and_ends_when_idle(tenant, mailbox, smtp, monkeypatch):
    monkeypatch.setattr(tasks, "IDLE_SECONDS", 0.2)
    sequence = make_sequence(tenant, mailbox, [INTRO])
    enrol(tenant, sequence, [(f"p{n}@x.test", f"P{n}", "Co") for n in range(3)])
    started = time.monotonic()
    assert tasks.send_loop(seconds=20) == 3
    assert time.monotonic() - started < 10
    assert tasks.send_loop(seconds=20) == 0
