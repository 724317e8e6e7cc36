"""Partner invariants: every payout has its ledger row, and nobody is paid more than they earned."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Q, Sum

from credits.models import CreditTransaction

from .models import Payout


def resolve_payouts(ids: set[int]) -> set[int]:
    return set(Payout.objects.filter(pk__in=ids).values_list("pk", flat=True))


def payouts_match_ledger() -> Iterable[str]:
    recorded = dict(Payout.objects.values_list("workspace_id").annotate(total=Sum("credits")))
    ledger = dict(
        CreditTransaction.objects.filter(kind=CreditTransaction.Kind.PAYOUT)
        .values_list("account__workspace_id")
        .annotate(total=Sum("amount"))
    )
    for workspace_id in sorted(set(recorded) | set(ledger)):
        paid, booked = recorded.get(workspace_id, Decimal("0")), -ledger.get(workspace_id, Decimal("0"))
        if paid != booked:
            yield f"Partner workspace {workspace_id}: payouts total {paid} credits but the ledger took {booked}."


def payouts_within_earnings() -> Iterable[str]:
    earned = dict(
        CreditTransaction.objects.filter(reference__startswith="purchase:")
        .filter(Q(kind=CreditTransaction.Kind.EARN) | Q(kind=CreditTransaction.Kind.REVERSAL))
        .values_list("account__workspace_id")
        .annotate(total=Sum("amount"))
    )
    for workspace_id, paid in Payout.objects.values_list("workspace_id").annotate(total=Sum("credits")):
        if paid > earned.get(workspace_id, Decimal("0")):
            yield (
                f"Partner workspace {workspace_id} was paid out {paid} credits but earned only "
                f"{earned.get(workspace_id, Decimal('0'))}."
            )


CHECKS = {
    "payouts match the ledger": payouts_match_ledger,
    "payouts within earnings": payouts_within_earnings,
}
