from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace


class OptOutRequest(models.Model):
    """A person asked, on the public opt-out page, to be erased or to get a copy of what Cursive holds about
    them. The address is kept only while the request waits for its confirmation link (the link is sent to it
    and the work needs it); a completed or expired request keeps the hash alone."""

    class Kind(models.TextChoices):
        ERASE = "erase", "Remove me"
        COPY = "copy", "Send me a copy of my data"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed, copy being sent"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired unconfirmed"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    email = models.CharField(max_length=254, blank=True, help_text="Cleared once the request is completed or expired.")
    email_hash = models.CharField(max_length=64, help_text="SHA-256 of the normalized address (leads.normalize).")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "confirmed"]) | Q(email=""), name="opt_out_done_has_no_email"
            ),
        ]
        indexes = [
            # The hourly sweep: requests still holding an address whose link expired.
            models.Index(fields=["expires_at"], condition=~Q(email=""), name="opt_out_holding_email_idx"),
            models.Index(fields=["email_hash", "-created_at"], name="opt_out_hash_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display().lower()})"


class ErasureRefund(models.Model):
    """Credits given back to a workspace for a lead it paid Cursive for within ERASURE_REFUND_DAYS and lost
    because the person was erased: once per acquisition of that person."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    email_hash = models.CharField(max_length=64)
    acquired_reference = models.CharField(max_length=100, help_text="What the lead was bought by (lead_purchase:7).")
    credits = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "acquired_reference", "email_hash"], name="erasure_refund_once"),
            models.CheckConstraint(condition=Q(credits__gt=0), name="erasure_refund_positive"),
        ]

    def __str__(self):
        return f"{self.credits} for {self.acquired_reference}"

    @property
    def reference(self) -> str:
        return f"erasure_refund:{self.pk}"
