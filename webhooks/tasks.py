"""The delivery workers: django-q2 tasks that each run a delivery loop for up to a minute.

A committed event wakes a loop at once (`wake_deliverers`, called after commit through cursive.events), a
schedule restarts one every minute for retries that come due, and at most WEBHOOK_DELIVERY_LOOPS run at a
time (session locks, freed if a worker dies). A loop that finds nothing to do for a few seconds ends,
freeing its django-q2 worker for other jobs.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Membership
from cursive import outbound
from cursive.locks import any_free_for_session, try_lock_for_session, unlock_for_session
from cursive.models import OutboxEvent

from . import services
from .models import Endpoint

logger = logging.getLogger("cursive.webhooks")

LOOP_SECONDS = 55
IDLE_SECONDS = 3
POLL_SECONDS = 0.05


def _slots() -> list[str]:
    return [f"webhooks.deliverer:{n}" for n in range(settings.WEBHOOK_DELIVERY_LOOPS)]


def wake_deliverers() -> None:
    """After an event's commit: start a loop if a slot is free (a running loop finds the event itself)."""
    if any_free_for_session(_slots()):
        async_task("webhooks.tasks.deliver", task_name="webhook-deliveries")


def deliver(seconds: float = LOOP_SECONDS) -> int:
    """One delivery loop: dispatch new events and send what is due until idle or `seconds` have passed.
    Returns how many deliveries succeeded."""
    slot = next((slot for slot in _slots() if try_lock_for_session(slot)), None)
    if slot is None:
        return 0
    client = outbound.OutboundClient()
    delivered = 0
    try:
        deadline = time.monotonic() + seconds
        idle_since = time.monotonic()
        found_work = False
        while time.monotonic() < deadline:
            worked = services.outbox_dispatch()
            for endpoint_id in services.due_endpoints(now=timezone.now()):
                sent = services.endpoint_deliver(endpoint_id=endpoint_id, client=client)
                delivered += sent
                worked += sent
            if worked:
                idle_since, found_work = time.monotonic(), True
            # A loop woken for events another loop already took ends at once: a burst of commits before the first
            # loop holds its slot queues a task per commit (hundreds in bench/webhooks.py), and each of them
            # waiting out IDLE_SECONDS kept the cluster's workers from every other job for minutes.
            elif (not found_work or time.monotonic() - idle_since > IDLE_SECONDS) and not _due_soon():
                break
            else:
                time.sleep(POLL_SECONDS)
    finally:
        client.close()
        unlock_for_session(slot)
    # An event committed between the last look and the release found the slot taken: look once more.
    if OutboxEvent.objects.filter(dispatched_at__isnull=True).exists():
        wake_deliverers()
    return delivered


def _due_soon() -> bool:
    due = services.next_due_at()
    return due is not None and (due - timezone.now()).total_seconds() < IDLE_SECONDS * 2


_SUBJECTS = {
    "failing": "Your Cursive webhook has been failing for a day",
    "disabled_failing": "Your Cursive webhook was disabled after 5 days of failures",
    "disabled_gone": "Your Cursive webhook was disabled: the receiver answered 410 Gone",
}


def email_owners(*, endpoint_id: int, about: str) -> None:
    endpoint = Endpoint.objects.select_related("workspace").filter(pk=endpoint_id).first()
    if endpoint is None or about not in _SUBJECTS:
        return
    owners = list(
        Membership.objects.filter(workspace=endpoint.workspace, role=Membership.Role.OWNER).values_list("user__email", flat=True)
    )
    if not owners:
        return
    context = {"endpoint": endpoint, "about": about, "site_url": settings.SITE_URL.rstrip("/")}
    send_mail(
        subject=_SUBJECTS[about],
        message=render_to_string("webhooks/email/endpoint_trouble.txt", context),
        from_email=None,
        recipient_list=owners,
    )
