"""Stripe does not promise the order of its events, and retries a failed delivery for days: a refund issued
while the payment's own event was still failing (during an outage, say) can arrive before it. Whatever the
order, and however often each event arrives, a refunded payment delivers nothing and grants nothing."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Workspace
from accounts.services import user_create
from analytics.monitoring import monitoring_snapshot
from credits.models import CreditAccount, CreditPackage, CreditPurchase, CreditTransaction, StripeEvent
from credits.services import credit_checkout_create
from cursive.consistency import run_checks
from cursive.models import AuditEvent, Job
from leads.models import Lead
from marketplace.models import LeadPurchase, Listing
from marketplace.services import purchase_create
from tests.credits.conftest import session_event as credit_session_event
from tests.marketplace.conftest import make_listing
from tests.marketplace.test_card_flow import deliver, session_event


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def buyer(tenant_factory):
    return tenant_factory("Buyer Co")


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)


def refund_event(purchase, intent, amount_cents=None, event_id=None):
    total = purchase.total_cents if isinstance(purchase, LeadPurchase) else purchase.price_cents
    amount = total if amount_cents is None else amount_cents
    charge = {
        "id": f"ch_{purchase.pk}",
        "object": "charge",
        "amount": total,
        "amount_refunded": amount,
        "currency": "usd",
        "payment_intent": intent,
        "refunded": amount > 0,
    }
    return {"id": event_id or f"evt_refund_{intent}_{amount}", "type": "charge.refunded", "data": {"object": charge}}


def balance(workspace) -> Decimal:
    account = CreditAccount.objects.filter(workspace=workspace).first()
    return account.balance if account else Decimal("0.00")


def assert_consistent():
    assert run_checks() == []


@pytest.fixture
def card(buyer, partner):
    """A card purchase of a partner's lead, its payment event and its payment intent."""
    listing = make_listing(partner=partner.workspace)
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
    paid = session_event(purchase)
    return purchase, listing, paid, paid["data"]["object"]["payment_intent"]


@pytest.fixture
def package(buyer):
    """A credit package bought by card, its payment event and its payment intent."""
    growth = CreditPackage.objects.get(label="Growth")
    purchase = credit_checkout_create(workspace=buyer.workspace, package_id=growth.pk, created_by=buyer.user)
    paid = credit_session_event(purchase)
    return purchase, paid, paid["data"]["object"]["payment_intent"]


def assert_lead_purchase_refunded_undelivered(purchase, listing, buyer, partner):
    purchase.refresh_from_db()
    listing.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.REFUNDED and purchase.completed_at is None
    assert purchase.refunded_cents == purchase.total_cents == purchase.paid_cents
    # The buyer never saw the data: the lead goes back on the market rather than being withdrawn.
    assert listing.status == Listing.Status.AVAILABLE and listing.reserved_by is None and listing.buyer is None
    assert not Lead.objects.filter(workspace=buyer.workspace).exists()
    assert not CreditTransaction.objects.filter(account__workspace=partner.workspace).exists(), "partner paid"
    assert not purchase.items.filter(is_sale=True).exists()
    assert not Job.objects.filter(func="marketplace.tasks.send_purchase_confirmation").exists()


@pytest.mark.django_db
class TestRefundBeforePayment:
    def test_a_refund_that_arrives_before_its_payment_still_takes_the_sale_back(self, card, buyer, partner):
        purchase, listing, paid, intent = card
        client = Client()

        response = deliver(refund_event(purchase, intent), client)
        assert response.status_code == 200 and response.json()["status"] == StripeEvent.Status.WAITING
        assert deliver(paid, client).status_code == 200

        assert_lead_purchase_refunded_undelivered(purchase, listing, buyer, partner)
        refund = StripeEvent.objects.get(type="charge.refunded")
        assert refund.status == StripeEvent.Status.PROCESSED and refund.waiting_for == ""
        assert AuditEvent.objects.filter(action="marketplace.refunded_before_payment").count() == 1
        assert_consistent()

    def test_a_refund_that_arrives_before_its_credit_payment_takes_the_credits_back(self, package, buyer):
        purchase, paid, intent = package
        client = Client()

        assert deliver(refund_event(purchase, intent), client).json()["status"] == StripeEvent.Status.WAITING
        assert deliver(paid, client).status_code == 200

        purchase.refresh_from_db()
        assert purchase.status == CreditPurchase.Status.REFUNDED and purchase.completed_at is None
        assert purchase.refunded_cents == purchase.price_cents == purchase.paid_cents
        assert purchase.payment_intent_id == intent
        assert balance(buyer.workspace) == 0 and not CreditTransaction.objects.exists()
        assert not Job.objects.filter(func="credits.tasks.send_credit_receipt").exists()
        assert StripeEvent.objects.get(type="charge.refunded").status == StripeEvent.Status.PROCESSED
        assert_consistent()

    def test_each_event_delivered_twice_in_either_order(self, card, package, buyer, partner):
        purchase, listing, paid, intent = card
        credit_purchase, credit_paid, credit_intent = package
        client = Client()
        for event in [refund_event(purchase, intent), refund_event(credit_purchase, credit_intent)] * 2:
            assert deliver(event, client).status_code == 200
        for event in [paid, credit_paid] * 2:
            assert deliver(event, client).status_code == 200
        for event in [refund_event(purchase, intent), refund_event(credit_purchase, credit_intent)]:
            assert deliver(event, client).status_code == 200

        assert_lead_purchase_refunded_undelivered(purchase, listing, buyer, partner)
        credit_purchase.refresh_from_db()
        assert credit_purchase.status == CreditPurchase.Status.REFUNDED and balance(buyer.workspace) == 0
        assert set(StripeEvent.objects.values_list("status", flat=True)) == {StripeEvent.Status.PROCESSED}
        assert_consistent()

    def test_a_partial_refund_before_the_payment_delivers_and_is_recorded_for_staff(self, card, buyer):
        purchase, listing, paid, intent = card
        deliver(refund_event(purchase, intent, amount_cents=100))
        deliver(paid)

        purchase.refresh_from_db()
        listing.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.COMPLETE and purchase.refunded_cents == 100
        assert listing.status == Listing.Status.SOLD and Lead.objects.filter(workspace=buyer.workspace).count() == 1
        assert "Partial card refund of $1.00" in purchase.failure_reason
        assert AuditEvent.objects.filter(action="marketplace.partial_card_refund").count() == 1
        # The rest of the refund, later, takes the sale back as it always did.
        deliver(refund_event(purchase, intent))
        purchase.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED
        assert_consistent()

    def test_a_partial_refund_before_a_credit_payment_grants_only_what_was_kept(self, package, buyer):
        purchase, paid, intent = package
        deliver(refund_event(purchase, intent, amount_cents=purchase.price_cents // 2))
        deliver(paid)

        purchase.refresh_from_db()
        assert purchase.status == CreditPurchase.Status.COMPLETE
        assert purchase.refunded_cents == purchase.price_cents // 2
        assert balance(buyer.workspace) == purchase.credits / 2
        assert_consistent()

    def test_a_payment_that_came_too_late_and_was_refunded_meanwhile_is_closed(self, buyer, tenant_factory):
        from tests.marketplace.test_card_flow import sold_elsewhere_while_paying

        purchase, listing, rival = sold_elsewhere_while_paying(buyer, tenant_factory)
        intent = session_event(purchase)["data"]["object"]["payment_intent"]
        deliver(refund_event(purchase, intent))
        deliver(session_event(purchase))

        purchase.refresh_from_db()
        listing.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED and not purchase.needs_review
        assert listing.status == Listing.Status.SOLD and listing.buyer == rival.workspace, "the rival keeps it"
        assert_consistent()


@pytest.mark.django_db
class TestPaymentThenRefund:
    """The usual order works as it did: the sale is taken back, the credits reversed."""

    def test_a_delivered_sale_refunded_later_is_taken_back_and_withdrawn(self, card, buyer, partner):
        purchase, listing, paid, intent = card
        for event in (paid, paid, refund_event(purchase, intent), refund_event(purchase, intent)):
            assert deliver(event).status_code == 200
        purchase.refresh_from_db()
        listing.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED and purchase.completed_at is not None
        assert listing.status == Listing.Status.WITHDRAWN, "the buyer saw the data"
        assert balance(partner.workspace) == 0
        assert CreditTransaction.objects.filter(kind=CreditTransaction.Kind.REVERSAL).count() == 1
        assert not Lead.objects.filter(workspace=buyer.workspace).exists()
        assert not StripeEvent.objects.exclude(status=StripeEvent.Status.PROCESSED).exists()
        assert_consistent()

    def test_credits_granted_then_refunded_are_reversed(self, package, buyer):
        purchase, paid, intent = package
        for event in (paid, paid, refund_event(purchase, intent), refund_event(purchase, intent)):
            assert deliver(event).status_code == 200
        purchase.refresh_from_db()
        assert purchase.status == CreditPurchase.Status.REFUNDED and purchase.completed_at is not None
        assert balance(buyer.workspace) == 0
        assert list(CreditTransaction.objects.order_by("pk").values_list("kind", flat=True)) == ["purchase", "reversal"]
        assert_consistent()


@pytest.mark.django_db
class TestUnmatchedRefunds:
    @pytest.fixture
    def staff_client(self):
        staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
        staff.is_superuser = True
        staff.save(update_fields=["is_superuser"])
        client = Client()
        client.force_login(staff)
        return client

    def test_a_refund_of_no_cursive_payment_waits_and_is_shown_to_staff_after_days(self, card, staff_client):
        purchase, _listing, _paid, _intent = card
        response = deliver(refund_event(purchase, "pi_of_another_product", event_id="evt_refund_elsewhere"))
        assert response.status_code == 200
        event = StripeEvent.objects.get(event_id="evt_refund_elsewhere")
        assert event.status == StripeEvent.Status.WAITING and event.waiting_for == "pi_of_another_product"
        purchase.refresh_from_db()
        assert purchase.refunded_cents == 0 and purchase.status == LeadPurchase.Status.PENDING
        assert monitoring_snapshot()["refunds_waiting_too_long"] == 0

        StripeEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=3, minutes=1))
        assert monitoring_snapshot()["refunds_waiting_too_long"] == 1
        page = staff_client.get("/admin/monitoring/").content.decode()
        assert 'data-testid="refunds-waiting">1<' in page
        listed = staff_client.get("/admin/credits/stripeevent/", {"waiting": "too_long"}).content.decode()
        assert "evt_refund_elsewhere" in listed
        assert staff_client.get("/admin/credits/stripeevent/", {"waiting": "all"}).status_code == 200
        assert_consistent()

    @pytest.mark.parametrize("intent", ["pi_" + "x" * 300, 42, {"id": "pi_1"}])
    def test_a_refund_naming_no_payment_intent_a_purchase_could_hold_does_not_wait(self, card, intent):
        purchase, _listing, _paid, _real_intent = card
        assert deliver(refund_event(purchase, intent, amount_cents=100, event_id="evt_odd")).status_code == 200
        event = StripeEvent.objects.get(event_id="evt_odd")
        assert event.status == StripeEvent.Status.PROCESSED and event.waiting_for == ""

    def test_staff_reprocess_is_safe_in_every_state(self, card, package, buyer, partner, staff_client):
        purchase, listing, paid, intent = card
        credit_purchase, credit_paid, credit_intent = package
        deliver(refund_event(purchase, "pi_unknown", event_id="evt_refund_unknown"))
        for event in (refund_event(purchase, intent), paid, refund_event(credit_purchase, credit_intent), credit_paid):
            deliver(event)

        # Staff select every event, twice: nothing is delivered, granted or refunded again.
        for _ in range(2):
            response = staff_client.post(
                "/admin/credits/stripeevent/",
                {"action": "reprocess", "_selected_action": list(StripeEvent.objects.values_list("pk", flat=True))},
            )
            assert response.status_code == 302
        assert_lead_purchase_refunded_undelivered(purchase, listing, buyer, partner)
        assert balance(buyer.workspace) == 0 and not CreditTransaction.objects.exists()
        assert StripeEvent.objects.get(event_id="evt_refund_unknown").status == StripeEvent.Status.WAITING
        assert StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED).count() == 4
        assert_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_refund_racing_its_payment_is_never_lost(buyer, partner):
    """Each pair delivered at the same moment from two connections: whichever commits first, the other sees it."""
    rounds = []
    for _ in range(4):
        listing = make_listing(partner=partner.workspace)
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        paid = session_event(purchase)
        rounds.append((purchase, listing, [paid, refund_event(purchase, paid["data"]["object"]["payment_intent"])]))

    for purchase, listing, events in rounds:
        barrier, statuses = threading.Barrier(len(events)), []

        def send(event, barrier=barrier, statuses=statuses):
            try:
                barrier.wait()
                statuses.append(deliver(event).status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=send, args=(event,)) for event in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200, 200]
        purchase.refresh_from_db()
        listing.refresh_from_db()
        assert purchase.status == LeadPurchase.Status.REFUNDED
        assert listing.status in (Listing.Status.AVAILABLE, Listing.Status.WITHDRAWN)
    assert not StripeEvent.objects.exclude(status=StripeEvent.Status.PROCESSED).exists()
    assert balance(partner.workspace) == 0 and not Lead.objects.filter(workspace=buyer.workspace).exists()
    assert_consistent()
