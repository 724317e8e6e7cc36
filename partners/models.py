from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from leads.models import ContactFields


class PartnerProfile(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="partner_profile")
    company_name = models.CharField(max_length=200)
    payout_details = models.TextField(blank=True, help_text="Where payouts go (bank or PayPal details).")
    revenue_share_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("70.00"))
    trusted = models.BooleanField(default=False, help_text="Trusted partners' valid leads are listed without review.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(revenue_share_percent__gte=0, revenue_share_percent__lte=100), name="partner_share_0_100"
            ),
        ]

    def __str__(self):
        return self.company_name

    @property
    def under_review(self) -> bool:
        """Staff have not vouched for this partner yet: no upload of theirs approved, not activated or trusted."""
        return self.status == self.Status.PENDING and not self.trusted


class Upload(models.Model):
    """A partner's CSV and what became of each of its rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        LISTED = "listed", "Listed"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to="uploads/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    price_per_lead = models.DecimalField(max_digits=10, decimal_places=2)
    mapping = models.JSONField(default=dict, blank=True, help_text="CSV header -> lead field.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    listed_rows = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0, help_text="Chunks committed; a rerun resumes after them.")
    estimated_rows = models.PositiveIntegerField(default=0, help_text="Line count of the file, for the progress bar.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of its worker.")
    failure_message = models.TextField(blank=True)
    review_note = models.TextField(blank=True, help_text="Shown to the partner.")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(price_per_lead__gt=0), name="upload_price_positive"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="upload_ws_recent_idx"),
            models.Index(fields=["status"], name="upload_status_idx"),
        ]

    def __str__(self):
        return f"{self.original_name} ({self.status})"

    @property
    def progress(self) -> int:
        """Percent of the rows processed (a line count estimates the total); 100 once processing is over.
        Not the file position: the reader buffers far ahead of the rows it has handed over."""
        if self.status not in (self.Status.QUEUED, self.Status.PROCESSING):
            return 100
        if not self.estimated_rows:
            return 0
        return min(99, int(self.total_rows * 100 / self.estimated_rows))


class UploadedLead(ContactFields):
    """A valid row of an upload, staged until it is listed (or the upload rejected)."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="staged_leads")
    row = models.PositiveIntegerField(help_text="Data row number in the file, counting from 1.")
    line = models.PositiveIntegerField(default=0, help_text="Line of the file as a spreadsheet shows it (the header is 1).")
    dedup_hash = models.CharField(max_length=64)
    quality = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            # The second copy of a person within one file is a duplicate, whichever chunk it is in.
            models.UniqueConstraint(fields=["upload", "dedup_hash"], name="uploaded_lead_once_per_upload"),
        ]

    def __str__(self):
        return f"row {self.row} of upload {self.upload_id}"


class UploadError(models.Model):
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveIntegerField(help_text="Data row number, counting from 1; 0 for the file itself.")
    line = models.PositiveIntegerField(default=0, help_text="Line of the file as a spreadsheet shows it (the header is 1).")
    field = models.CharField(max_length=100)
    message = models.CharField(max_length=500)

    class Meta:
        indexes = [models.Index(fields=["upload", "row"], name="upload_error_row_idx")]

    def __str__(self):
        return f"row {self.row} {self.field}: {self.message}"


def duplicate_reason(original_line: int | None) -> str:
    """Why a row is skipped as a duplicate, in the words of every report (page, CSV, preview)."""
    if original_line is None:
        return "Already in Cursive."
    return f"Same person as line {original_line} of your file."


class UploadDuplicate(models.Model):
    """A row of an upload skipped as a duplicate, and of what: an earlier line of the same file, or a lead
    already in Cursive."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="duplicates")
    row = models.PositiveIntegerField(help_text="Data row number, counting from 1.")
    line = models.PositiveIntegerField(help_text="Line of the file as a spreadsheet shows it (the header is 1).")
    original_line = models.PositiveIntegerField(
        null=True, blank=True, help_text="The earlier line of the file with the same person; empty: already in Cursive."
    )

    class Meta:
        indexes = [models.Index(fields=["upload", "line"], name="upload_duplicate_line_idx")]

    def __str__(self):
        return f"line {self.line}: {self.reason}"

    @property
    def reason(self) -> str:
        return duplicate_reason(self.original_line)


class Payout(models.Model):
    """Money paid out to a partner; its ledger row takes the credits off the partner's balance."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="payouts")
    credits = models.DecimalField(max_digits=14, decimal_places=2)
    amount_cents = models.PositiveIntegerField(help_text="What was sent, in cents.")
    method = models.CharField(max_length=50, default="bank transfer")
    external_reference = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(credits__gt=0), name="payout_credits_positive")]

    def __str__(self):
        return f"Payout #{self.pk}: {self.credits} credits to {self.workspace}"

    @property
    def reference(self) -> str:
        return f"payout:{self.pk}"
