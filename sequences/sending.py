"""The sending engine: due enrolments are claimed per mailbox, their email steps sent over one SMTP session, the
results recorded. Described on the Sequences page of the docs hub.

A claim is one transaction: a mailbox with due work is locked (SKIP LOCKED, so caps, the gap and the warm-up ramp
are counted under its lock), its due enrolments are locked (SKIP LOCKED, oldest due first), waits and conditions
are run inline, and each email step gets its Message row, unique per (enrolment, step). The claim commits before
any SMTP traffic: a row that already exists, whoever wrote it, is never sent again, so no step goes out twice
whatever the workers do. A worker that dies after the commit leaves rows `sending`; `lost_sends_settle` turns them
`unknown` once the lease has passed (they may have gone out) and moves their enrolments on.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from cursive.events import emit
from leads.models import Lead
from leads.selectors import suppressed_emails
from visitors.models import Event, Visitor

from . import composer, schedule, services, templating, transport
from .models import Activity, Enrollment, Mailbox, Message, Sequence, Step

logger = logging.getLogger("cursive.sequences")

# How long after a temporary failure (4xx, a dropped connection, a timeout) a message is tried again; after the
# last one it has failed for good.
BACKOFF = (dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2), dt.timedelta(hours=6))
MAX_ATTEMPTS = len(BACKOFF) + 1
GAP_JITTER = (0.8, 1.2)
SUPPRESSIONS_FRESH_SECONDS = 1.0


class _Clock:
    """The time of a run: `now` as given (tests move it), advancing with the real clock while the run lasts."""

    def __init__(self, now: dt.datetime | None):
        self.start = now or timezone.now()
        self.started = time.monotonic()

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.started)


@dataclass(slots=True)
class Outgoing:
    """A claimed email: its Message row is committed `sending` before the SMTP session starts."""

    message_pk: int
    message_id: str
    attempts: int
    enrollment_id: int
    sequence_id: int
    lead_id: int
    position: int
    step: Step
    to_email: str
    subject: str
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a lead is, as the send window needs it (schedule.lead_send_time reads these two)."""

    state: str
    country: str


@dataclass
class Claim:
    mailbox: Mailbox
    sequences: dict[int, Sequence]
    steps: dict[int, list[Step]]
    outgoing: list[Outgoing]
    enrollments: int  # claimed, including those whose steps ran inline
    capped: bool = False  # its caps were used up: nothing was claimed and it waits for its next window


@dataclass
class Results:
    sent: list[tuple[Outgoing, dt.datetime]] = field(default_factory=list)
    retry: list[tuple[Outgoing, str]] = field(default_factory=list)
    failed: list[tuple[Outgoing, str]] = field(default_factory=list)
    suppressed: list[Outgoing] = field(default_factory=list)
    put_back: list[Outgoing] = field(default_factory=list)
    mailbox_error: str = ""
    mailbox_failing: bool = False


def run_due(*, now: dt.datetime | None = None, batch: int = 100) -> int:
    """Claim the due work of one mailbox and send it; returns how many messages were sent. A mailbox whose claim
    held only waits and conditions, or whose caps are used up, makes way for the next one within the call."""
    clock = _Clock(now)
    while True:
        claim = _claim(now=clock.now(), batch=batch)
        if claim is None:
            return 0
        if claim.outgoing:
            return _send(claim, clock=clock)
        if not claim.enrollments and not claim.capped:
            return 0


def daily_cap(mailbox: Mailbox, *, today: dt.date) -> int:
    """The mailbox's daily limit, ramped up over its first days while warm-up is on."""
    if not mailbox.warmup:
        return mailbox.daily_limit
    days = max(0, (today - timezone.localdate(mailbox.created_at, dt.UTC)).days)
    ramp = settings.MAILBOX_WARMUP_START_PER_DAY + settings.MAILBOX_WARMUP_STEP_PER_DAY * days
    return min(mailbox.daily_limit, ramp)


def _allowance(mailbox: Mailbox, *, now: dt.datetime) -> int:
    """What the mailbox may still send now, after moving its hour and day windows forward (under its lock)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    if mailbox.hour_started_at < hour:
        mailbox.hour_started_at, mailbox.sent_this_hour = hour, 0
    today = now.astimezone(dt.UTC).date()
    if mailbox.day_started_on < today:
        mailbox.day_started_on, mailbox.sent_today = today, 0
    return max(0, min(mailbox.hourly_limit - mailbox.sent_this_hour, daily_cap(mailbox, today=today) - mailbox.sent_today))


def _capped_until(mailbox: Mailbox, *, now: dt.datetime) -> dt.datetime:
    hour = now.replace(minute=0, second=0, microsecond=0)
    until = now
    if mailbox.sent_this_hour >= mailbox.hourly_limit:
        until = hour + dt.timedelta(hours=1)
    if mailbox.sent_today >= daily_cap(mailbox, today=mailbox.day_started_on):
        until = max(until, dt.datetime.combine(mailbox.day_started_on + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    return until


_CLAIM_ENROLLMENTS = """
    SELECT e.* FROM unnest(%(sequences)s::bigint[]) AS s(id)
    CROSS JOIN LATERAL (
        SELECT * FROM sequences_enrollment
        WHERE sequence_id = s.id AND status = 'active' AND next_send_at <= %(now)s
        ORDER BY next_send_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) AS e
    ORDER BY e.next_send_at, e.id
    LIMIT %(limit)s
"""

_INSERT_MESSAGES = """
    INSERT INTO sequences_message
        (workspace_id, enrollment_id, step_id, mailbox_id, message_id, to_email, subject, status, attempts, error,
         claimed_at)
    SELECT %(workspace)s, enrollment_id, step_id, %(mailbox)s, message_id, to_email, subject, 'sending', 1, '', %(now)s
    FROM unnest(%(enrollments)s::bigint[], %(steps)s::bigint[], %(message_ids)s::text[], %(emails)s::text[],
                %(subjects)s::text[]) AS t(enrollment_id, step_id, message_id, to_email, subject)
    ON CONFLICT (enrollment_id, step_id) DO NOTHING
    RETURNING id, enrollment_id, message_id
"""


def _claim(*, now: dt.datetime, batch: int) -> Claim | None:
    with transaction.atomic():
        due_work = Enrollment.objects.filter(
            sequence__mailbox=OuterRef("pk"), sequence__status=Sequence.Status.ACTIVE, status=Enrollment.Status.ACTIVE
        ).filter(next_send_at__lte=now)
        mailbox = (
            Mailbox.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("workspace")
            .filter(Exists(due_work), status=Mailbox.Status.ACTIVE, next_send_at__lte=now)
            .order_by("next_send_at", "id")
            .first()
        )
        if mailbox is None:
            return None
        allowance = _allowance(mailbox, now=now)
        if allowance == 0:
            mailbox.next_send_at = _capped_until(mailbox, now=now)
            mailbox.save(update_fields=["next_send_at", "hour_started_at", "sent_this_hour", "day_started_on", "sent_today"])
            return Claim(mailbox=mailbox, sequences={}, steps={}, outgoing=[], enrollments=0, capped=True)
        sequences = {
            sequence.pk: sequence
            for sequence in Sequence.objects.filter(mailbox=mailbox, status=Sequence.Status.ACTIVE)
            .select_related("workspace")
            .order_by("pk")
        }
        limit = 1 if mailbox.min_gap_seconds else min(batch, allowance)
        claimed = list(Enrollment.objects.raw(_CLAIM_ENROLLMENTS, {"sequences": list(sequences), "now": now, "limit": limit}))
        steps = _steps_of(list(sequences))
        walker = _Walker(mailbox=mailbox, sequences=sequences, steps=steps, now=now)
        for enrollment in claimed:
            walker.walk(enrollment)
        outgoing = walker.claim_emails()
        if outgoing:
            mailbox.sent_this_hour += len(outgoing)
            mailbox.sent_today += len(outgoing)
        gap = mailbox.min_gap_seconds * random.uniform(*GAP_JITTER)
        # Without a gap the mailbox still moves behind the others that wait, so each gets its turn.
        mailbox.next_send_at = now + dt.timedelta(seconds=gap if outgoing else 0)
        mailbox.save(update_fields=["next_send_at", "hour_started_at", "sent_this_hour", "day_started_on", "sent_today"])
        return Claim(mailbox=mailbox, sequences=sequences, steps=steps, outgoing=outgoing, enrollments=len(claimed))


def _steps_of(sequence_ids) -> dict[int, list[Step]]:
    steps: dict[int, list[Step]] = {sequence_id: [] for sequence_id in sequence_ids}
    for step in Step.objects.filter(sequence_id__in=list(sequence_ids)).order_by("sequence_id", "position"):
        steps[step.sequence_id].append(step)
    return steps


class _Walker:
    """Runs claimed enrolments forward to their next email step (inside the claim's transaction): waits push the
    due time, conditions branch, the end completes; then the emails' Message rows are inserted."""

    def __init__(self, *, mailbox: Mailbox, sequences: dict[int, Sequence], steps: dict[int, list[Step]], now):
        self.mailbox = mailbox
        self.sequences = sequences
        self.steps = steps
        self.now = now
        self.emails: list[tuple[Enrollment, Step]] = []

    def walk(self, enrollment: Enrollment) -> None:
        steps = self.steps[enrollment.sequence_id]
        position, due = enrollment.current_step, enrollment.next_send_at
        while True:
            if position >= len(steps):
                _complete(enrollment, sequence=self.sequences[enrollment.sequence_id], steps=len(steps))
                return
            step = steps[position]
            if step.kind == Step.Kind.EMAIL:
                enrollment.current_step = position
                self.emails.append((enrollment, step))
                return
            if step.kind == Step.Kind.WAIT:
                due += dt.timedelta(hours=step.wait_hours)
                position += 1
                if due > self.now:
                    enrollment.current_step, enrollment.next_send_at = position, due
                    enrollment.save(update_fields=["current_step", "next_send_at"])
                    return
                continue
            met = _condition_met(step, enrollment)
            then = step.if_met if met else step.if_not_met
            label = Step.Condition(step.condition).label.lower()
            detail = f"{'Met' if met else 'Not met'}: {label}" + (f" ({step.condition_path})" if step.condition_path else "")
            Activity.objects.create(
                workspace_id=enrollment.workspace_id, enrollment=enrollment, kind=Activity.Kind.BRANCHED, detail=detail[:300]
            )
            if then == Step.Then.STOP:
                services.enrollment_finish(enrollment, status=Enrollment.Status.STOPPED, reason=f"Condition {detail}")
                return
            position += 2 if then == Step.Then.SKIP_NEXT else 1

    def _defer_outside_window(self, leads: dict[int, Lead]) -> None:
        """The one place the send window is enforced, whatever made the step due (enrolment, a wait, a retry, a
        condition): an email outside the lead's window waits for its next opening instead of going out."""
        keep = []
        for enrollment, step in self.emails:
            opening = schedule.lead_send_time(
                sequence=self.sequences[enrollment.sequence_id], lead=leads[enrollment.lead_id], after=self.now
            )
            if opening <= self.now:
                keep.append((enrollment, step))
                continue
            enrollment.next_send_at = opening
            enrollment.save(update_fields=["current_step", "next_send_at"])
        self.emails = keep

    def claim_emails(self) -> list[Outgoing]:
        """Insert a Message per email step (ON CONFLICT DO NOTHING) and hold the enrolments for the lease."""
        if not self.emails:
            return []
        leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in=[enrollment.lead_id for enrollment, _ in self.emails])}
        self._defer_outside_window(leads)
        if not self.emails:
            return []
        domain = self.mailbox.email.rpartition("@")[2]
        rows = []
        for enrollment, step in self.emails:
            values = templating.lead_values(leads[enrollment.lead_id])
            subject = templating.render(step.subject, values)[:300]
            rows.append((enrollment, step, values, subject, f"{uuid.uuid4().hex}@{domain}"))
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_MESSAGES,
                {
                    "workspace": self.mailbox.workspace_id,
                    "mailbox": self.mailbox.pk,
                    "now": self.now,
                    "enrollments": [enrollment.pk for enrollment, *_ in rows],
                    "steps": [step.pk for _, step, *_ in rows],
                    "message_ids": [message_id for *_, message_id in rows],
                    "emails": [enrollment.email for enrollment, *_ in rows],
                    "subjects": [subject for *_, subject, _ in rows],
                },
            )
            inserted = {enrollment_id: (pk, message_id) for pk, enrollment_id, message_id in cursor.fetchall()}
        outgoing = []
        existing = [(enrollment, step) for enrollment, step, *_ in rows if enrollment.pk not in inserted]
        retried = self._retry_or_settle(existing)
        for enrollment, step, values, subject, _ in rows:
            if enrollment.pk in inserted:
                pk, message_id = inserted[enrollment.pk]
                attempts = 1
            elif enrollment.pk in retried:
                pk, message_id, attempts = retried[enrollment.pk]
            else:
                continue
            outgoing.append(
                Outgoing(
                    message_pk=pk,
                    message_id=message_id,
                    attempts=attempts,
                    enrollment_id=enrollment.pk,
                    sequence_id=enrollment.sequence_id,
                    lead_id=enrollment.lead_id,
                    position=enrollment.current_step,
                    step=step,
                    to_email=enrollment.email,
                    subject=subject,
                    values=values,
                )
            )
        _hold(outgoing, until=self.now + dt.timedelta(seconds=settings.SEQUENCE_SEND_LEASE_SECONDS))
        return outgoing

    def _retry_or_settle(self, existing: list[tuple[Enrollment, Step]]) -> dict[int, tuple[int, str, int]]:
        """The step already has its Message: one waiting to retry is claimed again; any other is never sent again
        (a lost `sending` one becomes `unknown`) and its enrolment moves on."""
        if not existing:
            return {}
        messages = Message.objects.filter(
            Q(*[Q(enrollment_id=enrollment.pk, step_id=step.pk) for enrollment, step in existing], _connector=Q.OR)
        )
        by_enrollment = {message.enrollment_id: message for message in messages}
        retried: dict[int, tuple[int, str, int]] = {}
        settled: list[tuple[Enrollment, dt.datetime]] = []
        for enrollment, _step in existing:
            message = by_enrollment[enrollment.pk]
            if message.status == Message.Status.RETRY:
                Message.objects.filter(pk=message.pk).update(
                    status=Message.Status.SENDING, attempts=message.attempts + 1, claimed_at=self.now, mailbox=self.mailbox
                )
                retried[enrollment.pk] = (message.pk, message.message_id, message.attempts + 1)
            elif message.status == Message.Status.FAILED:
                services.enrollment_finish(enrollment, status=Enrollment.Status.STOPPED, reason=message.error, message=message)
            else:
                if message.status == Message.Status.SENDING:
                    Message.objects.filter(pk=message.pk).update(status=Message.Status.UNKNOWN)
                settled.append((enrollment, message.sent_at or message.claimed_at))
        if settled:
            _advance(
                [(enrollment.pk, enrollment.sequence_id, enrollment.current_step, at) for enrollment, at in settled],
                sequences=self.sequences,
                steps=self.steps,
                now=self.now,
            )
        return retried


def _condition_met(step: Step, enrollment: Enrollment) -> bool:
    if step.condition == Step.Condition.VISITED:
        visitors = Visitor.objects.filter(pixel__workspace_id=enrollment.workspace_id).filter(
            Q(lead_id=enrollment.lead_id) | Q(email__iexact=enrollment.email)
        )
        if visitors.filter(last_url__contains=step.condition_path).exists():
            return True
        visitor_ids = list(visitors.values_list("pk", flat=True))
        return bool(visitor_ids) and Event.objects.filter(visitor_id__in=visitor_ids, url__contains=step.condition_path).exists()
    moment = {
        Step.Condition.OPENED: "opened_at__isnull",
        Step.Condition.CLICKED: "clicked_at__isnull",
        Step.Condition.REPLIED: "replied_at__isnull",
    }[step.condition]
    return Message.objects.filter(enrollment_id=enrollment.pk, **{moment: False}).exists()


_HOLD = """
    UPDATE sequences_enrollment AS e SET current_step = v.position, next_send_at = %(until)s
    FROM unnest(%(ids)s::bigint[], %(positions)s::int[]) AS v(id, position)
    WHERE e.id = v.id
"""


def _hold(outgoing: list[Outgoing], *, until: dt.datetime) -> None:
    """Claimed enrolments are not due again before the lease ends: by then their send is recorded or settled."""
    if outgoing:
        with connection.cursor() as cursor:
            cursor.execute(
                _HOLD,
                {
                    "ids": [item.enrollment_id for item in outgoing],
                    "positions": [item.position for item in outgoing],
                    "until": until,
                },
            )


_ADVANCE = """
    UPDATE sequences_enrollment AS e SET current_step = v.next_position, next_send_at = v.due
    FROM unnest(%(ids)s::bigint[], %(positions)s::int[], %(next_positions)s::int[], %(dues)s::timestamptz[])
        AS v(id, position, next_position, due)
    WHERE e.id = v.id AND e.status = 'active' AND e.current_step = v.position
"""


def _advance(
    done: list[tuple[int, int, int, dt.datetime]],
    *,
    sequences: dict[int, Sequence],
    steps: dict[int, list[Step]],
    places: dict[int, _Place] | None = None,
    now,
) -> None:
    """Move enrolments past the email step that went out ((enrolment, sequence, its position, when)): the next step
    is due at once, or after the waits that follow it; one whose last step went out completes. An enrolment that
    stopped meanwhile (a reply, an unsubscribe) or moved on is left alone."""
    ids, positions, next_positions, dues = [], [], [], []
    finished: dict[int, int] = {}
    for enrollment_id, sequence_id, position, at in done:
        sequence_steps = steps[sequence_id]
        following, due = position + 1, at
        while following < len(sequence_steps) and sequence_steps[following].kind == Step.Kind.WAIT:
            due += dt.timedelta(hours=sequence_steps[following].wait_hours)
            following += 1
        if following >= len(sequence_steps) and due <= now:
            finished[enrollment_id] = position
            continue
        # Scheduled straight into the lead's next window where its place is at hand; elsewhere the claim defers
        # an email that comes due outside it.
        if places and following < len(sequence_steps) and sequence_steps[following].kind == Step.Kind.EMAIL:
            due = schedule.lead_send_time(sequence=sequences[sequence_id], lead=places[enrollment_id], after=due)
        ids.append(enrollment_id)
        positions.append(position)
        next_positions.append(following)
        dues.append(due)
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(_ADVANCE, {"ids": ids, "positions": positions, "next_positions": next_positions, "dues": dues})
    if finished:
        locked = Enrollment.objects.select_for_update().filter(pk__in=list(finished), status=Enrollment.Status.ACTIVE)
        for enrollment in locked.order_by("pk"):
            if enrollment.current_step == finished[enrollment.pk]:
                sequence = sequences[enrollment.sequence_id]
                _complete(enrollment, sequence=sequence, steps=len(steps[sequence.pk]))


def _complete(enrollment: Enrollment, *, sequence: Sequence, steps: int) -> None:
    """The enrolment (locked by the caller) ran its last step."""
    enrollment.current_step = steps
    enrollment.save(update_fields=["current_step"])
    services.enrollment_finish(enrollment, status=Enrollment.Status.COMPLETED, reason="Every step ran")
    emit(
        workspace=sequence.workspace,
        type="sequence.completed",
        data={
            "sequence_id": sequence.pk,
            "sequence_name": sequence.name,
            "enrollment_id": enrollment.pk,
            "lead_id": enrollment.lead_id,
            "email": enrollment.email,
        },
    )


# --- Sending, after the claim's commit ---------------------------------------------------------------------------


class _Session:
    """One SMTP session per claimed batch, opened on first use and again after the server dropped it."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox
        self.smtp: smtplib.SMTP | None = None

    def client(self) -> smtplib.SMTP:
        if self.smtp is None:
            self.smtp = transport.smtp_open(services.smtp_login(self.mailbox))
        return self.smtp

    def drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


class _Suppressions:
    """Which addresses of a batch must not be mailed (the workspace's list, erased people), read again before a send
    whenever the last look is over SUPPRESSIONS_FRESH_SECONDS old: an unsubscribe or an erasure since the claim wins,
    without a query per message."""

    def __init__(self, workspace, emails: list[str]):
        self.workspace = workspace
        self.emails = emails
        self.looked_at = -SUPPRESSIONS_FRESH_SECONDS
        self.suppressed: set[str] = set()

    def blocked(self, email: str) -> bool:
        if time.monotonic() - self.looked_at > SUPPRESSIONS_FRESH_SECONDS:
            self.suppressed = suppressed_emails(workspace=self.workspace, emails=self.emails)
            self.looked_at = time.monotonic()
        return email in self.suppressed


def _answer(code: int, text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {text}".strip()


def _send(claim: Claim, *, clock: _Clock) -> int:
    mailbox = claim.mailbox
    results = Results()
    # Past half the lease the rest goes back unsent: a slow server must not let the lease lapse on a live send.
    deadline = time.monotonic() + settings.SEQUENCE_SEND_LEASE_SECONDS / 2
    session = _Session(mailbox)
    suppressions = _Suppressions(mailbox.workspace, [item.to_email for item in claim.outgoing])
    try:
        for index, item in enumerate(claim.outgoing):
            if time.monotonic() > deadline:
                results.put_back.extend(claim.outgoing[index:])
                break
            if suppressions.blocked(item.to_email):
                results.suppressed.append(item)
                continue
            try:
                client = session.client()
            except transport.MailboxUnreachable as error:
                results.mailbox_error = error.message
                if "smtp_password" in error.fields:
                    results.mailbox_failing = True
                    results.put_back.extend(claim.outgoing[index:])
                else:
                    results.retry.extend((rest, error.message) for rest in claim.outgoing[index:])
                break
            email = composer.compose(
                message_pk=item.message_pk,
                message_id=item.message_id,
                to_email=item.to_email,
                from_email=mailbox.email,
                from_name=mailbox.from_name,
                subject=item.step.subject,
                body=item.step.body,
                values=item.values,
                track_opens=claim.sequences[item.sequence_id].track_opens,
                date=clock.now(),
            )
            try:
                client.sendmail(mailbox.email, [item.to_email], email)
            except smtplib.SMTPRecipientsRefused as error:
                code, text = next(iter(error.recipients.values()))
                (results.retry if 400 <= code < 500 else results.failed).append((item, _answer(code, text)))
            except smtplib.SMTPSenderRefused as error:
                answer = _answer(error.smtp_code, error.smtp_error)
                if 400 <= error.smtp_code < 500:
                    results.retry.append((item, answer))
                    session.drop()
                    continue
                # The server will not send from this address at all: nothing of the batch can go.
                results.mailbox_error = f"The SMTP server refused to send from {mailbox.email}: {answer}"
                results.mailbox_failing = True
                results.put_back.extend(claim.outgoing[index:])
                break
            except smtplib.SMTPResponseException as error:
                answer = _answer(error.smtp_code, error.smtp_error)
                if error.smtp_code == 421 or 400 <= error.smtp_code < 500:
                    results.retry.append((item, answer))
                    if error.smtp_code == 421:
                        session.drop()
                else:
                    results.failed.append((item, answer))
            except UnicodeEncodeError:
                # smtplib speaks ASCII only (no SMTPUTF8): such an address can never be sent to from here.
                results.failed.append((item, "The address is not plain ASCII, which this mail server path cannot send to"))
                session.drop()
            except (OSError, smtplib.SMTPException) as error:
                results.retry.append((item, f"The connection failed: {error or type(error).__name__}"))
                session.drop()
            else:
                results.sent.append((item, clock.now()))
    finally:
        session.close()
    _record(claim, results, now=clock.now())
    return len(results.sent)


_SET_MESSAGES = """
    UPDATE sequences_message AS m
    SET status = %(status)s, error = v.error, sent_at = v.sent_at, attempts = GREATEST(m.attempts + %(attempts)s, 0)
    FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(sent_at)s::timestamptz[]) AS v(id, error, sent_at)
    WHERE m.id = v.id AND m.status = 'sending'
    RETURNING m.id
"""

_DUE_AGAIN = """
    UPDATE sequences_enrollment AS e SET next_send_at = v.due
    FROM unnest(%(ids)s::bigint[], %(positions)s::int[], %(dues)s::timestamptz[]) AS v(id, position, due)
    WHERE e.id = v.id AND e.status = 'active' AND e.current_step = v.position
"""


def _set_messages(items: list[Outgoing], *, status: str, errors=None, sent_at=None, attempts: int = 0) -> set[int]:
    """Record how claimed messages ended, for those still `sending` (a lost send settled meanwhile stays as it is)."""
    if not items:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            _SET_MESSAGES,
            {
                "status": status,
                "attempts": attempts,
                "ids": [item.message_pk for item in items],
                "errors": errors or [""] * len(items),
                "sent_at": sent_at or [None] * len(items),
            },
        )
        return {row[0] for row in cursor.fetchall()}


def _due_again(items: list[Outgoing], dues: list[dt.datetime]) -> None:
    if items:
        with connection.cursor() as cursor:
            cursor.execute(
                _DUE_AGAIN,
                {"ids": [item.enrollment_id for item in items], "positions": [item.position for item in items], "dues": dues},
            )


_INSERT_ACTIVITIES = """
    INSERT INTO sequences_activity (workspace_id, enrollment_id, message_id, kind, detail, created_at)
    SELECT %(workspace)s, enrollment_id, message_id, %(kind)s, detail, %(now)s
    FROM unnest(%(enrollments)s::bigint[], %(messages)s::bigint[], %(details)s::text[]) AS t(enrollment_id, message_id, detail)
"""


def _activities(items: list[Outgoing], *, workspace_id: int, kind: str, details: list[str]) -> None:
    """One statement per batch: building and compiling a model per row cost a tenth of the sender's time."""
    if not items:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_ACTIVITIES,
            {
                "workspace": workspace_id,
                "kind": kind,
                "now": timezone.now(),
                "enrollments": [item.enrollment_id for item in items],
                "messages": [item.message_pk for item in items],
                "details": [detail[:300] for detail in details],
            },
        )


def _record(claim: Claim, results: Results, *, now: dt.datetime) -> None:
    """What the SMTP session did, in one transaction: sent messages and their enrolments moved on in bulk,
    temporary failures due again after their backoff, permanent ones and suppressed addresses stopped."""
    mailbox = claim.mailbox
    workspace_id = mailbox.workspace_id
    retry, failed = [], list(results.failed)
    for item, answer in results.retry:
        if item.attempts >= MAX_ATTEMPTS:
            failed.append((item, f"{answer} (gave up after {item.attempts} attempts)"))
        else:
            retry.append((item, answer))
    with transaction.atomic():
        sent = [(item, at) for item, at in results.sent]
        recorded = _set_messages([item for item, _ in sent], status=Message.Status.SENT, sent_at=[at for _, at in sent])
        sent = [(item, at) for item, at in sent if item.message_pk in recorded]
        _activities(
            [item for item, _ in sent],
            workspace_id=workspace_id,
            kind=Activity.Kind.SENT,
            details=[f"Step {item.position + 1}: {item.subject}" for item, _ in sent],
        )
        _advance(
            [(item.enrollment_id, item.sequence_id, item.position, at) for item, at in sent],
            sequences=claim.sequences,
            steps=claim.steps,
            places={item.enrollment_id: _Place(item.values["state"], item.values["country"]) for item, _ in sent},
            now=now,
        )

        recorded = _set_messages([item for item, _ in retry], status=Message.Status.RETRY, errors=[a for _, a in retry])
        retry = [(item, answer) for item, answer in retry if item.message_pk in recorded]
        _due_again([item for item, _ in retry], [now + BACKOFF[item.attempts - 1] for item, _ in retry])
        _activities(
            [item for item, _ in retry],
            workspace_id=workspace_id,
            kind=Activity.Kind.RETRYING,
            details=[f"Attempt {item.attempts}: {answer}" for item, answer in retry],
        )

        recorded = _set_messages([item for item, _ in failed], status=Message.Status.FAILED, errors=[a for _, a in failed])
        failed = [(item, answer) for item, answer in failed if item.message_pk in recorded]
        _activities(
            [item for item, _ in failed], workspace_id=workspace_id, kind=Activity.Kind.FAILED, details=[a for _, a in failed]
        )
        _stop({item.enrollment_id: (item, f"The server refused the message: {answer}") for item, answer in failed})

        # Never sent: the rows go, so the step can be sent later if the address is ever allowed again.
        Message.objects.filter(pk__in=[item.message_pk for item in results.suppressed], status=Message.Status.SENDING).delete()
        _stop({item.enrollment_id: (item, "suppressed") for item in results.suppressed}, keep_message=False)

        # Not tried (the mailbox failed, or the lease ran short): back to retry as they were, due at once.
        recorded = _set_messages(results.put_back, status=Message.Status.RETRY, attempts=-1)
        put_back = [item for item in results.put_back if item.message_pk in recorded]
        _due_again(put_back, [now] * len(put_back))

        if results.mailbox_error:
            update = {"last_error": results.mailbox_error[:2000], "last_error_at": now}
            if results.mailbox_failing:
                update["status"] = Mailbox.Status.FAILING
            Mailbox.objects.filter(pk=mailbox.pk).update(**update)
            logger.warning("mailbox failed", extra={"mailbox_id": mailbox.pk, "error": results.mailbox_error})


def _stop(by_enrollment: dict[int, tuple[Outgoing, str]], *, keep_message: bool = True) -> None:
    """Stop these enrolments (this one lead only, never the sequence) if they still wait on the step they claimed."""
    if not by_enrollment:
        return
    locked = Enrollment.objects.select_for_update().filter(pk__in=list(by_enrollment), status=Enrollment.Status.ACTIVE)
    for enrollment in locked.order_by("pk"):
        item, reason = by_enrollment[enrollment.pk]
        if enrollment.current_step == item.position:
            message = Message(pk=item.message_pk) if keep_message else None
            services.enrollment_finish(enrollment, status=Enrollment.Status.STOPPED, reason=reason, message=message)


def lost_sends_settle(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Messages still `sending` past the lease (a worker died between its claim and the server's answer) become
    `unknown` and their enrolments move on: never sent again, since they may have gone out."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.SEQUENCE_SEND_LEASE_SECONDS)
    with transaction.atomic():
        lost = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("enrollment")
            .filter(status=Message.Status.SENDING, claimed_at__lt=cutoff)
            .order_by("claimed_at")[:limit]
        )
        if not lost:
            return 0
        Message.objects.filter(pk__in=[message.pk for message in lost]).update(status=Message.Status.UNKNOWN)
        sequence_ids = {message.enrollment.sequence_id for message in lost}
        sequences = {
            sequence.pk: sequence for sequence in Sequence.objects.filter(pk__in=sequence_ids).select_related("workspace")
        }
        steps = _steps_of(sequence_ids)
        Activity.objects.bulk_create(
            [
                Activity(
                    workspace_id=message.workspace_id,
                    enrollment_id=message.enrollment_id,
                    message=message,
                    kind=Activity.Kind.SENT,
                    detail="Delivery unknown: the sender stopped during the send; it is not sent again",
                )
                for message in lost
            ]
        )
        done = []
        for message in lost:
            positions = [step.pk for step in steps[message.enrollment.sequence_id]]
            if message.step_id in positions:
                position = positions.index(message.step_id)
                done.append((message.enrollment_id, message.enrollment.sequence_id, position, message.claimed_at))
        _advance(done, sequences=sequences, steps=steps, now=now)
    logger.warning("lost sends settled", extra={"messages": len(lost)})
    return len(lost)
