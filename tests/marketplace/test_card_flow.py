import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from credits.models import CreditAccount, CreditTransaction, StripeEvent
from leads.models import Lead
from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
from marketplace.services import LeadUnavailable, purchase_create, reservations_release_expired
from tests.credits.conftest import sign

from .conftest import fund, make_listing


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def stripe_api(settings, httpserver):
    """Real Stripe calls, answered by a local Stripe-compatible server."""
    settings.STRIPE_SECRET_KEY = "sk_test_cursive"
    settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    return httpserver


def open_session(stripe_api, session_id: str) -> None:
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.test/{session_id}"}
    )


def session_event(purchase, event_type="checkout.session.completed", **fields):
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
    session.update(fields)
    return {"id": f"evt_{event_type}_{purchase.pk}", "type": event_type, "data": {"object": session}}


def deliver(event, client=None):
    payload = json.dumps(event)
    return (client or Client()).post(
        "/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )


def sold_elsewhere_while_paying(buyer, tenant_factory):
    """A card checkout whose reservation ran out, and a rival who bought its lead meanwhile."""
    listing = make_listing()
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
    LeadPurchase.objects.filter(pk=purchase.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
    reservations_release_expired()
    rival = tenant_factory("Rival")
    fund(rival.workspace, 100)
    purchase_create(workspace=rival.workspace, lead_ids=[listing.pk])
    return purchase, listing, rival


@pytest.mark.django_db
class TestCardFlow:
    def test_card_purchase_reserves_and_opens_a_checkout(self, buyer, partner):
        listing = make_listing(partner=partner.workspace, price="10.00")
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        assert purchase.status == LeadPurchase.Status.PENDING
        assert purchase.total_cents == 490 and "/checkout/local/" in purchase.checkout_url
        listing.refresh_from_db()
        assert listing.status == Listing.Status.RESERVED and listing.reserved_by_id == purchase.pk
        assert purchase.reserved_until - timezone.now() > timedelta(minutes=29)

    def test_a_reserved_lead_is_refused_to_a_credit_buyer_until_released(self, buyer, tenant_factory):
        listing = make_listing()
        card = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        rival = tenant_factory("Rival")
        fund(rival.workspace, 100)
        with pytest.raises(LeadUnavailable):
            purchase_create(workspace=rival.workspace, lead_ids=[listing.pk])
        deliver(session_event(card, "checkout.session.expired", status="expired"))
        card.refresh_from_db()
        assert card.status == LeadPurchase.Status.EXPIRED
        assert purchase_create(workspace=rival.workspace, lead_ids=[listing.pk]).status == "complete"

    def test_completion_delivers_once_over_repeated_deliveries(self, buyer, partner):
        listing = make_listing(partner=partner.workspace, price="10.00")
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        event = session_event(purchase)
        assert [deliver(event).status_code for _ in range(4)] == [200] * 4
        again = session_event(purchase, "checkout.session.async_payment_succeeded")
        assert deliver(again).status_code == 200
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.COMPLETE
        assert Lead.objects.filter(workspace=buyer.workspace).count() == 1
        assert CreditAccount.objects.get(workspace=buyer.workspace).balance == Decimal("1000.00"), "paid by card"
        assert CreditTransaction.objects.filter(kind="earn").count() == 1
        listing.refresh_from_db()
        assert listing.status == Listing.Status.SOLD and listing.reserved_by is None
        # A late expiry changes nothing.
        deliver(session_event(purchase, "checkout.session.expired", status="expired"))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.COMPLETE

    def test_the_reservation_ends_on_schedule(self, buyer):
        listing = make_listing()
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        assert reservations_release_expired() == 0
        LeadPurchase.objects.filter(pk=purchase.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
        assert reservations_release_expired() == 1
        listing.refresh_from_db()
        assert listing.status == Listing.Status.AVAILABLE and listing.reserved_by is None

    def test_payment_after_the_lead_was_sold_elsewhere_is_flagged_not_delivered(self, buyer, tenant_factory):
        purchase, listing, _rival = sold_elsewhere_while_paying(buyer, tenant_factory)
        assert deliver(session_event(purchase)).status_code == 200
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.FAILED and "Refund payment pi_leads_" in purchase.failure_reason
        assert LeadPurchaseItem.objects.filter(listing=listing, is_sale=True).count() == 1

    def test_payment_after_expiry_still_delivers_when_the_leads_are_free(self, buyer):
        listing = make_listing()
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        LeadPurchase.objects.filter(pk=purchase.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
        reservations_release_expired()
        deliver(session_event(purchase))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.COMPLETE

    def test_stripe_outage_releases_the_leads_and_answers_503(self, buyer, stripe_api):
        stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
            {"error": {"type": "api_error", "message": "Stripe is down"}}, status=500
        )
        listing = make_listing()
        response = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk], "payment": "card"}, format="json")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "payment_provider_unavailable"
        listing.refresh_from_db()
        assert listing.status == Listing.Status.AVAILABLE
        assert LeadPurchase.objects.get().status == LeadPurchase.Status.FAILED

    def test_local_checkout_page_pays_a_lead_purchase(self, client, buyer):
        from urllib.parse import urlparse

        listing = make_listing()
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        client.force_login(buyer.user)
        paid = client.post(urlparse(purchase.checkout_url).path, {"action": "pay"})
        assert paid.status_code == 302
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.COMPLETE


@pytest.mark.django_db
class TestCancellingACardPurchase:
    def test_the_buyer_cancels_and_the_leads_go_back_at_once(self, client, buyer):
        from urllib.parse import urlparse

        listing = make_listing()
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        client.force_login(buyer.user)
        detail = client.get(f"/marketplace/purchases/{purchase.pk}/").content.decode()
        assert 'data-testid="cancel-purchase"' in detail
        done = client.post(f"/marketplace/purchases/{purchase.pk}/cancel/", follow=True)
        assert "Purchase cancelled: nothing was charged" in done.content.decode()
        purchase.refresh_from_db()
        listing.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.EXPIRED and listing.status == Listing.Status.AVAILABLE
        # The checkout it left can no longer be paid.
        paid = client.post(urlparse(purchase.checkout_url).path, {"action": "pay"}, follow=True)
        assert "This checkout expired" in paid.content.decode()
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.EXPIRED
        again = client.post(f"/marketplace/purchases/{purchase.pk}/cancel/", follow=True).content.decode()
        assert "only one awaiting payment can be cancelled" in again

    def test_with_stripe_the_session_is_expired_first(self, buyer, stripe_api):
        from marketplace.services import purchase_cancel

        open_session(stripe_api, "cs_test_cancel")
        stripe_api.expect_request("/v1/checkout/sessions/cs_test_cancel/expire", method="POST").respond_with_json(
            {"id": "cs_test_cancel", "object": "checkout.session", "status": "expired"}
        )
        listing = make_listing()
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        assert purchase_cancel(workspace=buyer.workspace, purchase_id=purchase.pk).status == "expired"
        listing.refresh_from_db()
        assert listing.status == Listing.Status.AVAILABLE

    def test_a_session_already_paid_is_not_cancelled(self, buyer, stripe_api):
        from cursive.errors import Conflict
        from marketplace.services import purchase_cancel

        open_session(stripe_api, "cs_test_paid")
        stripe_api.expect_request("/v1/checkout/sessions/cs_test_paid/expire", method="POST").respond_with_json(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Only Checkout Sessions with a status of open can be expired.",
                }
            },
            status=400,
        )
        listing = make_listing()
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        with pytest.raises(Conflict) as refused:
            purchase_cancel(workspace=buyer.workspace, purchase_id=purchase.pk)
        assert refused.value.code == "already_paid"
        listing.refresh_from_db()
        assert listing.status == Listing.Status.RESERVED, "a paid checkout keeps its leads"

    def test_another_workspace_cannot_cancel_it(self, buyer, tenant_factory):
        from cursive.errors import NotFound
        from marketplace.services import purchase_cancel

        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk], payment="card")
        with pytest.raises(NotFound):
            purchase_cancel(workspace=tenant_factory("Other").workspace, purchase_id=purchase.pk)


def refund_event(purchase, amount_cents, event_id="evt_refund"):
    charge = {
        "id": f"ch_{purchase.pk}",
        "object": "charge",
        "payment_intent": f"pi_leads_{purchase.pk}",
        "amount": purchase.total_cents,
        "amount_refunded": amount_cents,
        "refunded": amount_cents > 0,
    }
    return {"id": event_id, "type": "charge.refunded", "data": {"object": charge}}


@pytest.mark.django_db
class TestCardRefunds:
    @pytest.fixture
    def paid(self, buyer, partner):
        listing = make_listing(partner=partner.workspace, price="10.00")
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        deliver(session_event(purchase))
        purchase.refresh_from_db()
        assert purchase.payment_intent_id == f"pi_leads_{purchase.pk}"
        return purchase, listing

    def test_a_full_refund_takes_the_sale_back_once(self, paid, buyer, partner):
        from django.core.management import call_command

        purchase, listing = paid
        for attempt in range(3):  # Stripe redelivers; a second refund event reports the same total
            assert deliver(refund_event(purchase, purchase.total_cents, f"evt_refund_{attempt}")).status_code == 200
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED and purchase.refunded_cents == purchase.total_cents
        assert not Lead.objects.filter(workspace=buyer.workspace).exists()
        listing.refresh_from_db()
        assert listing.status == Listing.Status.WITHDRAWN and listing.buyer is None
        assert CreditAccount.objects.get(workspace=partner.workspace).balance == Decimal("0.00")
        assert CreditTransaction.objects.filter(kind="reversal").count() == 1
        assert CreditAccount.objects.get(workspace=buyer.workspace).balance == Decimal("1000.00"), "money went back"
        call_command("check_consistency")

    def test_a_partner_who_spent_the_earning_is_flagged_and_the_sale_still_undone(self, paid, partner):
        from credits.services import credits_spend

        purchase, _listing = paid
        credits_spend(workspace=partner.workspace, amount="7.00", reference="purchase:999")
        deliver(refund_event(purchase, purchase.total_cents))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED
        account = CreditAccount.objects.get(workspace=partner.workspace)
        assert account.needs_review and "should take back 7.00 credits but the balance is 0.00" in account.review_note
        assert not CreditTransaction.objects.filter(kind="reversal").exists()

    def test_a_partial_refund_keeps_the_leads_and_asks_staff(self, paid, buyer):
        from cursive.models import AuditEvent

        purchase, listing = paid
        deliver(refund_event(purchase, 100))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.COMPLETE and purchase.refunded_cents == 100
        assert "Partial card refund of $1.00" in purchase.failure_reason
        assert AuditEvent.objects.filter(action="marketplace.partial_card_refund").count() == 1
        assert Lead.objects.filter(workspace=buyer.workspace).count() == 1
        deliver(refund_event(purchase, purchase.total_cents, "evt_refund_rest"))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED and not Lead.objects.filter(workspace=buyer.workspace)

    def test_staff_refund_card_purchases_in_stripe_not_in_credits(self, paid):
        from accounts.services import user_create
        from cursive.errors import Conflict
        from marketplace.services import purchase_refund

        purchase, _listing = paid
        staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
        with pytest.raises(Conflict) as refused:
            purchase_refund(purchase_id=purchase.pk, actor=staff, reason="Asked for it")
        assert refused.value.code == "refund_in_stripe" and purchase.payment_intent_id in refused.value.message

    def test_refunding_a_payment_that_came_too_late_closes_it(self, buyer, tenant_factory):
        purchase, listing, rival = sold_elsewhere_while_paying(buyer, tenant_factory)
        deliver(session_event(purchase))
        deliver(refund_event(purchase, purchase.total_cents))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED
        listing.refresh_from_db()
        assert listing.status == Listing.Status.SOLD and listing.buyer == rival.workspace, "the rival keeps it"

    def test_a_refund_of_an_unknown_payment_is_acknowledged(self, paid):
        purchase, _listing = paid
        event = refund_event(purchase, 500)
        event["data"]["object"]["payment_intent"] = "pi_not_ours"
        assert deliver(event).status_code == 200
        purchase.refresh_from_db()
        assert purchase.refunded_cents == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_completed_deliveries_complete_once(buyer, partner):
    listing = make_listing(partner=partner.workspace, price="10.00")
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
    events = [session_event(purchase)] * 5 + [session_event(purchase, "checkout.session.async_payment_succeeded")] * 5
    barrier, statuses, lock = threading.Barrier(len(events)), [], threading.Lock()

    def post(event):
        try:
            barrier.wait()
            code = deliver(event).status_code
            with lock:
                statuses.append(code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10
    assert LeadPurchase.objects.get().status == LeadPurchase.Status.COMPLETE
    assert Lead.objects.filter(workspace=buyer.workspace).count() == 1
    assert CreditTransaction.objects.filter(kind="earn").count() == 1
    assert StripeEvent.objects.count() == 2


@pytest.mark.django_db
def test_a_card_purchase_paid_through_stripe_fences_its_buyer_from_lagging_replicas(
    settings, buyer, partner, django_capture_on_commit_callbacks
):
    """Stripe's webhook is a request of no workspace, so the fence of a write request does not cover it: the
    delivery itself keeps the buyer's replica reads on the primary until a replica has it."""
    settings.DATABASE_REPLICAS = ["replica1"]
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing(partner=partner.workspace).pk], payment="card")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(session_event(purchase)).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT workspace_id FROM cursive_replica_fence")
        assert [row[0] for row in cursor.fetchall()] == [buyer.workspace.pk]
