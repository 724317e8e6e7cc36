"""Bounce refunds: what a lead cost is recorded where it is bought or pulled, and a hard bounce gives it back once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Workspace
from credits.models import CreditAccount, CreditTransaction
from credits.services import credits_spend
from cursive.consistency import run_checks
from leads.models import Lead, Person
from leads.services import lead_create
from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
from marketplace.services import purchase_create, purchase_refund
from segments.services import segment_create, segment_pull
from sequences.models import BounceRefund
from sequences.refunds import bounce_refund
from tests.marketplace.conftest import fund, make_listing
from tests.marketplace.test_card_flow import deliver, session_event
from tests.segments.conftest import make_person

pytestmark = pytest.mark.django_db


def balance(workspace) -> Decimal:
    return CreditAccount.objects.get(workspace=workspace).balance


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)


@pytest.fixture
def buyer(tenant):
    fund(tenant.workspace, 100)
    return tenant


def bought(buyer, partner, *, email="alex@bounce.example", price="10.00", payment="credits") -> Lead:
    listing = make_listing(partner=partner.workspace, price=price, email=email)
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment=payment)
    return Lead.objects.get(workspace=buyer.workspace, email=email), purchase


def pulled(buyer, *, email="pat@pulled.example") -> Lead:
    make_person(email=email, email_verified=True, score=99)
    segment = segment_create(workspace=buyer.workspace, name="All", filters={})
    run = segment_pull(workspace=buyer.workspace, segment_id=segment.pk, limit=1)
    return Lead.objects.get(workspace=buyer.workspace, email=email), run


class TestWhatALeadCost:
    def test_a_marketplace_lead_records_its_price_and_purchase(self, buyer, partner):
        lead, purchase = bought(buyer, partner, price="12.50")
        assert lead.acquired_credits == Decimal("12.50")
        assert lead.acquired_reference == f"lead_purchase:{purchase.pk}"

    def test_a_pulled_lead_records_the_pull_price_and_its_run(self, buyer, settings):
        settings.SEGMENT_PULL_PRICE = Decimal("1.50")
        lead, run = pulled(buyer)
        assert lead.acquired_credits == Decimal("1.50")
        assert lead.acquired_reference == f"segment_run:{run.pk}"
        assert run.pulled == 1 and run.credits_charged == Decimal("1.50")
        assert CreditTransaction.objects.get(kind="spend", reference=run.reference).amount == Decimal("-1.50")

    def test_a_lead_typed_in_by_hand_cost_nothing(self, buyer):
        lead = lead_create(workspace=buyer.workspace, data={"email": "own@x.example"}, source="manual")
        assert lead.acquired_credits == 0 and lead.acquired_reference == ""


class TestBounceRefund:
    def test_a_bought_lead_is_refunded_once_and_the_partner_share_reversed(self, buyer, partner):
        person = make_person(email="alex@bounce.example", email_verified=True)
        lead, purchase = bought(buyer, partner)
        assert balance(buyer.workspace) == Decimal("90.00") and balance(partner.workspace) == Decimal("7.00")

        refund = bounce_refund(workspace=buyer.workspace, email="Alex@Bounce.example", source="sequence")
        again = bounce_refund(workspace=buyer.workspace, email="alex@bounce.example", source="api")

        assert again is None
        assert refund.credits == Decimal("10.00") and refund.lead_id == lead.pk
        assert balance(buyer.workspace) == Decimal("100.00")
        assert balance(partner.workspace) == Decimal("0.00")
        row = CreditTransaction.objects.get(reference=refund.reference)
        # The ledger is append-only: a reason naming the address would outlive the person's erasure.
        assert row.kind == "refund" and row.reason == f"Refund: lead #{lead.pk}'s email bounced"
        reversal = CreditTransaction.objects.get(account__workspace=partner.workspace, kind="reversal")
        assert reversal.reference == purchase.reference and reversal.amount == Decimal("-7.00")
        assert Lead.objects.get(pk=lead.pk).email_status == "invalid"
        person.refresh_from_db()
        assert not person.email_verified and not person.has_email
        assert BounceRefund.objects.count() == 1
        assert run_checks() == []

    def test_a_partner_who_spent_the_share_is_flagged(self, buyer, partner):
        lead, _ = bought(buyer, partner)
        credits_spend(workspace=partner.workspace, amount="7.00", reference="audit:0", reason="spent")
        bounce_refund(workspace=buyer.workspace, email="alex@bounce.example", source="sequence")
        account = CreditAccount.objects.get(workspace=partner.workspace)
        assert account.balance == 0 and account.needs_review
        assert f"Refund: lead #{lead.pk}'s email bounced" in account.review_note and "@" not in account.review_note
        assert balance(buyer.workspace) == Decimal("100.00")

    def test_a_card_purchase_is_refunded_in_credits(self, buyer, partner, settings):
        settings.STRIPE_SECRET_KEY = ""
        listing = make_listing(partner=partner.workspace, price="10.00", email="card@bounce.example")
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        assert deliver(session_event(purchase)).status_code == 200
        lead = Lead.objects.get(workspace=buyer.workspace, email="card@bounce.example")
        assert lead.acquired_credits == Decimal("10.00") and lead.acquired_reference == f"lead_purchase:{purchase.pk}"
        refund = bounce_refund(workspace=buyer.workspace, email="card@bounce.example", source="sequence")
        assert refund.credits == Decimal("10.00")
        assert balance(buyer.workspace) == Decimal("110.00") and balance(partner.workspace) == Decimal("0.00")
        assert run_checks() == []

    def test_a_pulled_lead_gets_the_pull_price_back_and_the_database_forgets_the_address(self, buyer, partner):
        lead, run = pulled(buyer)
        listing = make_listing(partner=partner.workspace, email="pat@pulled.example")
        refund = bounce_refund(workspace=buyer.workspace, email="pat@pulled.example", source="sequence")
        assert refund.credits == Decimal("1.00") and refund.acquired_reference == run.reference
        assert balance(buyer.workspace) == Decimal("100.00")
        assert Listing.objects.get(pk=listing.pk).status == Listing.Status.WITHDRAWN
        person = Person.objects.get(email="pat@pulled.example")
        assert not person.has_email and not person.email_verified
        assert run_checks() == []

    def test_a_lead_older_than_the_refund_window_gets_nothing(self, buyer, partner, settings):
        lead, _ = bought(buyer, partner)
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=settings.BOUNCE_REFUND_DAYS, hours=1))
        assert bounce_refund(workspace=buyer.workspace, email=lead.email, source="sequence") is None
        assert balance(buyer.workspace) == Decimal("90.00") and balance(partner.workspace) == Decimal("7.00")
        assert Lead.objects.get(pk=lead.pk).email_status == "invalid"

    def test_a_lead_typed_in_by_hand_gets_nothing_and_touches_no_listing(self, buyer, partner):
        listing = make_listing(partner=partner.workspace, email="own@x.example")
        lead = lead_create(workspace=buyer.workspace, data={"email": "own@x.example"}, source="manual")
        assert bounce_refund(workspace=buyer.workspace, email="own@x.example", source="api") is None
        assert Lead.objects.get(pk=lead.pk).email_status == "invalid"
        assert Listing.objects.get(pk=listing.pk).status == Listing.Status.AVAILABLE
        assert not CreditTransaction.objects.filter(kind="refund").exists()

    def test_another_workspace_cannot_claim_the_refund(self, buyer, partner, other_tenant):
        bought(buyer, partner)
        assert bounce_refund(workspace=other_tenant.workspace, email="alex@bounce.example", source="api") is None
        assert balance(buyer.workspace) == Decimal("90.00")
        assert Lead.objects.get(workspace=buyer.workspace).email_status != "invalid"

    def test_refunding_the_purchase_afterwards_does_not_pay_the_bounced_lead_twice(self, buyer, partner, admin_user):
        first = make_listing(partner=partner.workspace, price="10.00", email="a@bounce.example")
        second = make_listing(partner=partner.workspace, price="20.00", email="b@bounce.example")
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[first.pk, second.pk])
        assert balance(buyer.workspace) == Decimal("70.00") and balance(partner.workspace) == Decimal("21.00")
        bounce_refund(workspace=buyer.workspace, email="a@bounce.example", source="sequence")
        assert balance(buyer.workspace) == Decimal("80.00") and balance(partner.workspace) == Decimal("14.00")
        purchase_refund(purchase_id=purchase.pk, actor=admin_user, reason="bad data")
        assert balance(buyer.workspace) == Decimal("100.00") and balance(partner.workspace) == Decimal("0.00")
        assert LeadPurchase.objects.get(pk=purchase.pk).status == "refunded"
        assert run_checks() == []


def test_item_remembers_the_bounce(buyer, partner):
    lead, purchase = bought(buyer, partner)
    bounce_refund(workspace=buyer.workspace, email=lead.email, source="sequence")
    item = LeadPurchaseItem.objects.get(purchase=purchase)
    assert item.bounce_refunded_credits == Decimal("10.00") and item.partner_earning == 0
