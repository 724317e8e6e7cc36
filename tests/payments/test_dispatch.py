"""payments.webhooks dispatches each Stripe event to the service that owns what was paid, by name."""

import pytest

from credits.models import CreditPurchase, StripeEvent
from marketplace.models import LeadPurchase, Listing
from marketplace.services import purchase_create
from payments.webhooks import HANDLERS, CheckoutEnd
from tests.credits.conftest import deliver as deliver_credits_event
from tests.credits.conftest import session_event as credits_session_event
from tests.marketplace.conftest import make_listing
from tests.marketplace.test_card_flow import deliver, session_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


def test_every_unpaid_ending_closes_each_product_with_its_own_status(buyer, client, pending_purchase):
    assert {end.value for end in CheckoutEnd} == {"expired", "payment_failed"}
    card = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk], payment="card")
    assert deliver(session_event(card, "checkout.session.async_payment_failed")).status_code == 200
    card.refresh_from_db()
    assert card.status == LeadPurchase.Status.FAILED and Listing.objects.get().status == Listing.Status.AVAILABLE
    deliver_credits_event(client, credits_session_event(pending_purchase, "checkout.session.async_payment_failed"))
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.FAILED


def test_a_session_of_an_unknown_kind_is_acknowledged_and_changes_nothing(client, pending_purchase):
    event = credits_session_event(pending_purchase, metadata={"kind": "gift_cards", "workspace_id": "1"})
    assert deliver_credits_event(client, event).status_code == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.PENDING and not pending_purchase.needs_review


def test_the_dispatch_is_one_table_and_credits_no_longer_takes_registrations():
    import importlib.util

    import payments.webhooks

    assert set(HANDLERS) == {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
        "charge.refunded",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
    }
    assert importlib.util.find_spec("credits.webhooks") is None
    assert not hasattr(payments.webhooks, "register_checkout_kind")
    assert not hasattr(payments.webhooks, "register_refund_handler")
