"""Reads of a workspace's mailboxes, sequences, enrolments and their results."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Workspace
from cursive.errors import NotFound

from .models import Activity, Enrollment, Mailbox, Message, Sequence, Step


def mailboxes_list(*, workspace: Workspace) -> QuerySet[Mailbox]:
    return Mailbox.objects.filter(workspace=workspace).order_by("email", "id")


def mailbox_get(*, workspace: Workspace, mailbox_id) -> Mailbox:
    mailbox = Mailbox.objects.filter(workspace=workspace, pk=_id(mailbox_id)).first()
    if mailbox is None:
        raise NotFound("That mailbox does not exist in this workspace.")
    return mailbox


def sequences_list(*, workspace: Workspace) -> QuerySet[Sequence]:
    return Sequence.objects.filter(workspace=workspace).select_related("mailbox").order_by("-created_at", "-id")


def _replied() -> Exists:
    """An enrolment whose person replied to any of its messages: stopped by the reply or not (stop_on_reply off)."""
    return Exists(Message.objects.filter(enrollment=OuterRef("pk"), replied_at__isnull=False))


def _count_of(rows: QuerySet, group: str) -> Coalesce:
    return Coalesce(
        Subquery(rows.order_by().values(group).annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0)
    )


def sequences_list_with_stats(*, workspace: Workspace) -> QuerySet[Sequence]:
    """The sequences page: each sequence with `enrolled_count`, `sent_count` and `replied_count`, counted as
    sequence_stats counts them, in one query whatever the number of sequences."""
    return sequences_list(workspace=workspace).annotate(
        enrolled_count=_count_of(Enrollment.objects.filter(sequence=OuterRef("pk")), "sequence"),
        replied_count=_count_of(Enrollment.objects.filter(_replied(), sequence=OuterRef("pk")), "sequence"),
        sent_count=_count_of(Message.objects.filter(_SENT, enrollment__sequence=OuterRef("pk")), "enrollment__sequence"),
    )


def sequence_get(*, workspace: Workspace, sequence_id) -> Sequence:
    sequence = Sequence.objects.filter(workspace=workspace, pk=_id(sequence_id)).select_related("mailbox").first()
    if sequence is None:
        raise NotFound("That sequence does not exist in this workspace.")
    return sequence


def sequence_steps(*, sequence: Sequence) -> list[Step]:
    return list(sequence.steps.order_by("position"))


def enrollments_list(*, workspace: Workspace, sequence: Sequence, status: str | None = None) -> QuerySet[Enrollment]:
    rows = Enrollment.objects.filter(workspace=workspace, sequence=sequence).select_related("lead")
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-enrolled_at", "-id")


def lead_enrollments(*, workspace: Workspace, lead_id: int) -> list[tuple[Enrollment, list[Activity]]]:
    """The lead drawer's timeline: each sequence the lead is in, with what happened, oldest first."""
    enrollments = list(
        Enrollment.objects.filter(workspace=workspace, lead_id=lead_id).select_related("sequence").order_by("-enrolled_at")
    )
    activities: dict[int, list[Activity]] = {}
    for activity in Activity.objects.filter(enrollment__in=enrollments).order_by("created_at", "id"):
        activities.setdefault(activity.enrollment_id, []).append(activity)
    return [(enrollment, activities.get(enrollment.pk, [])) for enrollment in enrollments]


@dataclass(frozen=True)
class Stats:
    enrolled: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    completed: int = 0

    @property
    def reply_rate(self) -> float | None:
        """The headline: people who replied per message sent (None before anything is sent)."""
        return None if not self.sent else self.replied / self.sent

    def as_dict(self) -> dict[str, int]:
        return {
            "enrolled": self.enrolled,
            "sent": self.sent,
            "delivered": self.delivered,
            "opened": self.opened,
            "clicked": self.clicked,
            "replied": self.replied,
            "bounced": self.bounced,
            "unsubscribed": self.unsubscribed,
            "completed": self.completed,
        }


_SENT = Q(status__in=[Message.Status.SENT, Message.Status.UNKNOWN])


def _message_counts(messages: QuerySet[Message]) -> dict[str, int]:
    return messages.aggregate(
        sent=Count("id", filter=_SENT),
        bounced=Count("id", filter=Q(bounced_at__isnull=False)),
        opened=Count("id", filter=Q(opened_at__isnull=False)),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        replied=Count("id", filter=Q(replied_at__isnull=False)),
        unsubscribed=Count("id", filter=Q(unsubscribed_at__isnull=False)),
    )


def sequence_stats(*, sequence: Sequence) -> Stats:
    """Counts per sequence. `replied`, `bounced` and `unsubscribed` count enrolments (a person who replied
    twice replied once); `sent`, `opened` and `clicked` count messages."""
    people = Enrollment.objects.filter(sequence=sequence).aggregate(
        enrolled=Count("id"),
        replied=Count("id", filter=_replied()),
        bounced=Count("id", filter=Q(status=Enrollment.Status.BOUNCED)),
        unsubscribed=Count("id", filter=Q(status=Enrollment.Status.UNSUBSCRIBED)),
        completed=Count("id", filter=Q(status=Enrollment.Status.COMPLETED)),
    )
    messages = _message_counts(Message.objects.filter(enrollment__sequence=sequence))
    return Stats(
        enrolled=people["enrolled"],
        sent=messages["sent"],
        delivered=messages["sent"] - messages["bounced"],
        opened=messages["opened"],
        clicked=messages["clicked"],
        replied=people["replied"],
        bounced=people["bounced"],
        unsubscribed=people["unsubscribed"],
        completed=people["completed"],
    )


def step_stats(*, sequence: Sequence) -> list[tuple[Step, Stats]]:
    """Counts per email step, for the report's table."""
    rows = []
    for step in sequence.steps.filter(kind=Step.Kind.EMAIL).order_by("position"):
        counts = _message_counts(step.messages.all())
        rows.append(
            (
                step,
                Stats(
                    sent=counts["sent"],
                    delivered=counts["sent"] - counts["bounced"],
                    opened=counts["opened"],
                    clicked=counts["clicked"],
                    replied=counts["replied"],
                    bounced=counts["bounced"],
                    unsubscribed=counts["unsubscribed"],
                ),
            )
        )
    return rows


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
