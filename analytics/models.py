from decimal import Decimal

from django.db import models

from accounts.models import Workspace


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


class DailyLeads(models.Model):
    """Leads a workspace acquired on one day from one source, and the credits that source cost."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    source = models.CharField(max_length=20)
    leads = models.PositiveIntegerField(default=0)
    credits = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        verbose_name_plural = "daily leads"
        constraints = [models.UniqueConstraint(fields=["workspace", "day", "source"], name="daily_leads_unique")]

    def __str__(self):
        return f"{self.workspace_id} {self.day} {self.source}"
