from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Workspace

ZERO = Decimal("0.00")
# The alert level until the owner picks one or a package is bought; after a purchase it is this share of its credits.
DEFAULT_LOW_BALANCE_THRESHOLD = Decimal("50.00")
AUTO_THRESHOLD_SHARE = Decimal("0.20")


class CreditAccount(models.Model):
    """A workspace's balance. It changes only together with the ledger row that explains it."""

    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="credit_account")
    balance = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    low_balance_threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=DEFAULT_LOW_BALANCE_THRESHOLD,
        help_text="The level in force: the owner's choice, else 20% of the last package bought.",
    )
    low_balance_threshold_custom = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="What the owner chose; empty follows the packages bought.",
    )
    auto_reload_enabled = models.BooleanField(default=False)
    auto_reload_package = models.ForeignKey("CreditPackage", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    auto_reload_attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last auto-reload was started: the next one waits an hour after it."
    )
    auto_reload_failure = models.CharField(
        max_length=300, blank=True, help_text="Why auto-reload was turned off by Cursive (a declined card), shown to the owners."
    )
    needs_review = models.BooleanField(default=False, help_text="Set when money moved that credits could not follow.")
    review_note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="credit_account_balance_not_negative"),
            models.CheckConstraint(
                condition=models.Q(low_balance_threshold__gte=0), name="credit_account_threshold_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(low_balance_threshold_custom__gte=0) | models.Q(low_balance_threshold_custom__isnull=True),
                name="credit_account_custom_threshold_not_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(auto_reload_enabled=True, auto_reload_package__isnull=True),
                name="credit_account_auto_reload_has_package",
            ),
        ]

    def __str__(self):
        return f"{self.workspace}: {self.balance} credits"

    @property
    def is_low(self) -> bool:
        return self.balance < self.low_balance_threshold


class CreditTransaction(models.Model):
    """One ledger row. Append-only: a database trigger refuses UPDATE and DELETE."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        SPEND = "spend", "Spend"
        REFUND = "refund", "Refund"
        EARN = "earn", "Earning"
        ADJUSTMENT = "adjustment", "Adjustment"
        REVERSAL = "reversal", "Reversal"
        PAYOUT = "payout", "Payout"
        BONUS = "bonus", "Onboarding bonus"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    reference = models.CharField(max_length=100, help_text="What caused it, as type:id (credit_purchase:12).")
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="credit_tx_amount_not_zero"),
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="credit_tx_balance_after_not_negative"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["purchase", "refund", "earn", "bonus"], amount__gt=0)
                    | models.Q(kind__in=["spend", "reversal", "payout"], amount__lt=0)
                    | models.Q(kind="adjustment")
                ),
                name="credit_tx_sign_matches_kind",
            ),
            models.CheckConstraint(condition=~models.Q(reference=""), name="credit_tx_has_reference"),
            # The onboarding bonus is granted once per workspace, whoever finishes the last step.
            models.UniqueConstraint(fields=["reference"], condition=models.Q(kind="bonus"), name="credit_tx_bonus_once"),
        ]
        indexes = [
            # The ledger page and API: newest first within one account.
            models.Index(fields=["account", "-created_at", "-id"], name="credit_tx_account_recent_idx"),
            models.Index(fields=["reference"], name="credit_tx_reference_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} ({self.reference})"


class CreditPackage(models.Model):
    label = models.CharField(max_length=60)
    credits = models.DecimalField(max_digits=14, decimal_places=2)
    price_cents = models.PositiveIntegerField()
    popular = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(credits__gt=0), name="credit_package_credits_positive"),
            models.CheckConstraint(condition=models.Q(price_cents__gt=0), name="credit_package_price_positive"),
        ]

    def __str__(self):
        return f"{self.label}: {self.credits} credits for ${self.price_cents / 100:,.2f}"

    @property
    def cents_per_credit(self) -> Decimal:
        return (Decimal(self.price_cents) / self.credits).quantize(Decimal("0.01"))


class BillingProfile(models.Model):
    """A workspace's Stripe customer and the card saved at its last credit Checkout, which auto-reload charges."""

    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="billing_profile")
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_saved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_customer_id"], condition=~models.Q(stripe_customer_id=""), name="billing_profile_customer_unique"
            ),
        ]

    def __str__(self):
        return f"{self.workspace}: {self.stripe_customer_id or 'no Stripe customer'}"

    @property
    def has_card(self) -> bool:
        return bool(self.stripe_customer_id and self.payment_method_id)


class CreditPurchase(models.Model):
    """A package bought by card: through a Stripe Checkout Session, or off-session with the saved card (auto-reload)."""

    class Origin(models.TextChoices):
        CHECKOUT = "checkout", "Checkout"
        AUTO_RELOAD = "auto_reload", "Auto-reload"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Payment failed"
        REFUNDED = "refunded", "Refunded"

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="credit_purchases")
    package = models.ForeignKey(CreditPackage, on_delete=models.PROTECT, related_name="purchases")
    credits = models.DecimalField(max_digits=14, decimal_places=2)
    price_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CHECKOUT)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    paid_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="What the completed Checkout Session says was paid."
    )
    refunded_cents = models.PositiveIntegerField(default=0)
    needs_review = models.BooleanField(default=False, help_text="Set when a payment event did not match the purchase.")
    review_note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="credit_purchase_ws_recent_idx"),
            models.Index(fields=["-created_at"], condition=models.Q(needs_review=True), name="credit_purchase_review_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_cents__lte=models.F("price_cents")), name="credit_purchase_refund_within_price"
            ),
        ]

    def __str__(self):
        return f"Credit purchase #{self.pk} ({self.status})"

    @property
    def reference(self) -> str:
        return f"credit_purchase:{self.pk}"


class StripeEvent(models.Model):
    """Every Stripe event, recorded by its id before anything acts on it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (unknown type)"
        FAILED = "failed", "Failed"
        WAITING = "waiting", "Waiting for its payment"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    waiting_for = models.CharField(
        max_length=255,
        blank=True,
        help_text="The payment intent a refund waits for: Stripe sent the refund before the payment's own event.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-received_at"], name="stripe_event_status_idx"),
            # A completing payment looks up the refunds that arrived before it.
            models.Index(fields=["waiting_for"], condition=models.Q(status="waiting"), name="stripe_event_waiting_idx"),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id} ({self.status})"


class LocalCheckoutSession(models.Model):
    """Stands in for Stripe's hosted checkout when no Stripe keys are configured (offline demo)."""

    session_id = models.CharField(max_length=64, unique=True)
    client_reference_id = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict)
    description = models.CharField(max_length=200)
    amount_total = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    success_url = models.URLField(max_length=2000)
    cancel_url = models.URLField(max_length=2000)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.session_id
