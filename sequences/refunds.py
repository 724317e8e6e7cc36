"""Bounce refunds: credits back for an address Cursive sold, pulled or enriched that hard-bounced.

A workspace that paid Cursive for a lead within BOUNCE_REFUND_DAYS gets exactly what it paid back, once per
acquisition of the address, whoever reports the bounce (a sequence's mailbox or the API) and however often.
The address is then marked invalid in the lead database so that nobody else pays for it.

Lock order, per address: the marketplace purchase that sold the lead (the order refunds of a purchase take),
the lead (so that two reports of one bounce run one after the other, the second seeing the first's refund),
then the credit accounts in workspace id order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from credits.services import credit_accounts_lock, credits_refund
from cursive.errors import ValidationFailed
from leads import normalize
from leads.models import Lead, Person, Suppression, VerificationStatus
from leads.services import leads_changed, suppressions_add
from marketplace.models import LeadPurchaseItem, Listing
from marketplace.services import purchase_id_of, sold_item_bounce_refunded, sold_item_lock

from .models import BounceRefund

MAX_REPORTED = 1000


class Reason:
    """Why a reported bounce gave nothing back (the API's `not_refunded[].reason`)."""

    NOT_BOUGHT = "not_bought_from_cursive"
    TOO_OLD = "older_than_30_days"
    ALREADY_REFUNDED = "already_refunded"
    INVALID_EMAIL = "invalid_email"


@dataclass
class BounceReport:
    refunded: list[dict] = field(default_factory=list)
    not_refunded: list[dict] = field(default_factory=list)


def bounce_refund(*, workspace: Workspace, email: str, source: str) -> BounceRefund | None:
    """`email` hard-bounced for this workspace: give back what the workspace paid Cursive for it, once; None
    when nothing is owed (not acquired from Cursive, too old, already refunded)."""
    refund, _ = _bounce(workspace=workspace, email=email, source=source)
    return refund


@transaction.atomic
def _bounce(*, workspace: Workspace, email: str, source: str) -> tuple[BounceRefund | None, str | None]:
    email = normalize.normalize_email(email)
    if not normalize.is_valid_email(email):
        return None, Reason.INVALID_EMAIL
    email_hash = normalize.suppression_hash(email)
    found = Lead.objects.filter(workspace=workspace, dedup_hash=email_hash, email=email).only("pk", "acquired_reference").first()
    if found is None:
        return None, Reason.NOT_BOUGHT
    item = _sold_item(workspace=workspace, lead=found)
    lead = Lead.objects.select_for_update(of=("self",), no_key=True).filter(pk=found.pk).first()
    if lead is None:  # the purchase was refunded meanwhile, and the lead went with it
        return None, Reason.NOT_BOUGHT
    _mark_invalid(workspace=workspace, lead=lead, email_hash=email_hash)
    if lead.acquired_credits <= 0:
        return None, Reason.NOT_BOUGHT
    if item is None and purchase_id_of(lead.acquired_reference) is not None:  # the sale is no longer complete
        return None, Reason.NOT_BOUGHT
    if BounceRefund.objects.filter(
        workspace=workspace, acquired_reference=lead.acquired_reference, email_hash=email_hash
    ).exists():
        return None, Reason.ALREADY_REFUNDED
    if lead.created_at < timezone.now() - timedelta(days=settings.BOUNCE_REFUND_DAYS):
        return None, Reason.TOO_OLD
    refund = BounceRefund.objects.create(
        workspace=workspace,
        lead=lead,
        email_hash=email_hash,
        acquired_reference=lead.acquired_reference,
        credits=lead.acquired_credits,
        source=source,
    )
    credit_accounts_lock(workspaces=[workspace, *([item.partner] if item is not None and item.partner_id else [])])
    # Ledger reasons outlive an erasure of the person (the ledger is append-only): they name the lead, not the address.
    reason = f"Refund: lead #{lead.pk}'s email bounced"
    credits_refund(workspace=workspace, amount=refund.credits, reference=refund.reference, reason=reason)
    if item is not None:
        sold_item_bounce_refunded(item=item, credits=refund.credits, reason=f"{reason} (sold in purchase #{item.purchase_id})")
    return refund, None


def _sold_item(*, workspace: Workspace, lead: Lead) -> LeadPurchaseItem | None:
    purchase_id = purchase_id_of(lead.acquired_reference)
    if purchase_id is None:
        return None
    return sold_item_lock(workspace=workspace, purchase_id=purchase_id, lead_id=lead.pk)


def _mark_invalid(*, workspace: Workspace, lead: Lead, email_hash: str) -> None:
    """The workspace's lead, and when Cursive provided it, the lead database: the person is no longer sold or
    pulled as reachable by email, and a listing still on sale is withdrawn. An address a workspace typed in
    itself changes only its own lead: a report must not take someone else's listing off the market."""
    if lead.email_status != VerificationStatus.INVALID:
        lead.email_status = VerificationStatus.INVALID
        lead.save(update_fields=["email_status", "updated_at"])
        leads_changed(workspace=workspace, lead_ids=[lead.pk], fields=["email_status"])
    if lead.acquired_credits <= 0:
        return
    Person.objects.filter(dedup_hash=email_hash).exclude(email_verified=False, has_email=False).update(
        email_verified=False, has_email=False
    )
    Listing.objects.filter(dedup_hash=email_hash, status=Listing.Status.AVAILABLE).update(status=Listing.Status.WITHDRAWN)


def bounces_report(*, workspace: Workspace, emails) -> BounceReport:
    """Bounces a workspace saw in another tool: each address is suppressed for it, and refunded as a bounce
    seen by a sequence is, checked against the workspace's own purchases and pulls. Each address is its own
    transaction, so a repeat after a failure refunds nothing twice (it answers `already_refunded`)."""
    if not isinstance(emails, (list, tuple)) or not emails:
        raise ValidationFailed("Send the addresses that bounced.", fields={"emails": ["A non-empty list of addresses."]})
    if len(emails) > MAX_REPORTED:
        raise ValidationFailed(
            f"Report at most {MAX_REPORTED} addresses at once.", fields={"emails": [f"At most {MAX_REPORTED}."]}
        )
    report = BounceReport()
    valid: dict[str, None] = {}  # in the order given, each address once
    for raw in emails:
        email = normalize.normalize_email(raw) if isinstance(raw, str) else ""
        if normalize.is_valid_email(email):
            valid.setdefault(email)
        else:
            report.not_refunded.append({"email": str(raw)[:254], "reason": Reason.INVALID_EMAIL})
    if valid:
        suppressions_add(
            workspace=workspace, emails=list(valid), reason=Suppression.Reason.BOUNCED, detail="Reported through the API"
        )
    for email in valid:
        refund, reason = _bounce(workspace=workspace, email=email, source=BounceRefund.Source.API)
        if refund is not None:
            report.refunded.append({"email": email, "credits": f"{refund.credits:.2f}"})
        else:
            report.not_refunded.append({"email": email, "reason": reason})
    return report
