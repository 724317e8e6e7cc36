from decimal import Decimal

from django.db import models
from django.db.models.functions import MD5

from accounts.models import Workspace
from visitors.models import Pixel

# A page is its URL without query string and fragment, so ?utm_source=... variants count as one page.
PAGE_OF_URL = r"regexp_replace(url, '[?#].*$', '')"


class DailyCredits(models.Model):
    """Credits a workspace moved on one day, rolled up from the ledger (analytics reads this, not the ledger)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    spent = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    added = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    earned = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    sales = models.PositiveIntegerField(default=0, help_text="Partner leads sold that day.")

    class Meta:
        verbose_name_plural = "daily credits"
        constraints = [models.UniqueConstraint(fields=["workspace", "day"], name="daily_credits_unique")]

    def __str__(self):
        return f"{self.workspace_id} {self.day}"


# The score bands of the Analytics page's quality chart, (lowest, highest) score.
QUALITY_BUCKETS = [(0, 19), (20, 39), (40, 59), (60, 79), (80, 100)]


class DailyLeads(models.Model):
    """Leads a workspace acquired on one day from one source, the credits that source cost, and how many of those
    leads are in each score band (as scored at the last rollup, or the last re-scoring of the whole workspace)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    source = models.CharField(max_length=20)
    leads = models.PositiveIntegerField(default=0)
    credits = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    score_0 = models.PositiveIntegerField(default=0, db_default=0, help_text="Leads scoring 0-19.")
    score_20 = models.PositiveIntegerField(default=0, db_default=0, help_text="Leads scoring 20-39.")
    score_40 = models.PositiveIntegerField(default=0, db_default=0, help_text="Leads scoring 40-59.")
    score_60 = models.PositiveIntegerField(default=0, db_default=0, help_text="Leads scoring 60-79.")
    score_80 = models.PositiveIntegerField(default=0, db_default=0, help_text="Leads scoring 80-100.")

    class Meta:
        verbose_name_plural = "daily leads"
        constraints = [models.UniqueConstraint(fields=["workspace", "day", "source"], name="daily_leads_unique")]

    def __str__(self):
        return f"{self.workspace_id} {self.day} {self.source}"


class DailyPixelPages(models.Model):
    """Events one pixel captured on one day on one page (URL without query string), and how many of them were
    pageviews, rolled up from the partitioned events table: the Analytics page reads past days here."""

    # No constraint in the database: the rollup may read events of a pixel being deleted in another
    # transaction; Django's cascade still removes a deleted pixel's rows. The unique index, led by pixel and day,
    # serves the reads.
    pixel = models.ForeignKey(Pixel, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+")
    day = models.DateField()
    page = models.TextField(blank=True)
    events = models.PositiveIntegerField(default=0)
    pageviews = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily pixel pages"
        constraints = [
            # A URL can outgrow a btree entry: its hash keeps the key small.
            models.UniqueConstraint(models.F("pixel"), models.F("day"), MD5("page"), name="daily_pixel_pages_unique")
        ]

    def __str__(self):
        return f"{self.pixel_id} {self.day} {self.page}"
