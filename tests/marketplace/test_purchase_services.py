from decimal import Decimal

import pytest
from django.core.management import call_command

from credits.errors import InsufficientCredits
from credits.models import CreditAccount, CreditTransaction
from cursive.errors import Conflict, NotFound
from leads.models import Lead
from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
from marketplace.services import LeadUnavailable, purchase_create, purchase_refund

from .conftest import fund, make_listing

pytestmark = pytest.mark.django_db
D = Decimal


def balance(workspace):
    return CreditAccount.objects.get(workspace=workspace).balance


def test_credit_purchase_does_everything_in_one_go(buyer, partner):
    a = make_listing(partner=partner.workspace, price="10.00", phone="(415) 555-2671")
    b = make_listing(price="5.50")  # a house lead: no partner share
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[b.pk, a.pk], created_by=buyer.user)
    assert purchase.status == LeadPurchase.Status.COMPLETE and purchase.total_credits == D("15.50")
    assert balance(buyer.workspace) == D("984.50")
    assert balance(partner.workspace) == D("7.00"), "70% of 10.00"
    a.refresh_from_db()
    assert (a.status, a.buyer_id) == (Listing.Status.SOLD, buyer.workspace.pk) and a.sold_at
    leads = Lead.objects.filter(workspace=buyer.workspace).order_by("email")
    assert [lead.source for lead in leads] == ["marketplace", "marketplace"]
    assert leads.get(email=a.email).phone == "+14155552671"
    items = LeadPurchaseItem.objects.filter(purchase=purchase)
    assert all(item.is_sale and item.lead_id for item in items)
    assert CreditTransaction.objects.get(account__workspace=partner.workspace).kind == "earn"
    call_command("check_consistency")


def test_a_sold_lead_cannot_be_bought_again(buyer, tenant_factory):
    listing = make_listing()
    purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk])
    other = tenant_factory("Other")
    fund(other.workspace, 100)
    with pytest.raises(LeadUnavailable) as exc:
        purchase_create(workspace=other.workspace, lead_ids=[listing.pk])
    assert exc.value.lead_ids == [listing.pk]
    assert exc.value.as_dict()["error"]["lead_ids"] == [listing.pk]
    assert balance(other.workspace) == D("100.00")


def test_insufficient_credits_changes_nothing(tenant_factory):
    poor = tenant_factory("Poor")
    fund(poor.workspace, 3)
    listing = make_listing(price="10.00")
    with pytest.raises(InsufficientCredits) as exc:
        purchase_create(workspace=poor.workspace, lead_ids=[listing.pk])
    assert exc.value.missing == D("7.00")
    listing.refresh_from_db()
    assert listing.status == Listing.Status.AVAILABLE
    assert not LeadPurchase.objects.exists() and not Lead.objects.exists()
    assert balance(poor.workspace) == D("3.00")


def test_all_or_nothing_when_one_lead_of_a_cart_is_gone(buyer, tenant_factory):
    first, second = make_listing(), make_listing()
    rival = tenant_factory("Rival")
    fund(rival.workspace, 50)
    purchase_create(workspace=rival.workspace, lead_ids=[second.pk])
    with pytest.raises(LeadUnavailable):
        purchase_create(workspace=buyer.workspace, lead_ids=[first.pk, second.pk])
    first.refresh_from_db()
    assert first.status == Listing.Status.AVAILABLE
    assert balance(buyer.workspace) == D("1000.00")


def test_unknown_ids_are_not_found_and_own_or_owned_leads_are_refused(buyer, partner):
    with pytest.raises(NotFound):
        purchase_create(workspace=buyer.workspace, lead_ids=[999999])
    own = make_listing(partner=partner.workspace)
    fund(partner.workspace, 100)
    with pytest.raises(Conflict) as exc:
        purchase_create(workspace=partner.workspace, lead_ids=[own.pk])
    assert exc.value.code == "own_listing"
    from leads.services import lead_create

    lead_create(workspace=buyer.workspace, source=Lead.Source.MANUAL, data={"email": "dup@x.example"})
    dup = make_listing(email="dup@x.example")
    with pytest.raises(Conflict) as exc:
        purchase_create(workspace=buyer.workspace, lead_ids=[dup.pk])
    assert exc.value.code == "already_owned"


def test_staff_refund_reverses_everything_in_one_transaction(buyer, partner):
    from accounts.services import user_create
    from cursive.models import AuditEvent

    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    listing = make_listing(partner=partner.workspace, price="20.00")
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk])
    refunded = purchase_refund(purchase_id=purchase.pk, actor=staff, reason="Bounced email")
    assert refunded.status == LeadPurchase.Status.REFUNDED
    assert balance(buyer.workspace) == D("1000.00") and balance(partner.workspace) == D("0.00")
    assert not Lead.objects.filter(workspace=buyer.workspace).exists()
    listing.refresh_from_db()
    assert listing.status == Listing.Status.AVAILABLE and listing.buyer is None
    assert AuditEvent.objects.get(action="marketplace.refund").actor == staff
    assert AuditEvent.objects.get(action="marketplace.refund").reason == "Bounced email"
    refund_row = CreditTransaction.objects.get(account__workspace=buyer.workspace, kind="refund")
    assert refund_row.reason == f"Refund of purchase #{purchase.pk}", "staff's words stay in the audit log"
    call_command("check_consistency")
    # Back on the market, it can be sold again, once.
    again = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk])
    assert again.status == LeadPurchase.Status.COMPLETE
    call_command("check_consistency")


def test_refund_can_withdraw_the_leads(buyer):
    from accounts.services import user_create

    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    listing = make_listing()
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk])
    purchase_refund(purchase_id=purchase.pk, actor=staff, reason="Bad data", return_to_market=False)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.WITHDRAWN


def test_consistency_catches_a_sold_lead_without_a_sale(buyer, capsys):
    listing = make_listing()
    Listing.objects.filter(pk=listing.pk).update(status="sold", buyer=buyer.workspace, sold_at="2026-01-01T00:00:00Z")
    with pytest.raises(SystemExit):
        call_command("check_consistency")
    assert f"Lead {listing.pk} is marked sold but no completed purchase contains it" in capsys.readouterr().out


def test_a_person_is_listed_once_until_withdrawn():
    from cursive.errors import ValidationFailed

    first = make_listing(email="once@lead.example")
    with pytest.raises(Conflict) as exc:
        make_listing(email="ONCE@lead.example")
    assert exc.value.code == "duplicate_listing"
    Listing.objects.filter(pk=first.pk).update(status=Listing.Status.WITHDRAWN)
    assert make_listing(email="once@lead.example").status == Listing.Status.AVAILABLE
    with pytest.raises(ValidationFailed):
        make_listing(email="free@lead.example", price="0")
    assert Listing.objects.count() == 2


def test_a_credit_purchase_is_one_database_call(buyer, partner, django_assert_max_num_queries):
    """Locks, checks, debit, leads, items, shares, job and events: one call of the purchase's SQL function."""
    purchase_create(workspace=buyer.workspace, lead_ids=[make_listing(partner=partner.workspace).pk])  # the partner's account
    listings = [make_listing(partner=partner.workspace), make_listing()]
    with django_assert_max_num_queries(3) as captured:  # the call, inside its transaction (here a savepoint)
        purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk for listing in listings], created_by=buyer.user)
    assert [query["sql"].split()[0] for query in captured.captured_queries] == ["SAVEPOINT", "SELECT", "RELEASE"]


def test_a_bought_lead_is_scored_and_announced_as_any_new_lead(buyer, partner):
    """The purchase function scores the lead with the SQL of every re-score (the buyer's profile counts) and
    announces it with the fields of leads.services.lead_event_data."""
    from cursive.models import OutboxEvent
    from leads.scoring import score_factors, score_total
    from leads.services import ideal_customer_profile_update, lead_event_data

    profile = ideal_customer_profile_update(workspace=buyer.workspace, company_sizes=["51-200"], industries=["SaaS"])
    listing = make_listing(partner=partner.workspace)
    Listing.objects.filter(pk=listing.pk).update(email_verified=True)
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], created_by=buyer.user)
    lead = Lead.objects.get(workspace=buyer.workspace)
    assert lead.score == score_total(score_factors(lead, profile, lead.created_at)) == 60, "20 + 12 + 13 + 15"
    assert (lead.email_status, lead.acquired_credits, lead.created_by_id) == ("valid", listing.price, buyer.user.pk)
    assert lead.acquired_reference == f"lead_purchase:{purchase.pk}"
    created = OutboxEvent.objects.get(workspace=buyer.workspace, type="lead.created")
    assert created.data == lead_event_data(lead)
    completed = OutboxEvent.objects.get(workspace=buyer.workspace, type="purchase.completed")
    assert completed.data == {
        "purchase_id": purchase.reference,
        "kind": "leads",
        "lead_ids": [lead.pk],
        "leads": 1,
        "payment": "credits",
        "description": "1 marketplace lead",
    }
