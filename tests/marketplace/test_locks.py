"""Purchase services lock the purchase row, never the buyer's workspace that every insert refers to, and
lock it FOR NO KEY UPDATE so rows that refer to the purchase can still be written meanwhile."""

import json

import pytest
import stripe
from django.conf import settings
from django.test import Client

from marketplace.models import LeadPurchase
from marketplace.services import purchase_create, purchase_refund, reservations_release_expired
from tests.locking import Paused, key_share_waits

from .conftest import make_listing

pytestmark = pytest.mark.django_db(transaction=True)

PURCHASE_LOCK = r'FROM "marketplace_leadpurchase".* FOR (NO KEY )?UPDATE'


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


def deliver(event_type: str, obj: dict, event_id: str):
    payload = json.dumps({"id": event_id, "type": event_type, "data": {"object": obj}})
    signature = stripe.WebhookSignature.generate_signature_header(payload, settings.STRIPE_WEBHOOK_SECRET)
    response = Client().post("/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    return response


def paid(purchase: LeadPurchase):
    session = {
        "id": purchase.checkout_session_id,
        "object": "checkout.session",
        "client_reference_id": str(purchase.pk),
        "amount_total": purchase.total_cents,
        "currency": "usd",
        "metadata": {"kind": "leads", "workspace_id": str(purchase.workspace_id)},
        "payment_status": "paid",
        "payment_intent": f"pi_leads_{purchase.pk}",
        "status": "complete",
    }
    return deliver("checkout.session.completed", session, f"evt_paid_{purchase.pk}")


def assert_only_the_purchase_is_locked(purchase: LeadPurchase):
    assert not key_share_waits("accounts_workspace", purchase.workspace_id), "the buyer's workspace is locked"
    assert not key_share_waits("marketplace_leadpurchase", purchase.pk), "the purchase is locked FOR UPDATE"


def test_completing_a_card_purchase_locks_only_the_purchase(buyer):
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk], payment="card")
    with Paused(lambda: paid(purchase), PURCHASE_LOCK):
        assert_only_the_purchase_is_locked(purchase)
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.COMPLETE


def test_a_card_refund_locks_only_the_purchase(buyer):
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk], payment="card")
    paid(purchase)
    charge = {
        "id": f"ch_{purchase.pk}",
        "object": "charge",
        "payment_intent": f"pi_leads_{purchase.pk}",
        "amount": purchase.total_cents,
        "amount_refunded": purchase.total_cents,
        "refunded": True,
    }
    with Paused(lambda: deliver("charge.refunded", charge, "evt_refund"), PURCHASE_LOCK):
        assert_only_the_purchase_is_locked(purchase)
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.REFUNDED


def test_a_staff_refund_locks_only_the_purchase(buyer):
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk])
    with Paused(lambda: purchase_refund(purchase_id=purchase.pk, actor=buyer.user, reason="bad data"), PURCHASE_LOCK):
        assert_only_the_purchase_is_locked(purchase)
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.REFUNDED


def test_releasing_a_reservation_locks_only_the_purchase(buyer):
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk], payment="card")
    LeadPurchase.objects.filter(pk=purchase.pk).update(reserved_until=purchase.created_at)
    with Paused(reservations_release_expired, PURCHASE_LOCK):
        assert_only_the_purchase_is_locked(purchase)
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.EXPIRED
