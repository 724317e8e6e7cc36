import base64
import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from accounts.models import Workspace
from cursive import crypto
from cursive.models import OutboxEvent


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_encrypted_secret() -> str:
    return crypto.encrypt(new_secret())


class Endpoint(models.Model):
    """Where a workspace's events go: a URL of its own (signed as Standard Webhooks says) or a Slack incoming
    webhook (readable messages)."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        SLACK = "slack", "Slack"

    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled"

    class DisabledBy(models.TextChoices):
        USER = "user", "Disabled by a member"
        GONE = "gone", "The receiver answered 410 Gone"
        FAILING = "failing", "Failing for 5 days"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEBHOOK)
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=300, blank=True)
    events = ArrayField(models.CharField(max_length=64), default=list, blank=True, help_text="Empty: every event.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    disabled_by = models.CharField(max_length=16, choices=DisabledBy.choices, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Encrypted (cursive.crypto): a copy of the database alone cannot sign as Cursive. Read them as `secret` and
    # `previous_secret`.
    secret_encrypted = models.TextField(default=new_encrypted_secret)
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    failure_warning_sent_at = models.DateTimeField(null=True, blank=True)
    # Slack alerts: only leads and visitors scoring at least this, and one message per subject per cool-down.
    min_score = models.PositiveSmallIntegerField(null=True, blank=True)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="endpoint_ws_created_idx")]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events

    @property
    def secret(self) -> str:
        """Raises crypto.SecretUnreadable when no configured key opens it (the keys changed)."""
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    @property
    def previous_secret(self) -> str:
        return crypto.decrypt(self.previous_secret_encrypted) if self.previous_secret_encrypted else ""

    @previous_secret.setter
    def previous_secret(self, value: str) -> None:
        self.previous_secret_encrypted = crypto.encrypt(value) if value else ""


class Delivery(models.Model):
    """One event for one endpoint: tried until a 2xx, on the retry schedule, then failed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 2 KB of the last answer.")
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_endpoint_event_uniq")]
        indexes = [
            # Each endpoint's queue, in the order its events happened.
            models.Index(fields=["endpoint", "event"], condition=models.Q(status="pending"), name="delivery_pending_idx"),
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_log_idx"),
            models.Index(fields=["created_at"], name="delivery_created_idx"),
        ]

    def __str__(self):
        return f"{self.event_id} -> {self.endpoint_id}"


class SlackAlertSent(models.Model):
    """When a Slack endpoint last told about a subject (a visitor, a lead), for its cool-down."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=100)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "subject"], name="slack_alert_subject_uniq")]
        indexes = [models.Index(fields=["sent_at"], name="slack_alert_sent_at_idx")]

    def __str__(self):
        return self.subject
