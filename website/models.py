from django.conf import settings
from django.db import models
from django.db.models import Q


class ContactRequest(models.Model):
    """A message sent from the Services page; staff answer it and mark it handled in admin."""

    class Tier(models.TextChoices):
        DIY = "diy", "DIY: the self-serve product"
        DATA = "data", "Cursive Data: leads and enrichment delivered"
        OUTBOUND = "outbound", "Outbound: done-for-you campaigns"

    class Status(models.TextChoices):
        NEW = "new", "New"
        HANDLED = "handled", "Handled"

    name = models.CharField(max_length=120)
    email = models.EmailField(max_length=254)
    company = models.CharField(max_length=160, blank=True)
    tier = models.CharField(max_length=20, choices=Tier.choices)
    message = models.TextField(max_length=5000)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="contact_by_status_newest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="new", handled_at__isnull=True) | Q(status="handled", handled_at__isnull=False),
                name="contact_handled_at_matches_status",
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}> ({self.get_tier_display()})"


class LegalPage(models.Model):
    """Terms, privacy policy and refund policy: Markdown that staff edit in admin (raw HTML is shown as text)."""

    class Slug(models.TextChoices):
        TERMS = "terms", "Terms of service"
        PRIVACY = "privacy-policy", "Privacy policy"
        REFUND = "refund-policy", "Refund policy"

    slug = models.CharField(max_length=40, choices=Slug.choices, unique=True)
    title = models.CharField(max_length=120)
    body = models.TextField(help_text="Markdown: # headings, **bold**, lists, [links](https://...). HTML is shown as text.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.title


class Experiment(models.Model):
    """An A/B test of the home page's headline. Drafted with its variants, started, then ended by picking a winner,
    which every visitor sees from then on."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        ENDED = "ended", "Ended"

    name = models.CharField(max_length=120)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="experiment_one_running"),
            models.CheckConstraint(
                condition=Q(status="ended", winner__isnull=False, ended_at__isnull=False)
                | (~Q(status="ended") & Q(winner__isnull=True, ended_at__isnull=True)),
                name="experiment_winner_iff_ended",
            ),
        ]
        indexes = [models.Index(fields=["status", "-ended_at"], name="experiment_latest_ended_idx")]

    def __str__(self):
        return f"{self.name} ({self.get_status_display()})"


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=40, help_text="A short label for staff, e.g. A or “speed”.")
    headline = models.CharField(max_length=200)
    subheadline = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["experiment", "name"], name="variant_name_unique_in_experiment")]

    def __str__(self):
        return f"{self.name}: {self.headline}"


class Assignment(models.Model):
    """One anonymous visitor of the home page and the variant they were shown, written once (the visitor keeps a
    cookie naming it); `user` is set when that visitor signs up."""

    token = models.CharField(max_length=43, unique=True)
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="assignments")
    created_at = models.DateTimeField(auto_now_add=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="headline_assignment"
    )
    signed_up_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"visitor {self.pk} saw {self.variant_id}"
