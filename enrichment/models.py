from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from leads.models import Person


class Enrichment(models.Model):
    """A buyer's own list matched against the lead database: a free preview and quote, then, once confirmed and
    paid, the list back with the lead fields of every match (docs/enrichment.md)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        MATCHING = "matching", "Matching"
        AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
        PROCESSING = "processing", "Processing"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="enrichments")
    file = models.FileField(upload_to="enrichments/%Y/%m/", max_length=255)
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    mapping = models.JSONField(default=dict, blank=True, help_text="CSV header -> lead field.")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    matched_rows = models.PositiveIntegerField(default=0, help_text="Rows matched to a person, owned ones included.")
    already_owned_rows = models.PositiveIntegerField(default=0, help_text="Matched people the workspace owns: free.")
    duplicate_rows = models.PositiveIntegerField(default=0, help_text="Rows matching a person an earlier row matched.")
    nothing_to_fill_rows = models.PositiveIntegerField(default=0, help_text="Matches that add nothing the row lacks.")
    unusable_rows = models.PositiveIntegerField(default=0, help_text="Rows without a usable key.")
    matched_by = models.JSONField(default=dict, blank=True, help_text="Matched rows per method.")
    fills = models.JSONField(default=dict, blank=True, help_text="Lead field -> billable matches that would fill it.")
    billable_rows = models.PositiveIntegerField(default=0)
    price_per_row = models.DecimalField(max_digits=10, decimal_places=2)
    credits_quote = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    credits_charged = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    max_credits = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    enriched_rows = models.PositiveIntegerField(default=0, help_text="New leads added to the workspace.")
    result_file = models.FileField(upload_to="enrichments/results/%Y/%m/", blank=True, max_length=255)
    result_rows = models.PositiveIntegerField(default=0, help_text="Rows of the result written so far.")
    chunks_done = models.PositiveIntegerField(default=0, help_text="Chunks matched and committed; a rerun resumes after them.")
    estimated_rows = models.PositiveIntegerField(default=0, help_text="Line count of the file, for the progress bar.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of its worker.")
    failure_message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When the files and per-row matches are deleted.")
    expired_at = models.DateTimeField(null=True, blank=True, help_text="When they were deleted.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(price_per_row__gte=0), name="enrichment_price_not_negative"),
            models.CheckConstraint(condition=Q(credits_charged__gte=0), name="enrichment_charged_not_negative"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="enrichment_ws_recent_idx"),
            models.Index(fields=["status"], name="enrichment_status_idx"),
            models.Index(fields=["expires_at"], condition=Q(expired_at__isnull=True), name="enrichment_expiry_idx"),
        ]

    def __str__(self):
        return f"{self.original_name} ({self.status})"

    @property
    def reference(self) -> str:
        return f"enrichment:{self.pk}"

    @property
    def progress(self) -> int:
        """Percent of the current phase: rows matched while matching, rows written while the result is built."""
        if self.status == self.Status.QUEUED:
            return 0
        if self.status == self.Status.MATCHING:
            return min(99, int(self.total_rows * 100 / self.estimated_rows)) if self.estimated_rows else 0
        if self.status == self.Status.PROCESSING:
            return min(99, int(self.result_rows * 100 / self.total_rows)) if self.total_rows else 0
        return 100

    @property
    def is_expired(self) -> bool:
        return self.expired_at is not None or (self.expires_at is not None and self.expires_at <= timezone.now())

    def retention_from(self, moment) -> None:
        self.expires_at = moment + timedelta(days=settings.ENRICHMENT_RETENTION_DAYS)


class EnrichmentRow(models.Model):
    """A data row of an enrichment's file that matched a person of the lead database (rows that matched nobody
    are not stored: the result file says so from the file itself)."""

    class Method(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        LINKEDIN = "linkedin", "LinkedIn URL"
        NAME = "name", "Name + company"

    # Neither key is a constraint in the database: PostgreSQL checks a foreign key row by row, and those checks
    # at each chunk's commit took a quarter of matching time. Rows are written only by matching, in the
    # transaction that updates (so locks) their enrichment; Django's cascade still deletes and nulls them.
    # Found through enrichment_row_once, which starts with it: no index of its own.
    enrichment = models.ForeignKey(Enrichment, on_delete=models.CASCADE, related_name="rows", db_index=False, db_constraint=False)
    row = models.PositiveIntegerField(help_text="Data row number in the file, counting from 1.")
    method = models.CharField(max_length=16, choices=Method.choices)
    # Erased from the lead database meanwhile (before or after the row was written): the row is then enriched
    # with nothing.
    person = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, related_name="+", db_constraint=False)
    confidence = models.DecimalField(max_digits=4, decimal_places=3, help_text="1 for exact keys; name similarity else.")
    owned = models.BooleanField(default=False, help_text="The workspace already had this person: free.")
    duplicate = models.BooleanField(default=False, help_text="An earlier row of the file matched the same person.")
    fills = models.PositiveSmallIntegerField(default=0, help_text="Lead fields the match would fill in this row.")
    fill_mask = models.PositiveIntegerField(default=0, help_text="Which: bit i is enrichment.services.FILL_FIELDS[i].")
    billable = models.BooleanField(default=False)
    selected = models.BooleanField(default=False, help_text="Enriched (and charged) at confirmation.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrichment", "row"], name="enrichment_row_once"),
            # A person is charged for once per file, whichever chunk its rows are in.
            models.UniqueConstraint(fields=["enrichment", "person"], condition=Q(duplicate=False), name="enrichment_person_once"),
        ]

    def __str__(self):
        return f"row {self.row} of enrichment {self.enrichment_id}"
