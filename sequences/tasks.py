"""django-q2 tasks of sequences: thin wrappers around the services, safe to run twice.

Sending: `send_loop` runs the sending engine (sequences.sending.run_due) until there is nothing due or about a
minute has passed. At most SEQUENCE_SEND_LOOPS loops run at a time (session locks, freed if a worker dies); a
schedule restarts one every minute for steps that come due, and enrolling or activating wakes one after commit.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Workspace
from cursive.locks import any_free_for_session, try_lock_for_session, unlock_for_session

from . import inbound, refunds, sending
from .models import BounceRefund, Enrollment, Mailbox, Sequence

LOOP_SECONDS = 55
IDLE_SECONDS = 3
POLL_SECONDS = 0.2


def _slots() -> list[str]:
    return [f"sequences.sender:{n}" for n in range(settings.SEQUENCE_SEND_LOOPS)]


def wake_senders() -> None:
    """After a commit that made steps due: start a loop if a slot is free (a running loop finds the work itself)."""
    if any_free_for_session(_slots()):
        async_task("sequences.tasks.send_loop", task_name="sequence-sends")


def send_loop(seconds: float = LOOP_SECONDS) -> int:
    """Settle lost sends, then send what is due until idle or `seconds` have passed. Returns messages sent."""
    slot = next((slot for slot in _slots() if try_lock_for_session(slot)), None)
    if slot is None:
        return 0
    sent = 0
    try:
        sending.lost_sends_settle()
        deadline = time.monotonic() + seconds
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            count = sending.run_due()
            sent += count
            if count:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS or not _due_soon():
                break
            else:
                time.sleep(POLL_SECONDS)
    finally:
        unlock_for_session(slot)
    return sent


def _due_soon() -> bool:
    """Whether a step of an active sequence on an active mailbox comes due within a few seconds."""
    soon = timezone.now() + timezone.timedelta(seconds=IDLE_SECONDS)
    return Enrollment.objects.filter(
        status=Enrollment.Status.ACTIVE,
        next_send_at__lte=soon,
        sequence__status=Sequence.Status.ACTIVE,
        sequence__mailbox__status=Mailbox.Status.ACTIVE,
        sequence__mailbox__next_send_at__lte=soon,
    ).exists()


# --- Replies and bounces ----------------------------------------------------------------------------------------


def mailboxes_poll() -> int:
    """Every MAILBOX_POLL_SECONDS: a poll job per mailbox that reads replies, so a slow or unreachable server
    delays only its own mailbox. Returns how many were queued."""
    mailbox_ids = inbound.mailboxes_to_poll()
    for mailbox_id in mailbox_ids:
        async_task("sequences.tasks.mailbox_poll", mailbox_id, task_name=f"mailbox-poll-{mailbox_id}")
    return len(mailbox_ids)


def mailbox_poll(mailbox_id: int) -> int:
    return inbound.mailbox_poll(mailbox_id=mailbox_id)


def bounce_refund(workspace_id: int, email: str) -> str:
    """After a hard bounce read from a mailbox: the credits of a lead bought from Cursive come back once."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return "workspace deleted"
    refund = refunds.bounce_refund(workspace=workspace, email=email, source=BounceRefund.Source.SEQUENCE)
    return f"refunded {refund.credits}" if refund else "nothing owed"
