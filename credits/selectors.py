from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Membership, OnboardingStep, Workspace
from accounts.selectors import onboarding_steps_done
from cursive.errors import NotFound

from .models import ZERO, BillingProfile, CreditAccount, CreditPackage, CreditPurchase, CreditTransaction, StripeEvent

# Stripe retries an undelivered event for up to three days: a refund still waiting for its payment after that
# will not see it arrive by itself.
REFUND_WAIT_ALERT_AFTER = timedelta(days=3)


def credit_account(*, workspace: Workspace) -> CreditAccount:
    """The workspace's account, unsaved with a zero balance until its first movement."""
    account = CreditAccount.objects.filter(workspace=workspace).first()
    return account or CreditAccount(workspace=workspace, balance=ZERO)


def credit_balance(*, workspace: Workspace):
    return credit_account(workspace=workspace).balance


def ledger(*, workspace: Workspace, kind: str | None = None) -> QuerySet[CreditTransaction]:
    rows = CreditTransaction.objects.filter(account__workspace=workspace).select_related("actor")
    return rows.filter(kind=kind) if kind else rows


def active_packages() -> QuerySet[CreditPackage]:
    return CreditPackage.objects.filter(active=True)


def credit_purchases(*, workspace: Workspace) -> QuerySet[CreditPurchase]:
    return CreditPurchase.objects.filter(workspace=workspace).select_related("package")


def credit_purchase_get(*, workspace: Workspace, purchase_id) -> CreditPurchase:
    purchase = credit_purchases(workspace=workspace).filter(pk=purchase_id).first()
    if purchase is None:
        raise NotFound("That purchase does not exist in this workspace.")
    return purchase


def refunds_waiting(*, too_long: bool = False) -> QuerySet[StripeEvent]:
    """Staff's view across workspaces: refunds of payments Cursive has not seen (yet), oldest first; with
    `too_long`, only those waiting past the time Stripe would have delivered their payment."""
    waiting = StripeEvent.objects.filter(status=StripeEvent.Status.WAITING)
    if too_long:
        waiting = waiting.filter(received_at__lt=timezone.now() - REFUND_WAIT_ALERT_AFTER)
    return waiting.order_by("received_at", "pk")


def owner_emails(*, workspace: Workspace) -> list[str]:
    """Where workspace alerts go: its owners' addresses, oldest membership first."""
    return list(
        Membership.objects.filter(workspace=workspace, role=Membership.Role.OWNER, user__is_active=True)
        .order_by("created_at", "id")
        .values_list("user__email", flat=True)
    )


def billing_profile(*, workspace: Workspace) -> BillingProfile | None:
    return BillingProfile.objects.filter(workspace=workspace).first()


def onboarding_status(*, workspace: Workspace) -> dict:
    """The getting-started steps in the contract's order, what is done, and the bonus granted for them (two
    queries: the steps, the bonus row)."""
    done = onboarding_steps_done(workspace=workspace)
    steps = [{"key": key, "title": title, "done": key in done} for key, title in OnboardingStep.Key.choices]
    bonus = (
        CreditTransaction.objects.filter(
            account__workspace=workspace, kind=CreditTransaction.Kind.BONUS, reference=f"onboarding-bonus:{workspace.pk}"
        )
        .values_list("amount", "created_at")
        .first()
    )
    return {
        "steps": steps,
        "completed": len(done),
        "total": len(steps),
        "bonus_credits_granted": bonus[0] if bonus else ZERO,
        "bonus_granted_at": bonus[1] if bonus else None,
    }
