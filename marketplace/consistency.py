"""The marketplace invariants: each lead sold once, every sale accounted for, partners paid exactly."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from credits.models import CreditTransaction

from .models import LeadPurchase, LeadPurchaseItem, Listing


def resolve_purchases(ids: set[int]) -> set[int]:
    return set(LeadPurchase.objects.filter(pk__in=ids).exclude(completed_at=None).values_list("pk", flat=True))


def leads_sold_once() -> Iterable[str]:
    doubles = LeadPurchaseItem.objects.filter(is_sale=True).values("listing_id").annotate(n=Count("id")).filter(n__gt=1)
    for row in doubles:
        yield f"Lead {row['listing_id']} is in {row['n']} completed sales."


def sold_leads_have_a_sale() -> Iterable[str]:
    orphans = Listing.objects.filter(status=Listing.Status.SOLD).exclude(purchase_items__is_sale=True)
    for pk in orphans.values_list("pk", flat=True)[:1000]:
        yield f"Lead {pk} is marked sold but no completed purchase contains it."


def purchase_totals_match_items() -> Iterable[str]:
    purchases = (
        LeadPurchase.objects.filter(status=LeadPurchase.Status.COMPLETE)
        .annotate(items_total=Sum("items__price"))
        .exclude(total_credits=F("items_total"))
    )
    for purchase in purchases[:1000]:
        yield (f"Purchase #{purchase.pk} totals {purchase.total_credits} credits but its items add up to {purchase.items_total}.")


def card_purchases_paid_their_price() -> Iterable[str]:
    completed = LeadPurchase.objects.filter(payment=LeadPurchase.Payment.CARD).exclude(completed_at=None)
    unpaid = completed.filter(Q(paid_cents=None) | ~Q(paid_cents=F("total_cents")))
    for pk, paid, price in unpaid.order_by("pk").values_list("pk", "paid_cents", "total_cents")[:1000]:
        if paid is None:
            yield f"Card purchase #{pk} is complete but its paid amount is unknown (price {price} cents)."
        else:
            yield f"Card purchase #{pk} is complete but was paid {paid} cents for a price of {price} cents."


def partner_earnings_match_sales() -> Iterable[str]:
    """Earnings in the ledger (earn minus reversals of sales) equal the partner shares of unrefunded sales."""
    owed = dict(
        LeadPurchaseItem.objects.filter(is_sale=True, partner__isnull=False)
        .values_list("partner_id")
        .annotate(total=Sum("partner_earning"))
    )
    sale_rows = CreditTransaction.objects.filter(reference__startswith="purchase:").filter(
        Q(kind=CreditTransaction.Kind.EARN) | Q(kind=CreditTransaction.Kind.REVERSAL)
    )
    earned = dict(sale_rows.values_list("account__workspace_id").annotate(total=Sum("amount")))
    for partner_id in sorted(set(owed) | {pk for pk, total in earned.items() if total}):
        ledger, sales = earned.get(partner_id, Decimal("0")), owed.get(partner_id, Decimal("0"))
        if ledger != sales:
            yield f"Partner workspace {partner_id} earned {ledger} credits in the ledger but its sales owe {sales}."


CHECKS = {
    "leads are sold once": leads_sold_once,
    "sold leads have a sale": sold_leads_have_a_sale,
    "purchase totals match items": purchase_totals_match_items,
    "card purchases were paid their price": card_purchases_paid_their_price,
    "partner earnings match sales": partner_earnings_match_sales,
}
