"""Every write to listings and lead purchases. A lead is sold once, under any concurrency.

Lock discipline: listings are locked in id order with SKIP LOCKED, so a buyer
never waits behind another buyer's purchase; a listing that is locked right
now is "being bought" and answers 409 at once. Credit accounts (buyer and
partners) are then locked in workspace id order by the credits service.
Card purchases reserve their listings and commit before Stripe is called.
Every lock covers only the rows it names (`of=("self",)`, never a joined
workspace) and is FOR NO KEY UPDATE: a held purchase must not stall the
inserts that refer to the buyer's workspace or to the purchase itself.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from psycopg.types.numeric import Int8

from accounts.models import User, Workspace
from credits import stripe_gateway
from credits.errors import InsufficientCredits, PaymentProviderUnavailable
from credits.models import CreditTransaction
from credits.services import (
    MAX_CREDITS,
    credit_accounts_lock,
    credits_posted,
    credits_refund,
    credits_reverse_or_flag,
)
from cursive.audit import audit_record, reviewed_flags_clear
from cursive.errors import Conflict, NotFound, ValidationFailed
from cursive.events import events_recorded
from cursive.jobs import job_dispatch_on_commit
from cursive.locks import lock_for_transaction
from cursive.replicas import replica_fence
from leads import normalize
from leads.models import Lead
from leads.selectors import erased_hashes

from .models import LeadPurchase, LeadPurchaseItem, Listing

CENT = Decimal("0.01")
MAX_LEADS_PER_PURCHASE = 100
RESERVATION = timedelta(minutes=30)

# A bought lead's `acquired_reference`: the prefix, then the purchase id (what bounce and erasure refunds read).
LEAD_ACQUIRED_PREFIX = "lead_purchase:"


class LeadUnavailable(Conflict):
    code = "lead_unavailable"

    def __init__(self, lead_ids: list[int], reason: str = "sold or being bought by someone else"):
        self.lead_ids = sorted(lead_ids)
        names = ", ".join(str(pk) for pk in self.lead_ids)
        super().__init__(
            f"Lead{'s' if len(self.lead_ids) > 1 else ''} {names} {'are' if len(self.lead_ids) > 1 else 'is'}"
            f" no longer available ({reason}); remove {'them' if len(self.lead_ids) > 1 else 'it'}"
            " from your cart and try again.",
            extra={"lead_ids": self.lead_ids},
        )


class ReservationLimit(Conflict):
    code = "reservation_limit"

    def __init__(self, *, reserved: int, adding: int, limit: int):
        super().__init__(
            f"You hold {reserved} lead{'s' if reserved != 1 else ''} in unpaid card checkouts and a workspace may "
            f"hold at most {limit} at once; this checkout would add {adding}. Pay or cancel a pending checkout "
            "(Purchases) to free its leads, or buy these with credits.",
            extra={"reserved": reserved, "limit": limit},
        )


def _violated_constraint(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _clean_ids(lead_ids) -> list[int]:
    if not isinstance(lead_ids, (list, tuple)) or not lead_ids:
        raise ValidationFailed("Choose at least one lead.", fields={"lead_ids": ["A non-empty list of lead ids."]})
    try:
        ids = sorted({int(pk) for pk in lead_ids})
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("Lead ids are numbers.", fields={"lead_ids": ["Only numeric ids."]}) from exc
    if len(ids) > MAX_LEADS_PER_PURCHASE:
        raise ValidationFailed(
            f"Buy at most {MAX_LEADS_PER_PURCHASE} leads at once.", fields={"lead_ids": [f"At most {MAX_LEADS_PER_PURCHASE}."]}
        )
    return ids


# The rules of a purchase run in the database (marketplace's migration 0005): these send them one call each.
_LISTINGS_LOCK = "SELECT * FROM marketplace_listings_lock(%s, %s)"
_DELIVER = "SELECT * FROM marketplace_deliver(%s, %s, %s, %s, %s)"
_PURCHASE_WITH_CREDITS = "SELECT * FROM marketplace_purchase_credits(%s, %s, %s, %s, %s, %s)"


def _id_array(ids) -> list[Int8]:
    """Ids as the bigint[] the functions take (psycopg would pick int2[] or int4[] by their size)."""
    return [Int8(pk) for pk in ids]


def _refuse(outcome: str, ids: list[int]) -> None:
    """The error for what `marketplace_listings_lock` found wrong with the listings asked for, if anything."""
    if outcome == "not_found":
        raise NotFound(f"No lead with id {', '.join(map(str, ids))} is on the marketplace.", extra={"lead_ids": ids})
    if outcome == "unavailable":
        raise LeadUnavailable(ids)
    if outcome == "own_listing":
        raise Conflict(f"Leads {', '.join(map(str, ids))} are your own listings.", code="own_listing", extra={"lead_ids": ids})
    if outcome == "already_owned":
        raise Conflict(
            f"You already have lead{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))} in My Leads.",
            code="already_owned",
            extra={"lead_ids": ids},
        )


def _lock_listings(*, workspace: Workspace, ids: list[int]) -> list[Listing]:
    """Lock the requested listings (id order, never waiting) and check every one can be bought now."""
    with connection.cursor() as cursor:
        cursor.execute(_LISTINGS_LOCK, [workspace.pk, _id_array(ids)])
        outcome, locked = cursor.fetchone()
    _refuse(outcome, locked)
    return list(Listing.objects.filter(pk__in=locked).select_related("partner").order_by("pk"))


def _delivered(job_id: int) -> None:
    """After `marketplace_deliver` (inside its transaction): hand its confirmation job to the workers and wake the
    event consumers once the transaction commits."""
    job_dispatch_on_commit(job_id)
    events_recorded()


def _deliver(*, purchase: LeadPurchase, listings: list[Listing]) -> None:
    """Mark the listings sold, copy them into the buyer's leads and pay the partners (`marketplace_deliver`), for
    a paid card checkout whose pending items name them. Inside the caller's transaction, with the listings and
    every credit account involved already locked."""
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVER,
            [
                purchase.pk,
                _id_array(listing.pk for listing in listings),
                LEAD_ACQUIRED_PREFIX,
                settings.JOB_MAX_ATTEMPTS,
                MAX_CREDITS,
            ],
        )
        _lead_ids, job_id = cursor.fetchone()
    purchase.status = LeadPurchase.Status.COMPLETE
    purchase.completed_at = purchase.completed_at or timezone.now()
    purchase.reserved_until = None
    _delivered(job_id)
    # Paid through Stripe's webhook, a request with no workspace of its own: the buyer's replica reads must still
    # wait for this delivery.
    replica_fence(workspace_id=purchase.workspace_id)


def _lock_accounts(workspace: Workspace, listings: list[Listing]) -> None:
    credit_accounts_lock(workspaces=[workspace, *(lst.partner for lst in listings if lst.partner_id)])


def _create_pending(*, workspace: Workspace, listings: list[Listing], payment: str, created_by: User | None) -> LeadPurchase:
    purchase = LeadPurchase.objects.create(
        workspace=workspace,
        payment=payment,
        created_by=created_by,
        total_credits=sum((lst.price for lst in listings), Decimal("0.00")),
    )
    LeadPurchaseItem.objects.bulk_create(
        [
            LeadPurchaseItem(purchase=purchase, listing=listing, price=listing.price, partner_id=listing.partner_id)
            for listing in listings
        ]
    )
    return purchase


def purchase_create(
    *,
    workspace: Workspace,
    lead_ids,
    payment: str = LeadPurchase.Payment.CREDITS,
    created_by: User | None = None,
    base_url: str | None = None,
) -> LeadPurchase:
    ids = _clean_ids(lead_ids)
    if payment == LeadPurchase.Payment.CREDITS:
        try:
            return _purchase_with_credits(workspace=workspace, ids=ids, created_by=created_by)
        except IntegrityError as exc:
            # The ownership check saw none of these people, but a pull or a lead added by hand committed one
            # while this purchase ran: the whole purchase rolled back, nothing was charged.
            if _violated_constraint(exc) != "lead_workspace_dedup_unique":
                raise
            raise Conflict(
                "Someone in this cart reached My Leads while you were buying (a pull or a lead added by hand); "
                "nothing was charged. Reload your cart and try again.",
                code="already_owned",
            ) from exc
    if payment == LeadPurchase.Payment.CARD:
        return _purchase_with_card(workspace=workspace, ids=ids, created_by=created_by, base_url=base_url)
    raise ValidationFailed("Pay with 'credits' or 'card'.", fields={"payment": ["Use credits or card."]})


@transaction.atomic
def _purchase_with_credits(*, workspace: Workspace, ids: list[int], created_by: User | None) -> LeadPurchase:
    """The whole purchase is one call of `marketplace_purchase_credits`: listings locked and checked, the buyer's
    and partners' accounts locked, the purchase saved complete, the debit, then `marketplace_deliver`. Python
    turns its refusals into errors (raising rolls back whatever it wrote) and runs what follows a debit."""
    actor_id = created_by.pk if created_by else None
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(
                _PURCHASE_WITH_CREDITS,
                [workspace.pk, _id_array(ids), actor_id, LEAD_ACQUIRED_PREFIX, settings.JOB_MAX_ATTEMPTS, MAX_CREDITS],
            )
            outcome, refused, purchase_id, created_at, total, account_id, balance, threshold, auto_reload, _leads, job_id = (
                cursor.fetchone()
            )
        if outcome != "no_account":
            break
        # Someone's first credit movement: their account is made where accounts are made, then the call is repeated.
        credit_accounts_lock(workspaces=[Workspace(pk=pk) for pk in refused])
    if outcome == "insufficient":
        raise InsufficientCredits(needed=total, balance=balance)
    _refuse(outcome, refused)
    credits_posted(
        workspace=workspace,
        kind=CreditTransaction.Kind.SPEND,
        amount=-total,
        account_id=account_id,
        balance=balance,
        threshold=threshold,
        auto_reload=auto_reload,
    )
    _delivered(job_id)
    purchase = LeadPurchase(
        pk=purchase_id,
        workspace=workspace,
        status=LeadPurchase.Status.COMPLETE,
        payment=LeadPurchase.Payment.CREDITS,
        total_credits=total,
        created_by=created_by,
        created_at=created_at,
        completed_at=created_at,
    )
    purchase._state.adding = False
    purchase._state.db = connection.alias
    return purchase


def _check_reservation_room(*, workspace: Workspace, adding: int) -> None:
    """Unpaid card checkouts take their leads off sale for the reservation's length: one workspace may hold
    only MARKETPLACE_MAX_RESERVED_LEADS at once, or a single buyer could reserve most of the marketplace.
    The count is taken under a per-workspace transaction lock, so concurrent checkouts of one workspace are
    counted one after the other and cannot pass the cap together."""
    lock_for_transaction(f"marketplace.reservations:{workspace.pk}")
    reserved = Listing.objects.filter(
        status=Listing.Status.RESERVED, reserved_by__workspace=workspace, reserved_by__reserved_until__gt=timezone.now()
    ).count()
    limit = settings.MARKETPLACE_MAX_RESERVED_LEADS
    if reserved + adding > limit:
        raise ReservationLimit(reserved=reserved, adding=adding, limit=limit)


def _purchase_with_card(*, workspace: Workspace, ids: list[int], created_by: User | None, base_url: str | None) -> LeadPurchase:
    with transaction.atomic():
        _check_reservation_room(workspace=workspace, adding=len(ids))
        listings = _lock_listings(workspace=workspace, ids=ids)
        purchase = _create_pending(
            workspace=workspace, listings=listings, payment=LeadPurchase.Payment.CARD, created_by=created_by
        )
        purchase.reserved_until = timezone.now() + RESERVATION
        purchase.total_cents = int((purchase.total_credits * settings.CREDIT_VALUE_CENTS).to_integral_value())
        purchase.save(update_fields=["reserved_until", "total_cents"])
        Listing.objects.filter(pk__in=ids).update(
            status=Listing.Status.RESERVED, reserved_by=purchase, reserved_until=purchase.reserved_until
        )
    # The reservation is committed: Stripe is called with no lock held.
    return_path = reverse("marketplace:purchase_detail", args=[purchase.pk])
    try:
        session = stripe_gateway.checkout_session_create(
            kind=stripe_gateway.CheckoutKind.LEADS,
            object_id=purchase.pk,
            workspace_id=workspace.pk,
            description=f"{len(ids)} Cursive lead{'s' if len(ids) > 1 else ''}",
            amount_cents=purchase.total_cents,
            success_path=return_path + "?result=success",
            cancel_path=return_path + "?result=cancel",
            customer_email=created_by.email if created_by else None,
            idempotency_key=f"lead-purchase-{purchase.pk}",
            base_url=base_url,
        )
    except Exception as exc:  # Stripe down or refusing: give the leads back at once
        purchase_release(
            purchase_id=purchase.pk,
            status=LeadPurchase.Status.FAILED,
            reason=f"Checkout could not be created: {exc.__class__.__name__}",
        )
        raise PaymentProviderUnavailable() from exc
    return stripe_gateway.session_record(LeadPurchase.objects.all(), pk=purchase.pk, session=session)


def _purchase_for_session(session: dict) -> LeadPurchase | None:
    return stripe_gateway.session_object_for_update(session, LeadPurchase.objects.select_related("workspace"))


def _flag_for_review(purchase: LeadPurchase, note: str) -> None:
    """Ask staff to act on a card purchase (inside the caller's transaction; the caller saves the purchase)."""
    purchase.needs_review = True
    purchase.review_note = (f"{purchase.review_note}\n" if purchase.review_note else "") + (
        f"{timezone.now():%Y-%m-%d %H:%M} UTC: {note}"
    )


@transaction.atomic
def purchase_complete_paid(*, session: dict, refunded_cents: int = 0) -> LeadPurchase | None:
    """A card payment succeeded: deliver the leads exactly once, whatever order the events come in. A session
    that is not this purchase's payment (another session, amount, currency or workspace) delivers nothing: it
    is recorded on the purchase for staff, and the purchase's own session can still pay it.

    `refunded_cents` is what Stripe already refunded of this payment (its refund arrived first). A full
    refund delivers nothing: the purchase ends refunded and its leads go back on the market, since the buyer
    never saw them. A partial one delivers, then is recorded and flagged as any partial refund is."""
    purchase = _purchase_for_session(session)
    if purchase is None:
        return None
    if mismatch := stripe_gateway.session_mismatch(
        session, session_id=purchase.checkout_session_id, amount_cents=purchase.total_cents, workspace_id=purchase.workspace_id
    ):
        _flag_for_review(
            purchase,
            f"Checkout Session {session.get('id')!r} was not delivered: {mismatch}. If "
            f"payment {session.get('payment_intent') or 'of that session'} was charged, "
            "refund it in Stripe.",
        )
        purchase.save(update_fields=["needs_review", "review_note"])
        audit_record(
            actor=None,
            action="marketplace.payment_mismatch",
            target=purchase.reference,
            workspace=purchase.workspace,
            reason=purchase.review_note,
        )
        return purchase
    if purchase.status in (LeadPurchase.Status.COMPLETE, LeadPurchase.Status.REFUNDED):
        return purchase
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return purchase
    if 0 < purchase.total_cents <= refunded_cents:
        return _refunded_before_payment(purchase=purchase, session=session)
    purchase = _deliver_paid(purchase=purchase, session=session)
    if refunded_cents > 0 and purchase.payment_intent_id:
        return purchase_card_refunded(payment_intent_id=purchase.payment_intent_id, amount_refunded_cents=refunded_cents)
    return purchase


def _refunded_before_payment(*, purchase: LeadPurchase, session: dict) -> LeadPurchase:
    Listing.objects.filter(reserved_by=purchase, status=Listing.Status.RESERVED).update(
        status=Listing.Status.AVAILABLE, reserved_by=None, reserved_until=None
    )
    purchase.payment_intent_id = session.get("payment_intent") or ""
    purchase.paid_cents = session["amount_total"]
    purchase.refunded_cents = purchase.total_cents
    purchase.status = LeadPurchase.Status.REFUNDED
    purchase.closed_at = timezone.now()
    purchase.reserved_until = None
    purchase.save(update_fields=["payment_intent_id", "paid_cents", "refunded_cents", "status", "closed_at", "reserved_until"])
    audit_record(
        actor=None,
        action="marketplace.refunded_before_payment",
        target=purchase.reference,
        workspace=purchase.workspace,
        reason=f"Payment {purchase.payment_intent_id} was refunded before its "
        "completion arrived: nothing delivered, leads back on the market.",
    )
    return purchase


def _deliver_paid(*, purchase: LeadPurchase, session: dict) -> LeadPurchase:
    """Deliver a paid purchase (locked by the caller) with what can still be delivered."""
    ids = list(purchase.items.values_list("listing_id", flat=True))
    # Waiting here is fine (the webhook has a lock timeout); skipping would lose a paid sale.
    listings = list(
        Listing.objects.filter(pk__in=ids).select_related("partner").order_by("pk").select_for_update(of=("self",), no_key=True)
    )
    lost = [
        lst.pk
        for lst in listings
        if not (
            lst.status == Listing.Status.AVAILABLE
            or (lst.status == Listing.Status.RESERVED and lst.reserved_by_id == purchase.pk)
        )
    ]
    purchase.payment_intent_id = session.get("payment_intent") or ""
    purchase.paid_cents = session["amount_total"]
    fields = [
        "status",
        "completed_at",
        "closed_at",
        "failure_reason",
        "reserved_until",
        "payment_intent_id",
        "paid_cents",
        "needs_review",
        "review_note",
    ]
    if lost:
        # Paid after the reservation ran out and someone else bought a lead meanwhile: staff refund the card.
        purchase.status = LeadPurchase.Status.FAILED
        purchase.failure_reason = (
            f"Paid after the reservation expired; leads {lost} were sold meanwhile. "
            f"Refund payment {session.get('payment_intent') or session.get('id')}."
        )
        purchase.closed_at = timezone.now()
        _flag_for_review(purchase, purchase.failure_reason)
        purchase.save(update_fields=fields)
        audit_record(
            actor=None,
            action="marketplace.paid_but_unavailable",
            target=purchase.reference,
            workspace=purchase.workspace,
            reason=purchase.failure_reason,
        )
        return purchase
    items = list(purchase.items.all())
    if owned := _owned_meanwhile(purchase=purchase, listings=listings, items=items, session=session):
        listings = [listing for listing in listings if listing.pk not in owned]
        items = [item for item in items if item.listing_id not in owned]
    if not listings:
        purchase.status, purchase.closed_at = LeadPurchase.Status.FAILED, timezone.now()
        purchase.failure_reason = "Every lead was already in the buyer's workspace when the payment arrived."
        purchase.save(update_fields=fields)
        return purchase
    _lock_accounts(purchase.workspace, listings)
    _deliver(purchase=purchase, listings=listings)
    purchase.save(update_fields=fields)
    return purchase


def _owned_meanwhile(
    *, purchase: LeadPurchase, listings: list[Listing], items: list[LeadPurchaseItem], session: dict
) -> set[int]:
    """The reserved leads the buyer got during the reservation by other means (a segment pull, by hand). They
    cannot be delivered twice, and failing would fail every retry of a paid event: they go back on the
    market and their share of the card payment is flagged for staff to refund in Stripe, as every card
    refund in Cursive is (money paid by card goes back to the card, not into credits)."""
    owned_hashes = set(
        Lead.objects.filter(
            workspace=purchase.workspace, dedup_hash__in=[listing.dedup_hash for listing in listings]
        ).values_list("dedup_hash", flat=True)
    )
    owned = {listing.pk for listing in listings if listing.dedup_hash in owned_hashes}
    if not owned:
        return owned
    Listing.objects.filter(pk__in=owned).update(status=Listing.Status.AVAILABLE, reserved_by=None, reserved_until=None)
    owed_credits = sum((item.price for item in items if item.listing_id in owned), Decimal("0.00"))
    owed_cents = min(purchase.total_cents, int((owed_credits * settings.CREDIT_VALUE_CENTS).to_integral_value()))
    _flag_for_review(
        purchase,
        (
            f"Lead{'s' if len(owned) > 1 else ''} {', '.join(map(str, sorted(owned)))} "
            f"{'were' if len(owned) > 1 else 'was'} already in the buyer's "
            "workspace when the payment arrived (pulled from a segment or added by hand during the reservation): not "
            f"delivered, back on the market; refund ${owed_cents / 100:,.2f} of payment "
            f"{session.get('payment_intent') or session.get('id')} in Stripe."
        ),
    )
    audit_record(
        actor=None,
        action="marketplace.paid_but_already_owned",
        target=purchase.reference,
        workspace=purchase.workspace,
        reason=purchase.review_note,
        leads=sorted(owned),
        refund_cents=owed_cents,
    )
    return owned


@transaction.atomic
def purchase_release(*, purchase_id: int, status: str = LeadPurchase.Status.EXPIRED, reason: str = "") -> LeadPurchase:
    """Close a pending card purchase and put its reserved leads back on the market."""
    purchase = LeadPurchase.objects.select_for_update(no_key=True).get(pk=purchase_id)
    if purchase.status != LeadPurchase.Status.PENDING:
        return purchase
    Listing.objects.filter(reserved_by=purchase, status=Listing.Status.RESERVED).update(
        status=Listing.Status.AVAILABLE, reserved_by=None, reserved_until=None
    )
    purchase.status = status
    purchase.closed_at = timezone.now()
    purchase.failure_reason = reason
    purchase.save(update_fields=["status", "closed_at", "failure_reason"])
    return purchase


def purchase_cancel(*, workspace: Workspace, purchase_id: int) -> LeadPurchase:
    """The buyer gives up a card checkout: its session is closed at Stripe first (so it can no longer be paid),
    then the leads go back on the market. A session already paid is not cancelled: the leads are on their way."""
    purchase = LeadPurchase.objects.filter(workspace=workspace, pk=purchase_id).first()
    if purchase is None:
        raise NotFound("No such purchase.")
    if purchase.status != LeadPurchase.Status.PENDING or not purchase.checkout_session_id:
        raise Conflict(
            f"This purchase is {purchase.get_status_display().lower()}; only one awaiting payment can be cancelled.",
            code="not_cancellable",
        )
    try:
        stripe_gateway.checkout_session_expire(purchase.checkout_session_id)
    except stripe_gateway.SessionNotOpen as exc:
        raise Conflict("The payment already went through; your leads are being delivered.", code="already_paid") from exc
    except Exception as exc:  # Stripe unreachable: keep the reservation rather than risk a paid, released sale
        raise PaymentProviderUnavailable() from exc
    return purchase_release(
        purchase_id=purchase.pk, status=LeadPurchase.Status.EXPIRED, reason="Cancelled by the buyer before paying."
    )


def purchase_close_session(*, session: dict, status: LeadPurchase.Status) -> LeadPurchase | None:
    """Stripe says a Checkout Session ended unpaid (`status` is EXPIRED or FAILED): release its purchase."""
    reference = stripe_gateway.session_reference(session)
    if reference is None or not LeadPurchase.objects.filter(pk=reference, checkout_session_id=session.get("id")).exists():
        return None
    return purchase_release(purchase_id=reference, status=status)


def reservations_release_expired() -> int:
    """The scheduled end of card reservations (Stripe's own expiry event may come later, or never). A purchase
    whose payment is recorded but not processed yet keeps its leads: Stripe's retry delivers them."""
    due = LeadPurchase.objects.filter(status=LeadPurchase.Status.PENDING, reserved_until__lt=timezone.now()).exclude(
        checkout_session_id__in=stripe_gateway.sessions_paid_not_yet_processed()
    )
    released = 0
    for purchase_id in due.values_list("pk", flat=True)[:1000]:
        purchase_release(purchase_id=purchase_id, reason="The 30-minute reservation ended before payment.")
        released += 1
    return released


def purchases_mark_reviewed(*, purchase_ids, actor: User) -> int:
    return reviewed_flags_clear(
        queryset=LeadPurchase.objects.filter(pk__in=purchase_ids), actor=actor, action="marketplace.purchase_reviewed"
    )


def _undo_sale(*, purchase: LeadPurchase, actor: User | None, return_to_market: bool) -> list[int]:
    """Take a complete purchase back, inside the caller's transaction: the buyer's copies of the leads go,
    the listings return to the market (or are withdrawn), each partner's share is taken back (or, when
    already spent or paid out, the partner's account is flagged for staff), and the buyer gets the credits
    back when they paid in credits. Returns the listing ids."""
    items = list(purchase.items.filter(is_sale=True).select_related("partner").order_by("listing_id"))
    listing_ids = [item.listing_id for item in items]
    list(Listing.objects.filter(pk__in=listing_ids).order_by("pk").select_for_update(of=("self",), no_key=True))
    partners = {item.partner for item in items if item.partner_id}
    credit_accounts_lock(workspaces=[purchase.workspace, *partners])
    # Leads whose email bounced were already given back one by one (bounce refunds): not twice.
    bounce_refunded = sum((item.bounce_refunded_credits for item in items), Decimal("0.00"))
    if purchase.payment == LeadPurchase.Payment.CREDITS:  # card money goes back through Stripe
        if purchase.total_credits > bounce_refunded:
            credits_refund(
                workspace=purchase.workspace,
                amount=purchase.total_credits - bounce_refunded,
                reference=purchase.reference,
                actor=actor,
                reason=f"Refund of purchase #{purchase.pk}",
            )
    elif bounce_refunded > 0:  # the card gets all its money back: the credits given for bounces were on top
        credits_reverse_or_flag(
            workspace=purchase.workspace,
            amount=bounce_refunded,
            reference=purchase.reference,
            reason=f"Bounce refunds of purchase #{purchase.pk}, now refunded to the card",
        )
    earnings: dict[int, Decimal] = {}
    for item in items:
        if item.partner_id and item.partner_earning > 0:
            earnings[item.partner_id] = earnings.get(item.partner_id, Decimal("0.00")) + item.partner_earning
    for partner in sorted(partners, key=lambda w: w.pk):
        if earnings.get(partner.pk):
            credits_reverse_or_flag(
                workspace=partner,
                amount=earnings[partner.pk],
                reference=purchase.reference,
                reason=f"Sale refunded (purchase #{purchase.pk})",
            )
    Lead.objects.filter(pk__in=[item.lead_id for item in items if item.lead_id]).delete()
    LeadPurchaseItem.objects.filter(pk__in=[item.pk for item in items]).update(is_sale=False, lead=None)
    Listing.objects.filter(pk__in=listing_ids).update(
        status=Listing.Status.AVAILABLE if return_to_market else Listing.Status.WITHDRAWN, buyer=None, sold_at=None
    )
    if return_to_market:  # a person erased for privacy since the sale never goes back on the market
        hashes = Listing.objects.filter(pk__in=listing_ids).values_list("dedup_hash", flat=True)
        if erased := erased_hashes(hashes=list(hashes)):
            Listing.objects.filter(pk__in=listing_ids, dedup_hash__in=erased).update(status=Listing.Status.WITHDRAWN)
    purchase.status = LeadPurchase.Status.REFUNDED
    purchase.closed_at = timezone.now()
    return listing_ids


def purchase_id_of(acquired_reference: str) -> int | None:
    """The marketplace purchase a lead's `acquired_reference` names, or None when it came another way."""
    prefix, _, ident = acquired_reference.partition(":")
    return int(ident) if f"{prefix}:" == LEAD_ACQUIRED_PREFIX and ident.isdigit() else None


def sold_item_lock(*, workspace: Workspace, purchase_id: int, lead_id: int) -> LeadPurchaseItem | None:
    """The completed sale that delivered this lead to the workspace, with its purchase locked first (the order
    every refund of a purchase takes), or None when it was refunded since. Inside the caller's transaction."""
    purchase = (
        LeadPurchase.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk=purchase_id, workspace=workspace, status=LeadPurchase.Status.COMPLETE)
        .first()
    )
    if purchase is None:
        return None
    return (
        LeadPurchaseItem.objects.select_related("purchase", "partner")
        .filter(purchase=purchase, lead_id=lead_id, is_sale=True)
        .first()
    )


def sold_item_bounce_refunded(*, item: LeadPurchaseItem, credits: Decimal, reason: str) -> None:
    """The buyer got this item's credits back because its email bounced (the caller refunded them, with the
    buyer's and the partner's accounts locked): the partner's share of this item is taken back, or the
    partner flagged when it is spent, as a refund of the whole sale does. The item remembers both, so a later
    refund of the purchase neither pays the buyer twice nor takes the share back twice."""
    if item.partner_id and item.partner_earning > 0:
        credits_reverse_or_flag(
            workspace=item.partner, amount=item.partner_earning, reference=item.purchase.reference, reason=reason
        )
    item.partner_earning = Decimal("0.00")
    item.bounce_refunded_credits = credits
    item.save(update_fields=["partner_earning", "bounce_refunded_credits"])


@transaction.atomic
def purchase_refund(*, purchase_id: int, actor: User, reason: str, return_to_market: bool = True) -> LeadPurchase:
    """Staff refund of a credit purchase: credits back to the buyer, leads out of their workspace, listings back
    on the market (or withdrawn), partner earnings reversed, an audit row; all or nothing. Card purchases are
    refunded in Stripe, whose `charge.refunded` event undoes the sale (purchase_card_refunded)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the purchase is refunded.", fields={"reason": ["A reason is required."]})
    purchase = (
        LeadPurchase.objects.select_for_update(of=("self",), no_key=True)
        .select_related("workspace")
        .filter(pk=purchase_id)
        .first()
    )
    if purchase is None:
        raise NotFound("No such purchase.")
    if purchase.status != LeadPurchase.Status.COMPLETE:
        raise Conflict(
            f"Only complete purchases can be refunded; this one is {purchase.get_status_display().lower()}.",
            code="not_refundable",
        )
    if purchase.payment == LeadPurchase.Payment.CARD:
        raise Conflict(
            "This purchase was paid by card: refund the payment in Stripe "
            f"({purchase.payment_intent_id or 'see the Checkout Session'}); the refund comes back by "
            "webhook and takes the sale back here.",
            code="refund_in_stripe",
        )
    listing_ids = _undo_sale(purchase=purchase, actor=actor, return_to_market=return_to_market)
    purchase.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=actor,
        action="marketplace.refund",
        target=purchase.reference,
        workspace=purchase.workspace,
        reason=reason,
        credits=str(purchase.total_credits),
        leads=listing_ids,
        returned_to_market=return_to_market,
    )
    return purchase


@transaction.atomic
def purchase_card_refunded(*, payment_intent_id: str, amount_refunded_cents: int) -> LeadPurchase | None:
    """Stripe refunded (part of) a card purchase; None when the payment is not a lead purchase.

    A full refund of a delivered purchase takes the sale back; the listings are withdrawn rather than
    relisted, since the buyer has seen the contact details and a refund often means the data was bad
    (staff can relist). A partial refund cannot be matched to leads: it is recorded and flagged for staff.
    A refund of a purchase that was paid too late to deliver closes its flag. Each refund counts once,
    however often the event arrives."""
    purchase = (
        LeadPurchase.objects.select_for_update(of=("self",), no_key=True)
        .select_related("workspace")
        .filter(payment_intent_id=payment_intent_id)
        .exclude(payment_intent_id="")
        .first()
    )
    if purchase is None:
        return None
    newly_refunded = min(amount_refunded_cents, purchase.total_cents) - purchase.refunded_cents
    if newly_refunded <= 0:
        return purchase
    purchase.refunded_cents += newly_refunded
    fully = purchase.refunded_cents >= purchase.total_cents
    reason = f"card refund of ${newly_refunded / 100:,.2f} ({payment_intent_id})"
    if purchase.status == LeadPurchase.Status.COMPLETE and fully:
        listing_ids = _undo_sale(purchase=purchase, actor=None, return_to_market=False)
        audit_record(
            actor=None,
            action="marketplace.card_refund",
            target=purchase.reference,
            workspace=purchase.workspace,
            reason=reason,
            leads=listing_ids,
        )
    elif purchase.status == LeadPurchase.Status.COMPLETE:
        purchase.failure_reason = (f"{purchase.failure_reason}\n" if purchase.failure_reason else "") + (
            f"Partial {reason}: the leads stay delivered; staff decide what it covers."
        )
        audit_record(
            actor=None,
            action="marketplace.partial_card_refund",
            target=purchase.reference,
            workspace=purchase.workspace,
            reason=purchase.failure_reason,
        )
    elif fully:  # paid too late to deliver (FAILED): the refund staff were asked for has happened
        purchase.status = LeadPurchase.Status.REFUNDED
        purchase.needs_review = False
        audit_record(
            actor=None,
            action="marketplace.card_refund",
            target=purchase.reference,
            workspace=purchase.workspace,
            reason=reason,
            leads=[],
        )
    purchase.save(update_fields=["refunded_cents", "status", "closed_at", "failure_reason", "needs_review"])
    return purchase


@transaction.atomic
def listing_create(*, data: dict, price, quality: int, partner: Workspace | None = None, revenue_share_percent=None) -> Listing:
    """List one lead (house leads, demo data; partner uploads list in bulk through the same rules)."""
    from leads.services import lead_fields_clean

    cleaned, errors = lead_fields_clean(data)
    if errors:
        raise ValidationFailed(fields=errors)
    share = Decimal(str(revenue_share_percent if revenue_share_percent is not None else settings.PARTNER_REVENUE_SHARE_DEFAULT))
    price = Decimal(str(price)).quantize(CENT)
    if price <= 0:
        raise ValidationFailed("A listing needs a price above zero.", fields={"price": ["Must be positive."]})
    dedup = normalize.dedup_hash(cleaned["email"], cleaned["phone"])
    if erased_hashes(hashes=[dedup]):
        raise Conflict("This person asked Cursive to erase their data and cannot be listed.", code="suppressed")
    listing = Listing(
        **cleaned,
        price=price,
        quality=quality,
        partner=partner,
        revenue_share_percent=share,
        dedup_hash=dedup,
        has_phone=bool(cleaned["phone"]),
        has_linkedin=bool(cleaned["linkedin_url"]),
    )
    try:
        with transaction.atomic():
            listing.save()
    except IntegrityError as exc:
        if _violated_constraint(exc) != "listing_live_dedup_unique":
            raise
        raise Conflict("This person is already on the marketplace.", code="duplicate_listing") from exc
    return listing
