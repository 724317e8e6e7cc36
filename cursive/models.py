import secrets

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class RateLimitCounter(models.Model):
    """Requests counted per key and fixed window, shared by every web worker."""

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="Epoch seconds at which the window opened.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_key_window_unique"),
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_prune_idx")]

    def __str__(self):
        return f"{self.key} @ {self.window_start}: {self.count}"


class WorkerHeartbeat(models.Model):
    """Written by a scheduled job; /health reads it to tell whether the worker runs."""

    name = models.CharField(max_length=50, unique=True)
    beat_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class Job(models.Model):
    """A side effect queued after commit (receipt, notification), with its attempts and last error."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    func = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=4)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="job_due_idx"),
            # Retention: finished jobs by age.
            models.Index(fields=["finished_at"], condition=models.Q(finished_at__isnull=False), name="job_finished_idx"),
        ]

    def __str__(self):
        return f"{self.func} #{self.pk} ({self.status})"


class FailedJob(Job):
    """Jobs that failed for good, for staff to read and retry."""

    class Meta:
        proxy = True
        verbose_name = "failed operation"
        verbose_name_plural = "failed operations"


class AuditEvent(models.Model):
    """Who did what to which object, and why: every staff change to money or data writes one."""

    actor = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=100)
    target = models.CharField(max_length=100, help_text="type:id of the object acted on.")
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["target", "-created_at"], name="audit_target_idx"),
            models.Index(fields=["created_at"], name="audit_created_idx"),
        ]

    def __str__(self):
        return f"{self.action} on {self.target}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed for every repeat."""

    class State(models.TextChoices):
        STARTED = "started", "In progress"
        DONE = "done", "Done"

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTED)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="idempotency_workspace_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_prune_idx")]

    def __str__(self):
        return f"{self.key} ({self.state})"


class RequestStat(models.Model):
    """Requests per hour, route and status class, for the staff monitoring page."""

    hour = models.DateTimeField()
    route = models.CharField(max_length=120)
    method = models.CharField(max_length=8)
    status = models.PositiveSmallIntegerField(help_text="The status code.")
    count = models.PositiveIntegerField(default=0)
    total_ms = models.FloatField(default=0)
    max_ms = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "route", "method", "status"], name="request_stat_unique")]
        indexes = [models.Index(fields=["-hour"], name="request_stat_hour_idx")]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h {self.method} {self.route} {self.status}: {self.count}"


def new_event_id() -> str:
    return f"msg_{secrets.token_hex(12)}"


class OutboxEvent(models.Model):
    """A domain event (`lead.created`, `purchase.completed`, ...) recorded in the transaction that caused it by
    `cursive.events.emit()`: a rolled-back operation leaves none, a committed one always has one. Consumers
    (webhooks, alerts) read the rows not yet dispatched after commit, in workers."""

    public_id = models.CharField(max_length=32, unique=True, default=new_event_id)
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=64)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The dispatcher's queue: the undispatched rows, oldest first.
            models.Index(fields=["id"], condition=models.Q(dispatched_at__isnull=True), name="outbox_undispatched_idx"),
            models.Index(fields=["workspace", "-created_at"], name="outbox_ws_created_idx"),
            models.Index(fields=["created_at"], name="outbox_created_idx"),
        ]

    def __str__(self):
        return f"{self.type} {self.public_id}"
