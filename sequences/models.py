"""Mailboxes, sequences and their steps, enrolments, the messages sent and what came back.

How sending works (claims, caps, retries, replies, bounces and refunds) is described in docs/sequences.md."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from leads.models import Lead

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def default_send_days() -> list[str]:
    return ["mon", "tue", "wed", "thu", "fri"]


class Mailbox(models.Model):
    """A workspace's own mailbox: SMTP to send, optionally IMAP to read replies and bounces. Passwords are
    stored encrypted (cursive.crypto) and never shown again."""

    class Security(models.TextChoices):
        NONE = "none", "None"
        STARTTLS = "starttls", "STARTTLS"
        TLS = "tls", "TLS"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FAILING = "failing", "Failing"  # the server refused the credentials: sending waits for a fix

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="mailboxes")
    email = models.CharField(max_length=254)
    from_name = models.CharField(max_length=120, blank=True)
    smtp_host = models.CharField(max_length=253)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_username = models.CharField(max_length=254)
    smtp_password = models.TextField(help_text="Encrypted.")
    smtp_security = models.CharField(max_length=10, choices=Security.choices, default=Security.STARTTLS)
    imap_host = models.CharField(max_length=253, blank=True)
    imap_port = models.PositiveIntegerField(null=True, blank=True)
    imap_username = models.CharField(max_length=254, blank=True)
    imap_password = models.TextField(blank=True, help_text="Encrypted.")
    imap_security = models.CharField(max_length=10, choices=Security.choices, default=Security.TLS)
    daily_limit = models.PositiveIntegerField(default=200)
    hourly_limit = models.PositiveIntegerField(default=50)
    min_gap_seconds = models.PositiveIntegerField(default=60)
    warmup = models.BooleanField(default=True, help_text="Ramp the daily limit up over the mailbox's first days.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Pacing, changed only under the row's lock when sends are claimed.
    next_send_at = models.DateTimeField(default=timezone.now)
    hour_started_at = models.DateTimeField(default=timezone.now)
    sent_this_hour = models.PositiveIntegerField(default=0)
    day_started_on = models.DateField(default=dt.date.today)
    sent_today = models.PositiveIntegerField(default=0)
    # Reading replies and bounces: where the last poll stopped.
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True)
    imap_last_uid = models.BigIntegerField(default=0)
    imap_polled_at = models.DateTimeField(null=True, blank=True)
    imap_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "email"], name="mailbox_ws_email_unique"),
            models.CheckConstraint(condition=Q(hourly_limit__gte=1, daily_limit__gte=1), name="mailbox_limits_positive"),
        ]
        indexes = [models.Index(fields=["workspace", "email"], name="mailbox_ws_email_idx")]

    def __str__(self):
        return self.email

    @property
    def reads_replies(self) -> bool:
        return bool(self.imap_host)


class Sequence(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sequences")
    name = models.CharField(max_length=120)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="sequences")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    stop_on_reply = models.BooleanField(default=True)
    # The send window, in the recipient's time zone where their state or country gives one.
    send_days = ArrayField(models.CharField(max_length=3), default=default_send_days)
    send_start = models.TimeField(default=dt.time(8, 0))
    send_end = models.TimeField(default=dt.time(18, 0))
    skip_holidays = models.BooleanField(default=False, help_text="No sends on the recipient's public holidays.")
    track_opens = models.BooleanField(default=False, help_text="Opens are unreliable: mail apps load images themselves.")
    # Enrolment from the website: identified visitors who match these rules join within a minute, once.
    website_enabled = models.BooleanField(default=False)
    website_min_score = models.PositiveSmallIntegerField(null=True, blank=True)
    website_path_contains = models.CharField(max_length=200, blank=True)
    # Enrolment from a segment: every new person a pull of it adds.
    segment = models.ForeignKey("segments.Segment", on_delete=models.SET_NULL, null=True, blank=True, related_name="sequences")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(send_start__lt=models.F("send_end")), name="sequence_window_start_before_end"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="sequence_ws_recent_idx"),
            # The claimers' first question: which sequences of this mailbox are sending.
            models.Index(fields=["mailbox"], condition=Q(status="active"), name="sequence_active_mailbox_idx"),
        ]

    def __str__(self):
        return self.name


class Step(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WAIT = "wait", "Wait"
        CONDITION = "condition", "Condition"

    class Condition(models.TextChoices):
        OPENED = "opened", "Opened an email"
        CLICKED = "clicked", "Clicked a link"
        REPLIED = "replied", "Replied"
        VISITED = "visited", "Visited a page"

    class Then(models.TextChoices):
        CONTINUE = "continue", "Continue"
        SKIP_NEXT = "skip_next", "Skip the next step"
        STOP = "stop", "Stop the sequence"

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    wait_hours = models.PositiveIntegerField(default=0)
    condition = models.CharField(max_length=10, choices=Condition.choices, blank=True)
    condition_path = models.CharField(max_length=200, blank=True, help_text="For 'visited': the path contains this.")
    if_met = models.CharField(max_length=10, choices=Then.choices, default=Then.CONTINUE)
    if_not_met = models.CharField(max_length=10, choices=Then.choices, default=Then.CONTINUE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            # Deferred so that a reorder can swap positions inside one transaction.
            models.UniqueConstraint(
                fields=["sequence", "position"], name="step_sequence_position_unique", deferrable=models.Deferrable.DEFERRED
            ),
            models.CheckConstraint(
                condition=~Q(kind="email") | (~Q(subject="") & ~Q(body="")), name="step_email_has_subject_and_body"
            ),
            models.CheckConstraint(condition=~Q(kind="wait") | Q(wait_hours__gte=1), name="step_wait_at_least_an_hour"),
            models.CheckConstraint(condition=~Q(kind="condition") | ~Q(condition=""), name="step_condition_named"),
        ]

    def __str__(self):
        return f"{self.sequence_id} #{self.position} {self.kind}"


class Enrollment(models.Model):
    """One lead in one sequence: where it is and when its next step is due. Workers claim due rows with
    SKIP LOCKED; a lead is enrolled in a sequence at most once."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        REPLIED = "replied", "Replied"
        BOUNCED = "bounced", "Bounced"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        STOPPED = "stopped", "Stopped"

    class Source(models.TextChoices):
        MANUAL = "manual", "My Leads"
        API = "api", "API"
        SEGMENT = "segment", "Segment"
        WEBSITE = "website", "Website visit"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="enrollments")
    email = models.CharField(max_length=254, help_text="The address at enrolment, normalized.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    # Index of the next step to run (0-based position); equals the number of steps once completed.
    current_step = models.PositiveSmallIntegerField(default=0)
    next_send_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sequence", "lead"], name="enrollment_sequence_lead_unique"),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(next_send_at__isnull=False), name="enrollment_active_has_due_time"
            ),
        ]
        indexes = [
            # The claim: due rows of one sequence, oldest due first; only active rows are in it.
            models.Index(fields=["sequence", "next_send_at"], condition=Q(status="active"), name="enrollment_due_idx"),
            models.Index(fields=["sequence", "-enrolled_at", "-id"], name="enrollment_seq_recent_idx"),
            models.Index(fields=["workspace", "email"], name="enrollment_ws_email_idx"),
            models.Index(fields=["lead"], name="enrollment_lead_idx"),
        ]

    def __str__(self):
        return f"{self.email} in {self.sequence_id}"


class Message(models.Model):
    """One email of one step to one enrolment: at most one per (enrolment, step), which is what makes a step
    impossible to send twice whatever the workers do."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"  # claimed by a worker
        RETRY = "retry", "Waiting to retry"  # a temporary failure; claimed again when due
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # a permanent failure: the enrolment stopped
        UNKNOWN = "unknown", "Unknown"  # the worker died mid-send: never sent again, in case it went out

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="messages")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.SET_NULL, null=True, related_name="messages")
    message_id = models.CharField(max_length=250, unique=True, help_text="The Message-ID header, without brackets.")
    to_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrollment", "step"], name="message_enrollment_step_unique")]
        indexes = [
            # Lost sends: claims older than the lease.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="message_sending_idx"),
            models.Index(fields=["step", "status"], name="message_step_status_idx"),
            models.Index(fields=["workspace", "to_email"], name="message_ws_to_idx"),
        ]

    def __str__(self):
        return self.message_id


class Activity(models.Model):
    """The timeline of an enrolment (the lead drawer shows it): enrolled, sent, opened, clicked, replied,
    bounced, unsubscribed, stopped, completed."""

    class Kind(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Send failed, retrying"
        FAILED = "failed", "Send failed"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        REPLIED = "replied", "Replied"
        AUTO_REPLY = "auto_reply", "Out-of-office reply"
        BOUNCED = "bounced", "Bounced"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BRANCHED = "branched", "Condition checked"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="activities")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["enrollment", "created_at"], name="activity_enrollment_idx"),
            models.Index(fields=["created_at"], name="activity_created_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.enrollment_id}"


class InboundMessage(models.Model):
    """A message read from a mailbox over IMAP, recorded by its UID so that no message is handled twice."""

    class Kind(models.TextChoices):
        REPLY = "reply", "Reply"
        AUTO_REPLY = "auto_reply", "Out-of-office / auto-reply"
        BOUNCE = "bounce", "Bounce"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe request"
        OTHER = "other", "Not about a sequence"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="inbound")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=250, blank=True)
    from_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    bounced_email = models.CharField(max_length=254, blank=True)
    hard_bounce = models.BooleanField(default=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "uidvalidity", "uid"], name="inbound_mailbox_uid_unique")]
        indexes = [models.Index(fields=["received_at"], name="inbound_received_idx")]

    def __str__(self):
        return f"{self.kind} {self.message_id}"


class BounceRefund(models.Model):
    """Credits given back for a lead whose email hard-bounced within BOUNCE_REFUND_DAYS of being bought,
    pulled or enriched from Cursive: once per acquisition of an address."""

    class Source(models.TextChoices):
        SEQUENCE = "sequence", "Sequence bounce"
        API = "api", "Reported through the API"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    email_hash = models.CharField(max_length=64)
    acquired_reference = models.CharField(max_length=100)
    credits = models.DecimalField(max_digits=10, decimal_places=2)
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "acquired_reference", "email_hash"], name="bounce_refund_once_unique"),
            models.CheckConstraint(condition=Q(credits__gt=0), name="bounce_refund_positive"),
        ]

    def __str__(self):
        return f"{self.credits} for {self.acquired_reference}"

    @property
    def reference(self) -> str:
        return f"bounce_refund:{self.pk}"


class HandledEvent(models.Model):
    """An outbox event (cursive.events) a consumer of this app has handled, so that it is handled once.

    A consumer reads the events of its type from shortly before the newest one it handled onwards, minus the
    ones recorded here. A cursor of the highest id handled would be simpler but would skip an event whose
    transaction took its id first and committed last; the lookback margin and these rows cover that case. The
    OutboxEvent's own `dispatched_at` belongs to the webhooks dispatcher and is left alone."""

    consumer = models.CharField(max_length=40)
    event_id = models.BigIntegerField()
    event_created_at = models.DateTimeField()
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="handled_event_once")]
        # Where a consumer resumes (its newest event); the second, what retention drops.
        indexes = [
            models.Index(fields=["consumer", "event_created_at"], name="handled_event_cursor_idx"),
            models.Index(fields=["event_created_at"], name="handled_event_created_idx"),
        ]

    def __str__(self):
        return f"{self.consumer} {self.event_id}"
