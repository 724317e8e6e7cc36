from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Workspace
from leads.models import ContactFields, Lead


class Listing(ContactFields):
    """A lead offered for sale once: by a partner (revenue share) or by the house (no partner)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        RESERVED = "reserved", "Reserved"
        SOLD = "sold", "Sold"
        WITHDRAWN = "withdrawn", "Withdrawn"

    partner = models.ForeignKey(
        Workspace,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="listings",
        help_text="Empty for leads the house sells itself.",
    )
    revenue_share_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("70.00"),
        help_text="The partner's share of each sale, fixed when the lead is listed.",
    )
    price = models.DecimalField(max_digits=10, decimal_places=2)
    quality = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    has_phone = models.BooleanField(default=False)
    has_linkedin = models.BooleanField(default=False)
    email_verified = models.BooleanField(default=False)
    dedup_hash = models.CharField(max_length=64)
    reserved_by = models.ForeignKey(
        "LeadPurchase", on_delete=models.SET_NULL, null=True, blank=True, related_name="reserved_listings"
    )
    reserved_until = models.DateTimeField(null=True, blank=True)
    buyer = models.ForeignKey(Workspace, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sold_at = models.DateTimeField(null=True, blank=True)
    listed_at = models.DateTimeField(default=timezone.now)
    search = models.GeneratedField(
        expression=SearchVector("first_name", "last_name", "company_name", "title", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="listing_price_positive"),
            models.CheckConstraint(condition=Q(quality__lte=100), name="listing_quality_0_100"),
            models.CheckConstraint(
                condition=Q(revenue_share_percent__gte=0, revenue_share_percent__lte=100), name="listing_share_0_100"
            ),
            # Sold means sold to someone at some time; reserved means held by a pending card checkout.
            models.CheckConstraint(
                condition=~Q(status="sold") | Q(buyer__isnull=False, sold_at__isnull=False), name="listing_sold_has_buyer"
            ),
            models.CheckConstraint(
                condition=~Q(status="reserved") | Q(reserved_by__isnull=False, reserved_until__isnull=False),
                name="listing_reserved_has_holder",
            ),
            # A person is on the market once: no second live listing with the same identity.
            models.UniqueConstraint(fields=["dedup_hash"], condition=~Q(status="withdrawn"), name="listing_live_dedup_unique"),
        ]
        indexes = [
            # Browse: only available listings are ever searched, so the indexes are partial on that.
            models.Index(fields=["-quality", "-id"], condition=Q(status="available"), name="listing_avail_quality_idx"),
            models.Index(fields=["price", "id"], condition=Q(status="available"), name="listing_avail_price_idx"),
            models.Index(fields=["-listed_at", "-id"], condition=Q(status="available"), name="listing_avail_recent_idx"),
            models.Index(fields=["industry", "-quality"], condition=Q(status="available"), name="listing_avail_industry_idx"),
            models.Index(fields=["state", "-quality"], condition=Q(status="available"), name="listing_avail_state_idx"),
            # Browse filtered: industry and state narrow the range (either alone through a skip scan), quality is
            # a range in it and, with one of each given, its order; the count (stopped at 10,001) reads every other
            # filter, the partner left out included, from the index itself, so it never visits the table.
            models.Index(
                fields=["industry", "state", "-quality", "-id"],
                include=["partner", "price", "has_phone", "has_linkedin", "company_size", "seniority", "listed_at"],
                condition=Q(status="available"),
                name="listing_avail_filters_idx",
            ),
            GinIndex(fields=["search"], condition=Q(status="available"), name="listing_avail_search_gin"),
            models.Index(fields=["status", "reserved_until"], condition=Q(status="reserved"), name="listing_reserved_until_idx"),
            models.Index(fields=["partner", "status"], name="listing_partner_status_idx"),
        ]

    def __str__(self):
        return f"{self.full_name or self.email} ({self.status})"

    # The lines of the browse's listing rows (marketplace/templatetags/listing_cards.py).
    @property
    def role_and_place(self) -> str:
        """'VP · Austin, TX': the seniority and wherever the lead is, each part only when known."""
        place = ", ".join(part for part in (self.city, self.state) if part)
        return " · ".join(part for part in (self.get_seniority_display(), place) if part)

    @property
    def company_line(self) -> str:
        """'SaaS · 51-200': the industry and the company size, each only when known."""
        return " · ".join(part for part in (self.industry, self.company_size) if part)

    @property
    def quality_band(self) -> str:
        """The badge a quality score wears: ok from 75, warn from 50, bad below."""
        return "ok" if self.quality >= 75 else "warn" if self.quality >= 50 else "bad"


class LeadPurchase(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"

    class Payment(models.TextChoices):
        CREDITS = "credits", "Credits"
        CARD = "card", "Card"

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="lead_purchases")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payment = models.CharField(max_length=16, choices=Payment.choices)
    total_credits = models.DecimalField(max_digits=14, decimal_places=2)
    total_cents = models.PositiveIntegerField(default=0, help_text="What the card was charged (card payments).")
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="Stripe's payment of a card purchase; refunds arrive by it."
    )
    paid_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="What the completed Checkout Session says was paid (card)."
    )
    refunded_cents = models.PositiveIntegerField(default=0, help_text="How much of the card payment went back.")
    reserved_until = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    needs_review = models.BooleanField(
        default=False,
        help_text="Set when a card payment needs staff: it did not match, or paid for leads that could not be delivered.",
    )
    review_note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(total_credits__gt=0), name="lead_purchase_total_positive"),
            models.CheckConstraint(condition=Q(refunded_cents__lte=F("total_cents")), name="lead_purchase_refund_within_payment"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="lead_purchase_ws_recent_idx"),
            models.Index(fields=["reserved_until"], condition=Q(status="pending"), name="lead_purchase_pending_idx"),
            models.Index(fields=["-created_at"], condition=Q(needs_review=True), name="lead_purchase_review_idx"),
        ]

    def __str__(self):
        return f"Purchase #{self.pk} ({self.status})"

    @property
    def reference(self) -> str:
        return f"purchase:{self.pk}"


class LeadPurchaseItem(models.Model):
    purchase = models.ForeignKey(LeadPurchase, on_delete=models.CASCADE, related_name="items")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="purchase_items")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    partner = models.ForeignKey(Workspace, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    partner_earning = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    lead = models.ForeignKey(
        Lead,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The buyer's copy, once the purchase completes.",
    )
    is_sale = models.BooleanField(default=False, help_text="True while this item is the listing's completed sale.")
    bounce_refunded_credits = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Credits given back for this lead alone because its email hard-bounced.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purchase", "listing"], name="lead_purchase_item_unique"),
            # The heart of it: a listing is in at most one completed (unrefunded) sale.
            models.UniqueConstraint(fields=["listing"], condition=Q(is_sale=True), name="listing_sold_once"),
            models.CheckConstraint(condition=Q(partner_earning__gte=0), name="item_earning_not_negative"),
        ]

    def __str__(self):
        return f"{self.listing_id} in purchase {self.purchase_id}"
