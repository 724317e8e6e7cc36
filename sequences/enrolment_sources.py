"""Enrolment without a person clicking: identified website visitors who match a sequence's rules, and the new
people of a pull of a segment linked to a sequence.

Only active sequences enrol this way: a paused or draft sequence is not taking people in. Both paths enrol
through `services.enrollments_create`, whose unique (sequence, lead) row makes it once per person whatever
races."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Workspace
from cursive.locks import any_free_for_session, try_lock_for_session, unlock_for_session
from cursive.models import OutboxEvent
from leads.models import Lead
from visitors.models import Visitor

from . import services
from .models import Enrollment, HandledEvent, Sequence

logger = logging.getLogger("cursive.sequences")

WEBSITE_CONSUMER = "sequences.website"
WEBSITE_TASK = "sequences.enrolment_sources.website_visitors_enrol"
_SLOT = "sequences.website-enrolment"
# How far before the newest handled event to look again: an identification's transaction committing later
# than this after it recorded its event would be missed. Identifications take well under a second.
LOOKBACK_MARGIN = dt.timedelta(minutes=10)
# Where a consumer that has handled nothing yet starts.
FIRST_LOOKBACK = dt.timedelta(hours=1)
BATCH = 200
# Handled rows past where the consumer resumes are never read again; a month of them is kept to look into.
HANDLED_RETENTION = dt.timedelta(days=30)


# --- From the website ------------------------------------------------------------------------------------------


def _website_sequences() -> bool:
    return Sequence.objects.filter(website_enabled=True, status=Sequence.Status.ACTIVE).exists()


def wake_website_enrolment() -> None:
    """After the commit of anything that emitted events: start the enrolment task when some sequence enrols from
    the website and no task is running (a running one finds the new events itself, and looks once more as it
    ends)."""
    if not _website_sequences():
        return
    if any_free_for_session([_SLOT]):
        async_task(WEBSITE_TASK, task_name="sequences-website-enrolment")


def _settle() -> dt.timedelta:
    """How long after an identification its rules are checked: pageviews another web process received just before
    are still in that process's buffer for up to PIXEL_BUFFER_MS (visitors.buffer), and a visit to /pricing must
    count."""
    return dt.timedelta(milliseconds=2 * settings.PIXEL_BUFFER_MS + 500)


def _unhandled(*, skip: set[int]):
    since = _resume_point() or timezone.now() - FIRST_LOOKBACK
    handled = HandledEvent.objects.filter(consumer=WEBSITE_CONSUMER, event_id=OuterRef("pk"))
    return (
        OutboxEvent.objects.filter(type="visitor.identified", created_at__gte=since).filter(~Exists(handled)).exclude(pk__in=skip)
    )


def _pending_events(*, skip: set[int] = frozenset()) -> list[OutboxEvent]:
    settled = timezone.now() - _settle()
    return list(_unhandled(skip=skip).filter(created_at__lte=settled).order_by("created_at", "id")[:BATCH])


def _settling_for(*, skip: set[int]) -> float | None:
    """Seconds until the youngest unhandled event has settled, or None when none is waiting."""
    youngest = _unhandled(skip=skip).aggregate(youngest=Max("created_at"))["youngest"]
    if youngest is None:
        return None
    return max(0.0, (youngest + _settle() - timezone.now()).total_seconds())


def website_visitors_enrol() -> int:
    """The task (woken after each identification, and every minute as a safety net): enrol the people of the
    `visitor.identified` events not handled yet into the workspace's active website sequences whose rules
    they match. Returns how many enrolments were made."""
    if not try_lock_for_session(_SLOT):
        return 0
    enrolled = 0
    # An event that fails is left for the next run, and does not hold up the ones after it.
    failed: set[int] = set()
    try:
        while True:
            while events := _pending_events(skip=failed):
                for event in events:
                    try:
                        enrolled += _handle_identified(event)
                    except Exception:
                        logger.exception("website enrolment failed", extra={"event_id": event.pk})
                        failed.add(event.pk)
                if len(events) < BATCH:
                    break
            wait = _settling_for(skip=failed)
            if wait is None:
                break
            time.sleep(wait + 0.05)
    finally:
        unlock_for_session(_SLOT)
    # An event committed between the last look and the release found the slot taken: look once more.
    if _pending_events(skip=failed) and _website_sequences():
        async_task(WEBSITE_TASK, task_name="sequences-website-enrolment")
    return enrolled


_INSERT_HANDLED = """
INSERT INTO sequences_handledevent (consumer, event_id, event_created_at, handled_at)
VALUES (%s, %s, %s, now()) ON CONFLICT (consumer, event_id) DO NOTHING RETURNING id
"""


@transaction.atomic
def _handle_identified(event: OutboxEvent) -> int:
    """One event, in one transaction with its handled row: a second task racing on it waits for this one's
    commit, then finds the row there and does nothing."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_HANDLED, [WEBSITE_CONSUMER, event.pk, event.created_at])
        if cursor.fetchone() is None:
            return 0
    lead_id = (event.data or {}).get("lead_id")
    if not isinstance(lead_id, int):
        return 0  # a company named by its network: nobody to write to
    sequences = list(
        Sequence.objects.select_for_update()
        .filter(workspace_id=event.workspace_id, website_enabled=True, status=Sequence.Status.ACTIVE)
        .order_by("pk")
    )
    lead = Lead.objects.filter(workspace_id=event.workspace_id, pk=lead_id).only("pk", "score").first()
    if not sequences or lead is None:
        return 0
    workspace = Workspace.objects.get(pk=event.workspace_id)
    enrolled = 0
    for sequence in sequences:
        if not website_rules_match(sequence=sequence, lead=lead):
            continue
        result = services.enrollments_create(
            workspace=workspace, sequence_id=sequence.pk, lead_ids=[lead.pk], source=Enrollment.Source.WEBSITE
        )
        enrolled += result.enrolled
    return enrolled


# The path of an absolute URL (the beacon sends those); a URL without a scheme is taken as a path.
_VISITED = """
SELECT EXISTS (
    SELECT 1 FROM visitors_event
    WHERE visitor_id = ANY(%(visitors)s) AND type = 'pageview'
      AND strpos(
            lower(coalesce(substring(url from '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)'),
                           split_part(split_part(url, '?', 1), '#', 1))),
            lower(%(text)s)) > 0
)
"""


def website_rules_match(*, sequence: Sequence, lead: Lead) -> bool:
    """The lead's score is at least the sequence's minimum, and (when the sequence names a text) one of the
    pages any of the person's visitors saw has a path containing it, whatever its case."""
    if sequence.website_min_score is not None and lead.score < sequence.website_min_score:
        return False
    if not sequence.website_path_contains:
        return True
    visitors = list(
        Visitor.objects.filter(lead_id=lead.pk, pixel__workspace_id=sequence.workspace_id).values_list("pk", flat=True)
    )
    if not visitors:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_VISITED, {"visitors": visitors, "text": sequence.website_path_contains})
        return cursor.fetchone()[0]


def _resume_point() -> dt.datetime | None:
    newest = HandledEvent.objects.filter(consumer=WEBSITE_CONSUMER).aggregate(newest=Max("event_created_at"))["newest"]
    return newest - LOOKBACK_MARGIN if newest else None


def handled_events_expired() -> Q:
    """Retention of handled rows (cursive.retention): those older than where the consumer resumes may go (the
    newest stays, or the consumer would start over from FIRST_LOOKBACK)."""
    resume = _resume_point()
    return Q(event_created_at__lt=resume) if resume else Q(pk__in=[])


def outbox_events_handled() -> Q:
    """The hold on outbox retention: identifications from where the consumer resumes on are still to be read."""
    resume = _resume_point()
    return ~Q(type="visitor.identified") | Q(created_at__lt=resume) if resume else Q()


# --- From a segment --------------------------------------------------------------------------------------------


def enrol_pulled_people(sender, *, workspace: Workspace, segment, lead_ids: list[int], **kwargs) -> int:
    """segments.signals.people_pulled, inside the pull's transaction: the new people join every active sequence
    linked to the segment. Those that cannot (no email, suppressed, a variable with no value) are skipped; the
    reasons are only counted in the log, since nobody asked for these leads one by one."""
    sequences = list(
        Sequence.objects.select_for_update()
        .filter(workspace=workspace, segment=segment, status=Sequence.Status.ACTIVE)
        .order_by("pk")
    )
    enrolled = 0
    for sequence in sequences:
        result = services.enrollments_create_many(
            workspace=workspace, sequence_id=sequence.pk, lead_ids_or_queryset=lead_ids, source=Enrollment.Source.SEGMENT
        )
        enrolled += result.enrolled
        if result.skipped:
            logger.info("segment pull: some people not enrolled", extra={"sequence": sequence.pk, "skipped": result.skipped})
    return enrolled
