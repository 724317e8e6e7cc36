from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace


class Segment(models.Model):
    """A saved audience: filters over the lead database, previewed for free and pulled for credits."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    last_count = models.PositiveIntegerField(null=True, blank=True)
    last_run = models.DateTimeField(null=True, blank=True)
    auto_pull_per_day = models.PositiveIntegerField(default=0, help_text="People pulled automatically each day; 0 is off.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "-updated_at"], name="segment_ws_status_idx"),
            models.Index(
                fields=["status", "auto_pull_per_day"], condition=Q(auto_pull_per_day__gt=0), name="segment_auto_pull_idx"
            ),
        ]

    def __str__(self):
        return self.name


class SegmentRun(models.Model):
    """One preview or pull of a segment: what it found, pulled and cost (segment performance)."""

    class Mode(models.TextChoices):
        PREVIEW = "preview", "Preview"
        PULL = "pull", "Pull"
        AUTO_PULL = "auto_pull", "Automatic pull"
        REFRESH = "refresh", "Daily count"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="runs")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    count = models.PositiveIntegerField(null=True, blank=True)
    requested = models.PositiveIntegerField(default=0)
    pulled = models.PositiveIntegerField(default=0)
    skipped_owned = models.PositiveIntegerField(default=0)
    credits_charged = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["segment", "-created_at"], name="segment_run_recent_idx")]

    def __str__(self):
        return f"{self.mode} of {self.segment_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def reference(self) -> str:
        return f"segment_run:{self.pk}"


class SegmentSettings(models.Model):
    """A workspace's limits for automatic pulls."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="segment_settings")
    auto_pull_daily_credit_cap = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0.00"), help_text="Credits automatic pulls may spend per day; 0 is off."
    )

    class Meta:
        verbose_name_plural = "segment settings"

    def __str__(self):
        return f"Segment settings of {self.workspace}"
