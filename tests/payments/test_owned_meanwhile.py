"""A card purchase paid for a person the buyer obtained during the reservation (issue 10, hole 5).

Completion delivers what it can, flags the rest for a card refund (card money goes back to the card, as
every card refund in Cursive does) and never fails, however often Stripe delivers the event."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from credits.models import CreditAccount, StripeEvent
from cursive.consistency import run_checks
from leads.models import Lead
from leads.services import lead_create
from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
from marketplace.services import purchase_create, reservations_release_expired
from segments.services import segment_create, segment_pull
from tests.marketplace.conftest import make_listing
from tests.marketplace.test_card_flow import deliver, session_event
from tests.segments.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


def owns(workspace, listing) -> int:
    return Lead.objects.filter(workspace=workspace, dedup_hash=listing.dedup_hash).count()


def test_a_person_pulled_from_a_segment_during_the_reservation_is_not_delivered_twice(buyer, partner):
    person = make_person(industry="Fintech")
    pulled_meanwhile = make_listing(partner=partner.workspace, price="10.00", email=person.email, industry="Fintech")
    still_new = make_listing(partner=partner.workspace, price="20.00")
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[pulled_meanwhile.pk, still_new.pk], payment="card")
    segment = segment_create(workspace=buyer.workspace, name="Fintech", filters={"industry": ["Fintech"]})
    assert segment_pull(workspace=buyer.workspace, segment_id=segment.pk, limit=10).pulled == 1
    event = session_event(purchase)
    assert [deliver(event).status_code, deliver(event).status_code] == [200, 200]
    assert StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.COMPLETE and purchase.paid_cents == purchase.total_cents == 1470
    assert owns(buyer.workspace, pulled_meanwhile) == 1 and owns(buyer.workspace, still_new) == 1
    assert purchase.needs_review and f"{pulled_meanwhile.pk}" in purchase.review_note
    assert "refund $4.90" in purchase.review_note
    pulled_meanwhile.refresh_from_db()
    still_new.refresh_from_db()
    assert pulled_meanwhile.status == Listing.Status.AVAILABLE and pulled_meanwhile.reserved_by is None
    assert still_new.status == Listing.Status.SOLD and still_new.buyer == buyer.workspace
    sold = LeadPurchaseItem.objects.get(purchase=purchase, is_sale=True)
    assert sold.listing_id == still_new.pk
    assert CreditAccount.objects.get(workspace=partner.workspace).balance == Decimal("14.00"), "paid for one sale"
    assert run_checks() == []


def test_a_person_added_by_hand_during_the_reservation_fails_nothing_in_a_loop(buyer):
    listing = make_listing(price="10.00")
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
    lead_create(
        workspace=buyer.workspace,
        source=Lead.Source.MANUAL,
        data={"email": listing.email, "first_name": "Typed", "last_name": "In"},
    )
    event = session_event(purchase)
    assert [deliver(event).status_code, deliver(event).status_code] == [200, 200]
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.FAILED and purchase.paid_cents == 490
    assert purchase.needs_review and "refund $4.90" in purchase.review_note
    assert owns(buyer.workspace, listing) == 1
    listing.refresh_from_db()
    assert listing.status == Listing.Status.AVAILABLE
    # The sweeper has nothing to expire, and Stripe's refund closes the flag.
    LeadPurchase.objects.filter(pk=purchase.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))
    assert reservations_release_expired() == 0
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.FAILED
    assert run_checks() == []


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_never_expires_a_purchase_whose_payment_is_recorded(buyer, settings):
    """A paid event that could not be processed yet (a lock held too long, say) keeps the leads reserved
    past the reservation: Stripe's retry, or staff's Reprocess, delivers them."""
    import psycopg
    from django.test import Client

    from tests.servers import test_database_url

    listing = make_listing(price="10.00")
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
    settings.STRIPE_WEBHOOK_LOCK_TIMEOUT_MS = 100
    event = session_event(purchase)
    with psycopg.connect(test_database_url()) as blocker:
        blocker.execute("SELECT 1 FROM marketplace_listing WHERE id = %s FOR UPDATE", [listing.pk])
        assert deliver(event, Client()).status_code == 500
    LeadPurchase.objects.filter(pk=purchase.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))
    assert reservations_release_expired() == 0
    listing.refresh_from_db()
    assert listing.status == Listing.Status.RESERVED
    assert deliver(event).status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.COMPLETE and owns(buyer.workspace, listing) == 1
