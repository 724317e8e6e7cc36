"""Every write to credit balances, the ledger, packages and credit purchases.

The one rule: a balance changes only in the transaction that writes the ledger
row explaining it, with the account row locked (`SELECT ... FOR UPDATE`), so
the balance always equals the sum of its ledger and never goes below zero.

The ledger functions join their caller's transaction when there is one, and
open their own otherwise: a purchase that spends and pays partners is all or
nothing anyway, and a savepoint per movement cost two round trips each.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import wraps

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import OnboardingStep, User, Workspace
from accounts.selectors import onboarding_complete
from accounts.services import onboarding_step_complete
from cursive.audit import audit_record, reviewed_flags_clear
from cursive.errors import PermissionDenied, ValidationFailed
from cursive.events import emit
from cursive.jobs import job_enqueue

from . import stripe_gateway
from .errors import InsufficientCredits, PaymentProviderUnavailable
from .models import (
    AUTO_THRESHOLD_SHARE,
    DEFAULT_LOW_BALANCE_THRESHOLD,
    ZERO,
    BillingProfile,
    CreditAccount,
    CreditPackage,
    CreditPurchase,
    CreditTransaction,
)

CENT = Decimal("0.01")
logger = logging.getLogger("cursive.stripe")
# The largest amount a credit column (numeric(14, 2)) holds.
MAX_CREDITS = Decimal("999999999999.99")
# Auto-reload buys at most once in this long per workspace, however fast the balance drains.
AUTO_RELOAD_INTERVAL = timedelta(hours=1)


def _joins_transaction(func):
    """Run inside the caller's transaction, or in a new one. Unlike a nested atomic() this adds no savepoint,
    and unlike atomic(savepoint=False) a refusal raised before any write (InsufficientCredits) does not doom
    the caller's transaction: nothing was written, so the caller may catch it and carry on."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        with transaction.atomic():
            return func(*args, **kwargs)

    return wrapper


Kind = CreditTransaction.Kind


def to_credits(value) -> Decimal:
    """A credit amount as a 2-place Decimal; refuses floats' imprecision and garbage."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationFailed(f"'{value}' is not a credit amount.", fields={"amount": ["Not a number."]}) from exc
    if not amount.is_finite():
        raise ValidationFailed("Credit amounts must be finite.", fields={"amount": ["Not a number."]})
    # Compared before rounding too: quantize() itself fails on numbers past 28 digits.
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP) if abs(amount) <= MAX_CREDITS else None
    if rounded is None or abs(rounded) > MAX_CREDITS:
        raise ValidationFailed(f"Credit amounts are at most {MAX_CREDITS:,}.", fields={"amount": ["Too large."]})
    return rounded


def _account_for_update(workspace: Workspace) -> CreditAccount:
    account = CreditAccount.objects.select_for_update(no_key=True).filter(workspace=workspace).first()
    if account is None:
        # First movement: create the account without racing another first use, then lock it.
        CreditAccount.objects.bulk_create([CreditAccount(workspace=workspace)], ignore_conflicts=True)
        account = CreditAccount.objects.select_for_update(no_key=True).get(workspace=workspace)
    return account


def credit_accounts_lock(*, workspaces) -> None:
    """Lock several accounts at once, in workspace id order: every multi-account operation (a purchase
    that pays partners) takes its locks in this one order, so two of them can never deadlock."""
    ids = sorted({workspace.pk for workspace in workspaces})
    locked = set(
        CreditAccount.objects.filter(workspace_id__in=ids)
        .order_by("workspace_id")
        .select_for_update(no_key=True)
        .values_list("workspace_id", flat=True)
    )
    if missing := [pk for pk in ids if pk not in locked]:
        CreditAccount.objects.bulk_create([CreditAccount(workspace_id=pk) for pk in missing], ignore_conflicts=True)
        list(CreditAccount.objects.filter(workspace_id__in=missing).order_by("workspace_id").select_for_update(no_key=True))


# One call moves the balance and writes its ledger row (the SQL function `credits_post`, credits' migration 0008,
# which the marketplace purchase function calls too): it takes the row lock and enforces balance >= 0 (and <= what
# the column holds) against the latest committed value (PostgreSQL re-checks the WHERE after waiting for a
# concurrent writer).
_POST = "SELECT * FROM credits_post(%s, %s, %s, %s, %s, %s, %s)"
_ENTRY_FIELDS = ["id", "account_id", "kind", "amount", "balance_after", "reference", "reason", "actor_id", "created_at"]


def _post(
    *, workspace: Workspace, kind: str, amount: Decimal, reference: str, actor: User | None, reason: str = ""
) -> CreditTransaction:
    """Move `amount` (signed) and write its ledger row; the caller holds the transaction."""
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(_POST, [workspace.pk, kind, amount, reference, actor.pk if actor else None, reason, MAX_CREDITS])
            row = cursor.fetchone()
        if row is not None:
            account_id, new_balance, threshold, auto_reload, entry_id, created_at = row
            entry = CreditTransaction.from_db(
                connection.alias,
                _ENTRY_FIELDS,
                [entry_id, account_id, kind, amount, new_balance, reference, reason, actor.pk if actor else None, created_at],
            )
            if actor is not None:
                entry.actor = actor
            credits_posted(
                workspace=workspace,
                kind=kind,
                amount=amount,
                account_id=account_id,
                balance=new_balance,
                threshold=threshold,
                auto_reload=auto_reload,
            )
            return entry
        account = CreditAccount.objects.filter(workspace=workspace).first()
        if account is not None and account.balance + amount > MAX_CREDITS:
            raise ValidationFailed(
                f"That would take the balance past {MAX_CREDITS:,} credits, the most a balance can hold.",
                fields={"amount": ["Too large for this balance."]},
            )
        if account is not None:
            raise InsufficientCredits(needed=-amount, balance=account.balance)
        if amount < ZERO:
            raise InsufficientCredits(needed=-amount, balance=ZERO)
        CreditAccount.objects.bulk_create([CreditAccount(workspace=workspace)], ignore_conflicts=True)
    raise RuntimeError(f"credit account of workspace {workspace.pk} vanished while posting")


def credits_posted(
    *, workspace: Workspace, kind: str, amount: Decimal, account_id: int, balance: Decimal, threshold: Decimal, auto_reload: bool
) -> None:
    """What a posting sets off, in its transaction: a debit leaving the balance below the threshold alerts and may
    auto-reload. Every `credits_post` caller runs it with what the function returned (`_post`, the purchase)."""
    # A partner cashing out earnings on purpose is not running low on credits to spend.
    if amount < ZERO and kind != Kind.PAYOUT and balance < threshold:
        _balance_low(
            workspace=workspace,
            account_id=account_id,
            crossed=balance - amount >= threshold,
            balance=balance,
            threshold=threshold,
            auto_reload=auto_reload,
        )


# The account row is already locked by the debit: the hour between two auto-reloads is enforced here, in the
# database, by whichever debit of any process finds it elapsed first.
_AUTO_RELOAD_CLAIM = """
UPDATE credits_creditaccount AS account SET auto_reload_attempted_at = now()
WHERE account.id = %s AND account.auto_reload_enabled
  AND (account.auto_reload_attempted_at IS NULL OR account.auto_reload_attempted_at <= now() - %s)
  AND EXISTS (
    SELECT 1 FROM credits_billingprofile AS billing
    WHERE billing.workspace_id = account.workspace_id AND billing.stripe_customer_id <> '' AND billing.payment_method_id <> ''
  )
RETURNING account.auto_reload_package_id
"""


def _balance_low(
    *, workspace: Workspace, account_id: int, crossed: bool, balance: Decimal, threshold: Decimal, auto_reload: bool
) -> None:
    """A debit left the balance below the threshold. Only the debit that crossed it alerts (once per crossing:
    a top-up above the threshold re-arms it); auto-reload is tried after each such debit, at most hourly, so a
    workspace still below an hour after a reload (or a failed attempt) buys again."""
    if crossed:
        emit(workspace=workspace, type="credits.low", data={"balance": f"{balance:.2f}", "threshold": f"{threshold:.2f}"})
        job_enqueue(
            "credits.tasks.send_low_balance_alert",
            workspace_id=workspace.pk,
            balance=f"{balance:.2f}",
            threshold=f"{threshold:.2f}",
        )
    if not auto_reload:
        return
    # One reload at a time: while an earlier one's charge is unresolved (its job still retrying, or failed for
    # staff), a new purchase could end with the card charged twice. The account row is locked, so this holds.
    if CreditPurchase.objects.filter(
        workspace=workspace, origin=CreditPurchase.Origin.AUTO_RELOAD, status=CreditPurchase.Status.PENDING
    ).exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(_AUTO_RELOAD_CLAIM, [account_id, AUTO_RELOAD_INTERVAL])
        row = cursor.fetchone()
    if row is None:
        return
    package = CreditPackage.objects.get(pk=row[0])
    purchase = CreditPurchase.objects.create(
        workspace=workspace,
        package=package,
        credits=package.credits,
        price_cents=package.price_cents,
        origin=CreditPurchase.Origin.AUTO_RELOAD,
    )
    job_enqueue("credits.tasks.auto_reload_charge", purchase_id=purchase.pk)


def _positive(amount) -> Decimal:
    amount = to_credits(amount)
    if amount <= ZERO:
        raise ValidationFailed("The amount must be more than zero.", fields={"amount": ["Must be positive."]})
    return amount


@_joins_transaction
def credits_grant(
    *, workspace: Workspace, amount, reference: str, kind: str = Kind.PURCHASE, actor: User | None = None, reason: str = ""
) -> CreditTransaction:
    if kind not in (Kind.PURCHASE, Kind.EARN, Kind.REFUND, Kind.ADJUSTMENT):
        raise ValueError(f"credits_grant cannot write a '{kind}' row")
    return _post(workspace=workspace, kind=kind, amount=_positive(amount), reference=reference, actor=actor, reason=reason)


@_joins_transaction
def credits_spend(
    *, workspace: Workspace, amount, reference: str, actor: User | None = None, reason: str = ""
) -> CreditTransaction:
    """Take credits; raises InsufficientCredits (carrying how many are missing) and changes nothing then."""
    return _post(workspace=workspace, kind=Kind.SPEND, amount=-_positive(amount), reference=reference, actor=actor, reason=reason)


@_joins_transaction
def credits_refund(
    *, workspace: Workspace, amount, reference: str, actor: User | None = None, reason: str = ""
) -> CreditTransaction:
    return _post(workspace=workspace, kind=Kind.REFUND, amount=_positive(amount), reference=reference, actor=actor, reason=reason)


@_joins_transaction
def credits_reverse(
    *, workspace: Workspace, amount, reference: str, actor: User | None = None, reason: str = ""
) -> CreditTransaction:
    """Take back credits that were granted for money that went back (a card refund, a refunded sale)."""
    return _post(
        workspace=workspace, kind=Kind.REVERSAL, amount=-_positive(amount), reference=reference, actor=actor, reason=reason
    )


@transaction.atomic
def credits_reverse_or_flag(*, workspace: Workspace, amount, reference: str, reason: str) -> None:
    """Take back credits for money that already went back, or, when they are spent, flag the account for
    staff with a note saying what is owed. Webhooks use it: refusing would only make Stripe retry forever."""
    account = _account_for_update(workspace)
    if account.balance >= to_credits(amount):
        credits_reverse(workspace=workspace, amount=amount, reference=reference, reason=reason)
        return
    account.needs_review = True
    account.review_note = (f"{account.review_note}\n" if account.review_note else "") + (
        f"{timezone.now():%Y-%m-%d %H:%M} UTC: {reason} on {reference} should take back {to_credits(amount)} "
        f"credits but the balance is {account.balance}."
    )
    account.save(update_fields=["needs_review", "review_note", "updated_at"])


@_joins_transaction
def credits_pay_out(
    *, workspace: Workspace, amount, reference: str, actor: User | None = None, reason: str = ""
) -> CreditTransaction:
    """Take earned credits off a partner's balance because they were paid out in money."""
    return _post(
        workspace=workspace, kind=Kind.PAYOUT, amount=-_positive(amount), reference=reference, actor=actor, reason=reason
    )


@transaction.atomic
def credits_adjust(*, workspace: Workspace, amount, actor: User | None, reason: str) -> CreditTransaction:
    """A correction in either direction by staff (or, with no actor, the set-up CLI): needs a reason and
    writes the audit row that the ledger entry points at."""
    if actor is not None and not actor.is_staff:
        raise PermissionDenied("Only staff can adjust credit balances.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why you are adjusting the balance.", fields={"reason": ["A reason is required."]})
    amount = to_credits(amount)
    if amount == ZERO:
        raise ValidationFailed("An adjustment of zero changes nothing.", fields={"amount": ["Must not be zero."]})
    audit = audit_record(
        actor=actor,
        action="credits.adjust",
        target=f"workspace:{workspace.pk}",
        workspace=workspace,
        reason=reason,
        amount=str(amount),
    )
    return _post(
        workspace=workspace, kind=Kind.ADJUSTMENT, amount=amount, reference=f"audit:{audit.pk}", actor=actor, reason=reason
    )


def onboarding_bonus_reference(workspace_id: int) -> str:
    return f"onboarding-bonus:{workspace_id}"


@transaction.atomic
def onboarding_bonus_grant(*, workspace: Workspace) -> CreditTransaction | None:
    """Grant ONBOARDING_BONUS_CREDITS once the workspace has done every onboarding step; None when it has not
    yet, or already got it. Runs in its own transaction after each step's commit (a job): the account lock
    serialises two steps finished at once, and the steps are counted after it is taken, so the second grant
    sees the first one's commit; the last step to commit always finds all five."""
    amount = to_credits(settings.ONBOARDING_BONUS_CREDITS)
    if amount <= ZERO:
        return None
    _account_for_update(workspace)
    reference = onboarding_bonus_reference(workspace.pk)
    if CreditTransaction.objects.filter(kind=Kind.BONUS, reference=reference).exists():
        return None
    if not onboarding_complete(workspace=workspace):
        return None
    return _post(
        workspace=workspace,
        kind=Kind.BONUS,
        amount=amount,
        reference=reference,
        actor=None,
        reason="Every getting-started step done",
    )


def _threshold_for_package(credits: Decimal) -> Decimal:
    return (credits * AUTO_THRESHOLD_SHARE).quantize(CENT, rounding=ROUND_HALF_UP)


def _last_package_threshold(workspace: Workspace) -> Decimal:
    last = (
        CreditPurchase.objects.filter(workspace=workspace, completed_at__isnull=False)
        .order_by("-completed_at", "-id")
        .values_list("credits", flat=True)
        .first()
    )
    return DEFAULT_LOW_BALANCE_THRESHOLD if last is None else _threshold_for_package(last)


@transaction.atomic
def credit_account_settings_update(*, workspace: Workspace, low_balance_threshold) -> CreditAccount:
    """The owner's low-balance threshold; None (an empty field) goes back to 20% of the last package bought."""
    account = _account_for_update(workspace)
    if low_balance_threshold is None:
        account.low_balance_threshold_custom = None
        account.low_balance_threshold = _last_package_threshold(workspace)
    else:
        threshold = to_credits(low_balance_threshold)
        if threshold < ZERO:
            raise ValidationFailed(
                "The threshold cannot be negative.", fields={"low_balance_threshold": ["Must be zero or more."]}
            )
        account.low_balance_threshold = account.low_balance_threshold_custom = threshold
    account.save(update_fields=["low_balance_threshold", "low_balance_threshold_custom", "updated_at"])
    return account


@transaction.atomic
def credit_auto_reload_update(*, workspace: Workspace, enabled: bool, package_id, actor: User | None) -> CreditAccount:
    """Turn auto-reload on (with the package it buys) or off. It needs the card saved at a credit Checkout."""
    package = None
    if package_id not in (None, ""):
        package = CreditPackage.objects.filter(pk=package_id, active=True).first() if str(package_id).isdigit() else None
        if package is None:
            raise ValidationFailed("That credit package does not exist.", fields={"package": ["Unknown package."]})
    if enabled and package is None:
        raise ValidationFailed("Choose the package auto-reload buys.", fields={"package": ["Required to turn auto-reload on."]})
    if enabled and not BillingProfile.objects.filter(workspace=workspace).exclude(payment_method_id="").exists():
        raise ValidationFailed(
            "Buy a package by card first: auto-reload charges the card saved at your last purchase.",
            fields={"enabled": ["No card saved yet."]},
        )
    account = _account_for_update(workspace)
    account.auto_reload_enabled = enabled
    account.auto_reload_package = package or account.auto_reload_package
    if enabled:
        account.auto_reload_failure = ""
    account.save(update_fields=["auto_reload_enabled", "auto_reload_package", "auto_reload_failure", "updated_at"])
    audit_record(
        actor=actor,
        action="credits.auto_reload_update",
        target=f"workspace:{workspace.pk}",
        workspace=workspace,
        enabled=enabled,
        package=package.pk if package else None,
    )
    return account


# --- Buying credits -----------------------------------------------------------------


def credit_checkout_create(
    *, workspace: Workspace, package_id, created_by: User | None, base_url: str | None = None
) -> CreditPurchase:
    """Record a pending purchase, then open its Checkout Session (never while holding a lock)."""
    package = CreditPackage.objects.filter(pk=package_id, active=True).first() if str(package_id).isdigit() else None
    if package is None:
        raise ValidationFailed(
            "That credit package does not exist; pick one from /api/v1/credits/packages.",
            fields={"package": ["Unknown package."]},
        )
    with transaction.atomic():
        purchase = CreditPurchase.objects.create(
            workspace=workspace, package=package, credits=package.credits, price_cents=package.price_cents, created_by=created_by
        )
    try:
        customer_id = None if stripe_gateway.uses_local_checkout() else _stripe_customer(workspace, created_by)
        session = _credit_checkout_session(purchase=purchase, base_url=base_url, customer_id=customer_id)
    except Exception as exc:  # Stripe down or refusing: close the purchase now rather than leave it pending forever
        logger.warning("credit checkout could not be created", exc_info=True, extra={"purchase": purchase.pk})
        CreditPurchase.objects.filter(pk=purchase.pk, status=CreditPurchase.Status.PENDING).update(
            status=CreditPurchase.Status.FAILED, closed_at=timezone.now()
        )
        raise PaymentProviderUnavailable() from exc
    return stripe_gateway.session_record(CreditPurchase.objects.all(), pk=purchase.pk, session=session)


def _stripe_customer(workspace: Workspace, created_by: User | None) -> str:
    """The workspace's Stripe customer, created at its first card purchase. Concurrent first checkouts share one:
    the idempotency key makes Stripe answer both with the same customer."""
    profile = BillingProfile.objects.filter(workspace=workspace).first()
    if profile is not None and profile.stripe_customer_id:
        return profile.stripe_customer_id
    customer_id = stripe_gateway.customer_create(
        workspace_id=workspace.pk,
        email=created_by.email if created_by else None,
        idempotency_key=f"workspace-customer-{workspace.pk}",
    )
    with transaction.atomic():
        BillingProfile.objects.bulk_create([BillingProfile(workspace=workspace)], ignore_conflicts=True)
        BillingProfile.objects.filter(workspace=workspace, stripe_customer_id="").update(
            stripe_customer_id=customer_id, updated_at=timezone.now()
        )
    return BillingProfile.objects.get(workspace=workspace).stripe_customer_id


def _credit_checkout_session(
    *, purchase: CreditPurchase, base_url: str | None, customer_id: str | None
) -> stripe_gateway.CheckoutSession:
    package, created_by = purchase.package, purchase.created_by
    return stripe_gateway.checkout_session_create(
        kind=stripe_gateway.CheckoutKind.CREDITS,
        object_id=purchase.pk,
        workspace_id=purchase.workspace_id,
        description=f"{package.label}: {package.credits:,.0f} Cursive credits",
        amount_cents=package.price_cents,
        success_path=reverse("credits:checkout_return", args=[purchase.pk]) + "?result=success",
        cancel_path=reverse("credits:checkout_return", args=[purchase.pk]) + "?result=cancel",
        customer_email=created_by.email if created_by else None,
        idempotency_key=f"credit-purchase-{purchase.pk}",
        base_url=base_url,
        customer_id=customer_id,
    )


def _purchase_for_session(session: dict) -> CreditPurchase | None:
    return stripe_gateway.session_object_for_update(session, CreditPurchase.objects.all())


def _flag_mismatch(purchase: CreditPurchase, *, source: str, payment: str, mismatch: str) -> CreditPurchase:
    note = (
        f"{timezone.now():%Y-%m-%d %H:%M} UTC: {source} was not credited: "
        f"{mismatch}. If payment {payment} was charged, refund it in Stripe."
    )
    logger.warning(
        "payment does not match its credit purchase", extra={"purchase": purchase.pk, "source": source, "mismatch": mismatch}
    )
    purchase.needs_review = True
    purchase.review_note = (f"{purchase.review_note}\n" if purchase.review_note else "") + note
    purchase.save(update_fields=["needs_review", "review_note"])
    audit_record(
        actor=None, action="credits.payment_mismatch", target=purchase.reference, workspace=purchase.workspace, reason=note
    )
    return purchase


@transaction.atomic
def credit_purchase_complete(*, session: dict, refunded_cents: int = 0) -> CreditPurchase | None:
    """Grant a paid purchase's credits exactly once, whichever event says so and however often. A session
    that is not this purchase's payment (another session, amount, currency or workspace) grants nothing: it
    is recorded on the purchase for staff, and the purchase's own session can still pay it.

    `refunded_cents` is what Stripe already refunded of this payment (its refund arrived first): a full
    refund grants nothing and closes the purchase refunded; a partial one grants, then takes its share back."""
    purchase = _purchase_for_session(session)
    if purchase is None:
        return None
    if mismatch := stripe_gateway.session_mismatch(
        session, session_id=purchase.checkout_session_id, amount_cents=purchase.price_cents, workspace_id=purchase.workspace_id
    ):
        return _flag_mismatch(
            purchase,
            source=f"Checkout Session {session.get('id')!r}",
            payment=session.get("payment_intent") or "of that session",
            mismatch=mismatch,
        )
    if purchase.status in (CreditPurchase.Status.COMPLETE, CreditPurchase.Status.REFUNDED) or purchase.completed_at is not None:
        return purchase
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return purchase  # completed with a delayed method: async_payment_succeeded will follow
    purchase = _purchase_pay(
        purchase,
        payment_intent_id=session.get("payment_intent") or purchase.payment_intent_id,
        paid_cents=session["amount_total"],
        refunded_cents=refunded_cents,
    )
    if session.get("customer") and purchase.status == CreditPurchase.Status.COMPLETE:
        job_enqueue("credits.tasks.billing_card_save", purchase_id=purchase.pk)
    return purchase


def _purchase_pay(purchase: CreditPurchase, *, payment_intent_id: str, paid_cents: int, refunded_cents: int) -> CreditPurchase:
    """The one path that turns a paid purchase into credits, whichever way it was paid (Checkout, or the saved
    card by auto-reload). The caller holds the purchase's row lock and has checked it is not paid yet."""
    purchase.payment_intent_id = payment_intent_id
    purchase.paid_cents = paid_cents
    if 0 < purchase.price_cents <= refunded_cents:
        return _refunded_before_payment(purchase)
    credits_grant(
        workspace=purchase.workspace,
        amount=purchase.credits,
        reference=purchase.reference,
        kind=Kind.PURCHASE,
        actor=purchase.created_by,
        reason=f"{purchase.package.label} package"
        + (" (auto-reload)" if purchase.origin == CreditPurchase.Origin.AUTO_RELOAD else ""),
    )
    # The low-balance alert follows the packages bought unless the owner chose a level.
    CreditAccount.objects.filter(workspace=purchase.workspace, low_balance_threshold_custom__isnull=True).update(
        low_balance_threshold=_threshold_for_package(purchase.credits)
    )
    purchase.status = CreditPurchase.Status.COMPLETE
    purchase.completed_at = timezone.now()
    purchase.closed_at = None
    purchase.save(update_fields=["status", "completed_at", "closed_at", "payment_intent_id", "paid_cents"])
    job_enqueue("credits.tasks.send_credit_receipt", purchase_id=purchase.pk)
    onboarding_step_complete(workspace=purchase.workspace, step=OnboardingStep.Key.BUY_CREDITS)
    emit(
        workspace=purchase.workspace,
        type="purchase.completed",
        data={
            "purchase_id": purchase.reference,
            "kind": "credits",
            "auto_reload": purchase.origin == CreditPurchase.Origin.AUTO_RELOAD,
            "credits": purchase.credits,
            "amount_cents": purchase.paid_cents,
            "currency": "usd",
            "description": f"{purchase.package.label} package ({purchase.credits:,.0f} credits)",
        },
    )
    if refunded_cents > 0 and purchase.payment_intent_id:
        return credit_purchase_refund(payment_intent_id=purchase.payment_intent_id, amount_refunded_cents=refunded_cents)
    return purchase


def _refunded_before_payment(purchase: CreditPurchase) -> CreditPurchase:
    """The payment went back before Cursive saw it: nothing is granted, so there is nothing to take back."""
    purchase.status = CreditPurchase.Status.REFUNDED
    purchase.refunded_cents = purchase.price_cents
    purchase.closed_at = timezone.now()
    purchase.save(update_fields=["status", "refunded_cents", "closed_at", "payment_intent_id", "paid_cents"])
    audit_record(
        actor=None,
        action="credits.refunded_before_payment",
        target=purchase.reference,
        workspace=purchase.workspace,
        reason=f"Payment {purchase.payment_intent_id} was refunded before its completion arrived: no credits granted.",
    )
    return purchase


def credit_purchases_mark_reviewed(*, purchase_ids, actor: User) -> int:
    return reviewed_flags_clear(
        queryset=CreditPurchase.objects.filter(pk__in=purchase_ids), actor=actor, action="credits.purchase_reviewed"
    )


@transaction.atomic
def credit_purchase_close(*, session: dict, status: str) -> CreditPurchase | None:
    """Expired or failed: a pending purchase is closed; a completed one is never touched, nor one whose own
    session is not the one that ended."""
    purchase = _purchase_for_session(session)
    if purchase is None or purchase.status != CreditPurchase.Status.PENDING or session.get("id") != purchase.checkout_session_id:
        return purchase
    purchase.status = status
    purchase.closed_at = timezone.now()
    purchase.save(update_fields=["status", "closed_at"])
    return purchase


@transaction.atomic
def credit_purchase_refund(*, payment_intent_id: str, amount_refunded_cents: int) -> CreditPurchase | None:
    """A card refund takes back the matching share of credits, or flags the account when they are spent."""
    purchase = (
        CreditPurchase.objects.select_for_update(no_key=True)
        .filter(payment_intent_id=payment_intent_id)
        .exclude(payment_intent_id="")
        .first()
    )
    if purchase is None or purchase.completed_at is None:
        return purchase
    newly_refunded = min(amount_refunded_cents, purchase.price_cents) - purchase.refunded_cents
    if newly_refunded <= 0:
        return purchase  # this refund was already handled
    credits_back = (purchase.credits * newly_refunded / purchase.price_cents).quantize(CENT, rounding=ROUND_HALF_UP)
    credits_reverse_or_flag(
        workspace=purchase.workspace,
        amount=credits_back,
        reference=purchase.reference,
        reason=f"Card refund of ${newly_refunded / 100:,.2f}",
    )
    purchase.refunded_cents += newly_refunded
    if purchase.refunded_cents >= purchase.price_cents:
        purchase.status = CreditPurchase.Status.REFUNDED
    purchase.save(update_fields=["refunded_cents", "status"])
    return purchase


# --- The saved card and auto-reload ---------------------------------------------------


def billing_card_save(*, purchase_id: int) -> BillingProfile | None:
    """Remember the card a completed Checkout paid with (Stripe saved it on the workspace's customer), for
    auto-reload. Asks Stripe outside any lock; the newest purchase's card wins whatever order jobs run in."""
    purchase = CreditPurchase.objects.select_related("workspace").get(pk=purchase_id)
    profile = BillingProfile.objects.filter(workspace=purchase.workspace).first()
    if not purchase.payment_intent_id or purchase.completed_at is None or profile is None or not profile.stripe_customer_id:
        return profile
    intent = stripe_gateway.payment_intent_retrieve(purchase.payment_intent_id)
    payment_method_id = intent.get("payment_method")
    if isinstance(payment_method_id, dict):
        payment_method_id = payment_method_id.get("id")
    if intent.get("customer") != profile.stripe_customer_id or not payment_method_id:
        logger.warning("checkout payment saved no card on the workspace's customer", extra={"purchase": purchase.pk})
        return profile
    card = stripe_gateway.payment_method_retrieve(payment_method_id).get("card") or {}
    return billing_card_record(
        workspace=purchase.workspace,
        payment_method_id=payment_method_id,
        brand=str(card.get("brand") or ""),
        last4=str(card.get("last4") or ""),
        saved_at=purchase.completed_at,
    )


@transaction.atomic
def billing_card_record(*, workspace: Workspace, payment_method_id: str, brand: str, last4: str, saved_at) -> BillingProfile:
    """Keep a card saved on the workspace's Stripe customer as the one auto-reload charges, unless a card saved
    later is already kept."""
    profile = BillingProfile.objects.select_for_update().get(workspace=workspace)
    if profile.card_saved_at is not None and profile.card_saved_at > saved_at:
        return profile
    profile.payment_method_id = payment_method_id
    profile.card_brand = brand[:30]
    profile.card_last4 = last4[:4]
    profile.card_saved_at = saved_at
    profile.save(update_fields=["payment_method_id", "card_brand", "card_last4", "card_saved_at", "updated_at"])
    return profile


def credit_auto_reload_charge(*, purchase_id: int) -> CreditPurchase:
    """Pay an auto-reload purchase with the saved card, off-session. Safe to run again: the PaymentIntent's
    idempotency key is the purchase, so a retry gets Stripe's first answer instead of a second charge."""
    purchase = CreditPurchase.objects.select_related("workspace").get(pk=purchase_id, origin=CreditPurchase.Origin.AUTO_RELOAD)
    if purchase.status != CreditPurchase.Status.PENDING:
        return purchase
    profile = BillingProfile.objects.filter(workspace=purchase.workspace).first()
    if profile is None or not profile.has_card:
        return credit_auto_reload_decline(purchase_id=purchase.pk, code="no_card", message="No card is saved.")
    try:
        intent = stripe_gateway.payment_intent_charge_saved_card(
            amount_cents=purchase.price_cents,
            customer_id=profile.stripe_customer_id,
            payment_method_id=profile.payment_method_id,
            metadata={
                "kind": stripe_gateway.AUTO_RELOAD_KIND,
                "workspace_id": str(purchase.workspace_id),
                "credit_purchase_id": str(purchase.pk),
            },
            idempotency_key=f"credit-purchase-{purchase.pk}",
        )
    except stripe_gateway.CardDeclined as exc:
        return credit_auto_reload_decline(purchase_id=purchase.pk, code=exc.code, message=exc.message)
    # Whether it succeeded now or is still processing, payment_intent.succeeded may also arrive: both go through
    # the same locked, exactly-once completion.
    return credit_purchase_complete_intent(intent=intent)


def _intent_purchase_for_update(intent: dict) -> CreditPurchase | None:
    metadata = intent.get("metadata") or {}
    if metadata.get("kind") != stripe_gateway.AUTO_RELOAD_KIND:
        return None
    reference = str(metadata.get("credit_purchase_id") or "")
    if not reference.isdigit():
        return None
    return (
        CreditPurchase.objects.select_for_update(of=("self",), no_key=True)
        .select_related("workspace", "package")
        .filter(pk=int(reference), origin=CreditPurchase.Origin.AUTO_RELOAD)
        .first()
    )


def _intent_mismatch(intent: dict, purchase: CreditPurchase) -> str:
    problems = []
    if purchase.payment_intent_id and intent.get("id") != purchase.payment_intent_id:
        problems.append(f"payment {intent.get('id')!r} is not the one made for it ({purchase.payment_intent_id!r})")
    if type(intent.get("amount")) is not int or intent["amount"] != purchase.price_cents:
        problems.append(f"amount {intent.get('amount')!r} instead of {purchase.price_cents}")
    if intent.get("currency") != stripe_gateway.CURRENCY:
        problems.append(f"currency {intent.get('currency')!r} instead of {stripe_gateway.CURRENCY!r}")
    named = (intent.get("metadata") or {}).get("workspace_id")
    if named != str(purchase.workspace_id):
        problems.append(f"metadata names workspace {named!r} instead of {str(purchase.workspace_id)!r}")
    return "; ".join(problems)


@transaction.atomic
def credit_purchase_complete_intent(*, intent: dict, refunded_cents: int = 0) -> CreditPurchase | None:
    """Grant an auto-reload's credits exactly once, whether its success comes in the API's answer, in
    `payment_intent.succeeded`, in both or several times. Records the payment on the purchase meanwhile."""
    purchase = _intent_purchase_for_update(intent)
    if purchase is None:
        return None
    if mismatch := _intent_mismatch(intent, purchase):
        return _flag_mismatch(
            purchase, source=f"PaymentIntent {intent.get('id')!r}", payment=str(intent.get("id")), mismatch=mismatch
        )
    if purchase.status != CreditPurchase.Status.PENDING or purchase.completed_at is not None:
        return purchase
    if intent.get("status") != "succeeded":
        if not purchase.payment_intent_id:
            purchase.payment_intent_id = intent["id"]
            purchase.save(update_fields=["payment_intent_id"])
        return purchase
    received = intent.get("amount_received")
    return _purchase_pay(
        purchase,
        payment_intent_id=intent["id"],
        paid_cents=received if type(received) is int and received > 0 else intent["amount"],
        refunded_cents=refunded_cents,
    )


@transaction.atomic
def credit_auto_reload_decline(*, purchase_id: int, code: str, message: str) -> CreditPurchase:
    """The saved card was refused: the purchase fails, auto-reload turns off (it would be refused again every
    hour) and the owners are told, once however often the refusal is reported."""
    purchase = (
        CreditPurchase.objects.select_for_update(of=("self",), no_key=True)
        .select_related("workspace")
        .get(pk=purchase_id, origin=CreditPurchase.Origin.AUTO_RELOAD)
    )
    if purchase.status != CreditPurchase.Status.PENDING:
        return purchase
    purchase.status = CreditPurchase.Status.FAILED
    purchase.closed_at = timezone.now()
    purchase.save(update_fields=["status", "closed_at"])
    reason = {
        "authentication_required": "Your bank asked to confirm the payment.",
        "no_card": "No card is saved.",
        "card_missing": "The saved card is no longer on file with Stripe.",
    }.get(code, "Your card was declined.")
    account = _account_for_update(purchase.workspace)
    account.auto_reload_enabled = False
    account.auto_reload_failure = f"{timezone.now():%Y-%m-%d %H:%M} UTC: {reason}"
    account.save(update_fields=["auto_reload_enabled", "auto_reload_failure", "updated_at"])
    audit_record(
        actor=None,
        action="credits.auto_reload_declined",
        target=purchase.reference,
        workspace=purchase.workspace,
        reason=f"{code}: {message}",
    )
    job_enqueue("credits.tasks.send_auto_reload_failed", purchase_id=purchase.pk, reason=reason)
    return purchase


def credit_auto_reload_intent_failed(*, intent: dict) -> CreditPurchase | None:
    """`payment_intent.payment_failed` of an auto-reload: the same refusal its API answer reports."""
    metadata = intent.get("metadata") or {}
    reference = str(metadata.get("credit_purchase_id") or "")
    workspace_id = str(metadata.get("workspace_id") or "")
    if metadata.get("kind") != stripe_gateway.AUTO_RELOAD_KIND or not reference.isdigit() or not workspace_id.isdigit():
        return None
    if not CreditPurchase.objects.filter(
        pk=int(reference), origin=CreditPurchase.Origin.AUTO_RELOAD, workspace_id=int(workspace_id)
    ).exists():
        return None
    error = intent.get("last_payment_error") or {}
    return credit_auto_reload_decline(
        purchase_id=int(reference), code=str(error.get("code") or "card_declined"), message=str(error.get("message") or "")
    )
