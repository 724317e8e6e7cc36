"""django-q2 tasks of sequences: thin wrappers around the services, safe to run twice."""

from __future__ import annotations

from django_q.tasks import async_task

from accounts.models import Workspace

from . import inbound, refunds
from .models import BounceRefund

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
