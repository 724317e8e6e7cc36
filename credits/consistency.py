"""The credits invariants, and the registry that tells what a ledger reference points at."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import OnboardingStep
from cursive.models import AuditEvent
from cursive.registry import Registry

from .models import ZERO, CreditAccount, CreditPurchase, CreditTransaction

# prefix -> function(ids) returning the ids that exist as a cause.
REFERENCES: Registry[Callable[[set[int]], set[int]]] = Registry("ledger references")


def register_reference(prefix: str, resolver: Callable[[set[int]], set[int]]) -> None:
    REFERENCES.register(prefix, resolver)


def negative_balances() -> Iterable[str]:
    for account in CreditAccount.objects.filter(balance__lt=0).select_related("workspace"):
        yield f"{account.workspace} has a negative balance of {account.balance}."


def balances_match_ledgers() -> Iterable[str]:
    ledger_sum = (
        CreditTransaction.objects.filter(account=OuterRef("pk")).values("account").annotate(total=Sum("amount")).values("total")
    )
    last_balance = (
        CreditTransaction.objects.filter(account=OuterRef("pk")).order_by("-created_at", "-id").values("balance_after")[:1]
    )
    accounts = CreditAccount.objects.annotate(
        ledger_total=Coalesce(Subquery(ledger_sum), ZERO), last_after=Subquery(last_balance)
    ).select_related("workspace")
    for account in accounts.exclude(balance=F("ledger_total")):
        yield f"{account.workspace}: balance {account.balance} but its ledger sums to {account.ledger_total}."
    for account in accounts.exclude(last_after=None).exclude(balance=F("last_after")):
        yield f"{account.workspace}: balance {account.balance} but the last ledger row says {account.last_after}."


def completed_purchases_have_ledger_rows() -> Iterable[str]:
    completed = CreditPurchase.objects.exclude(completed_at=None)
    references = {f"credit_purchase:{pk}": pk for pk in completed.values_list("pk", flat=True)}
    granted = dict(
        CreditTransaction.objects.filter(kind=CreditTransaction.Kind.PURCHASE, reference__in=references)
        .values_list("reference")
        .annotate(n=Count("id"))
    )
    for reference, pk in references.items():
        if granted.get(reference, 0) != 1:
            yield f"Credit purchase #{pk} is complete but has {granted.get(reference, 0)} purchase ledger rows."


def completed_purchases_were_paid_their_price() -> Iterable[str]:
    unpaid = CreditPurchase.objects.exclude(completed_at=None).filter(Q(paid_cents=None) | ~Q(paid_cents=F("price_cents")))
    for pk, paid, price in unpaid.order_by("pk").values_list("pk", "paid_cents", "price_cents")[:1000]:
        if paid is None:
            yield f"Credit purchase #{pk} is complete but its paid amount is unknown (price {price} cents)."
        else:
            yield f"Credit purchase #{pk} is complete but was paid {paid} cents for a price of {price} cents."


def _resolve_credit_purchases(ids: set[int]) -> set[int]:
    return set(CreditPurchase.objects.filter(pk__in=ids).exclude(completed_at=None).values_list("pk", flat=True))


def _resolve_adjustments(audit_ids: set[int]) -> set[int]:
    return set(AuditEvent.objects.filter(pk__in=audit_ids, action="credits.adjust").values_list("pk", flat=True))


def _resolve_onboarding_bonuses(workspace_ids: set[int]) -> set[int]:
    """A bonus is owed to a workspace that has done every onboarding step."""
    steps = len(OnboardingStep.Key.values)
    done = OnboardingStep.objects.filter(workspace_id__in=workspace_ids).values("workspace_id").annotate(n=Count("id"))
    return {row["workspace_id"] for row in done if row["n"] == steps}


def ledger_rows_have_causes() -> Iterable[str]:
    by_prefix: dict[str, dict[int, int]] = {}
    for pk, reference in CreditTransaction.objects.values_list("pk", "reference").iterator():
        prefix, _, ident = reference.partition(":")
        if ident.isdigit() and prefix in REFERENCES:
            by_prefix.setdefault(prefix, {})[pk] = int(ident)
        else:
            yield f"Ledger row #{pk} refers to '{reference}', which is no known kind of cause."
    for prefix, rows in by_prefix.items():
        existing = REFERENCES.get(prefix)(set(rows.values()))
        for pk, ident in rows.items():
            if ident not in existing:
                yield f"Ledger row #{pk} refers to {prefix}:{ident}, which does not exist or did not happen."


register_reference("credit_purchase", _resolve_credit_purchases)
register_reference("audit", _resolve_adjustments)
register_reference("onboarding-bonus", _resolve_onboarding_bonuses)
CHECKS = {
    "negative balances": negative_balances,
    "balance equals ledger": balances_match_ledgers,
    "completed credit purchases are granted once": completed_purchases_have_ledger_rows,
    "completed credit purchases were paid their price": completed_purchases_were_paid_their_price,
    "ledger rows have a cause": ledger_rows_have_causes,
}
