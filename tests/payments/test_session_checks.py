"""A signed completed Checkout Session pays only for the purchase it was opened for (issue 10, hole 4).

Session id, amount, currency and workspace are checked against what was created; a mismatch is recorded
on the purchase for staff and neither credits nor leads are given."""

import pytest
from django.test import Client

from accounts.services import user_create
from credits.models import CreditAccount, CreditPurchase, CreditTransaction
from cursive.consistency import run_checks
from cursive.models import AuditEvent
from leads.models import Lead
from marketplace.models import LeadPurchase, Listing
from marketplace.services import purchase_create
from tests.credits.conftest import deliver as deliver_credits_event
from tests.credits.conftest import session_event as credits_session_event
from tests.marketplace.conftest import make_listing
from tests.marketplace.test_card_flow import deliver as deliver_leads_event
from tests.marketplace.test_card_flow import session_event as leads_session_event

pytestmark = pytest.mark.django_db

MISMATCHES = {
    "another session": ({"id": "cs_test_someone_elses"}, "is not the one opened for it"),
    "nothing paid": ({"amount_total": 0}, "amount_total 0"),
    "one cent": ({"amount_total": 1}, "amount_total 1"),
    "another currency": ({"currency": "eur"}, "currency 'eur'"),
    "another workspace": ({"metadata": {"workspace_id": "OTHER"}}, "workspace"),
}


def mismatching(fields: dict, *, kind: str, other_workspace_id: int) -> dict:
    if "metadata" in fields:
        return {"metadata": {"kind": kind, "workspace_id": str(other_workspace_id)}}
    return fields


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


def staff_client() -> Client:
    from accounts.models import User

    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    User.objects.filter(pk=staff.pk).update(is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize("case", MISMATCHES)
def test_a_credit_purchase_is_not_credited_by_a_session_that_does_not_match(client, tenant, other_tenant, pending_purchase, case):
    fields, reason = MISMATCHES[case]
    fields = mismatching(fields, kind="credits", other_workspace_id=other_tenant.workspace.pk)
    event = credits_session_event(pending_purchase, event_id="evt_forged", **fields)
    assert deliver_credits_event(client, event).status_code == 200, "answered, so Stripe does not retry forever"
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.PENDING and pending_purchase.completed_at is None
    assert pending_purchase.needs_review and reason in pending_purchase.review_note
    assert not CreditTransaction.objects.exists()
    assert AuditEvent.objects.filter(action="credits.payment_mismatch", target=pending_purchase.reference).exists()
    # The buyer's genuine payment of the real session still goes through.
    assert deliver_credits_event(client, credits_session_event(pending_purchase, event_id="evt_real")).status_code == 200
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.COMPLETE
    assert pending_purchase.paid_cents == pending_purchase.price_cents == 19900
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == 500


def test_staff_see_credit_purchases_that_need_review(client, pending_purchase):
    deliver_credits_event(client, credits_session_event(pending_purchase, amount_total=1))
    staff = staff_client()
    flagged = staff.get("/admin/credits/creditpurchase/?needs_review__exact=1").content.decode()
    assert f"/admin/credits/creditpurchase/{pending_purchase.pk}/" in flagged
    assert (
        f"/admin/credits/creditpurchase/{pending_purchase.pk}/"
        not in staff.get("/admin/credits/creditpurchase/?needs_review__exact=0").content.decode()
    )
    monitoring = staff.get("/admin/monitoring/").content.decode()
    assert 'data-testid="purchases-to-review">1<' in monitoring


@pytest.fixture
def card_purchase(buyer):
    return purchase_create(workspace=buyer.workspace, lead_ids=[make_listing(price="10.00").pk], payment="card")


@pytest.mark.parametrize("case", MISMATCHES)
def test_a_card_purchase_of_leads_is_not_delivered_by_a_session_that_does_not_match(buyer, other_tenant, card_purchase, case):
    fields, reason = MISMATCHES[case]
    fields = mismatching(fields, kind="leads", other_workspace_id=other_tenant.workspace.pk)
    forged = leads_session_event(card_purchase, **fields)
    forged["id"] = "evt_forged"
    assert deliver_leads_event(forged).status_code == 200
    card_purchase.refresh_from_db()
    assert card_purchase.status == LeadPurchase.Status.PENDING and card_purchase.completed_at is None
    assert card_purchase.needs_review and reason in card_purchase.review_note
    assert not Lead.objects.filter(workspace=buyer.workspace).exists()
    listing = Listing.objects.get()
    assert listing.status == Listing.Status.RESERVED and listing.reserved_by_id == card_purchase.pk
    assert AuditEvent.objects.filter(action="marketplace.payment_mismatch", target=card_purchase.reference).exists()
    assert deliver_leads_event(leads_session_event(card_purchase)).status_code == 200
    card_purchase.refresh_from_db()
    assert card_purchase.status == LeadPurchase.Status.COMPLETE and card_purchase.paid_cents == 490
    assert Lead.objects.filter(workspace=buyer.workspace).count() == 1


def test_staff_see_lead_purchases_that_need_review(card_purchase):
    deliver_leads_event(leads_session_event(card_purchase, amount_total=0))
    staff = staff_client()
    flagged = staff.get("/admin/marketplace/leadpurchase/?needs_review__exact=1").content.decode()
    assert f"/admin/marketplace/leadpurchase/{card_purchase.pk}/" in flagged
    assert 'data-testid="purchases-to-review">1<' in staff.get("/admin/monitoring/").content.decode()


def test_an_expiry_of_another_session_does_not_release_the_purchase(card_purchase, client, pending_purchase):
    deliver_leads_event(leads_session_event(card_purchase, "checkout.session.expired", id="cs_test_other"))
    card_purchase.refresh_from_db()
    assert card_purchase.status == LeadPurchase.Status.PENDING
    deliver_credits_event(client, credits_session_event(pending_purchase, "checkout.session.expired", id="cs_test_other"))
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.PENDING


def findings(check: str) -> list[str]:
    return [finding for name, finding in run_checks() if name == check]


def test_check_consistency_flags_a_completed_purchase_paid_less_than_its_price(client, card_purchase, pending_purchase):
    deliver_credits_event(client, credits_session_event(pending_purchase))
    deliver_leads_event(leads_session_event(card_purchase))
    assert findings("completed credit purchases were paid their price") == []
    assert findings("card purchases were paid their price") == []
    # As the webhook completed them before it checked amounts: paid 1 cent, or nobody knows how much.
    CreditPurchase.objects.filter(pk=pending_purchase.pk).update(paid_cents=1)
    LeadPurchase.objects.filter(pk=card_purchase.pk).update(paid_cents=None)
    assert findings("completed credit purchases were paid their price") == [
        f"Credit purchase #{pending_purchase.pk} is complete but was paid 1 cents for a price of 19900 cents."
    ]
    assert findings("card purchases were paid their price") == [
        f"Card purchase #{card_purchase.pk} is complete but its paid amount is unknown (price 490 cents)."
    ]


def test_staff_mark_a_flagged_purchase_reviewed_with_an_audit_row(client, pending_purchase, card_purchase):
    deliver_credits_event(client, credits_session_event(pending_purchase, amount_total=1))
    deliver_leads_event(leads_session_event(card_purchase, currency="eur"))
    staff = staff_client()
    for path, purchase in (
        ("/admin/credits/creditpurchase/", pending_purchase),
        ("/admin/marketplace/leadpurchase/", card_purchase),
    ):
        done = staff.post(path, {"action": "mark_reviewed", "_selected_action": [purchase.pk]}, follow=True)
        assert "1 purchase(s) marked as reviewed" in done.content.decode()
        purchase.refresh_from_db()
        assert not purchase.needs_review and "was not" in purchase.review_note
    assert AuditEvent.objects.filter(action__endswith="purchase_reviewed").count() == 2
    assert 'data-testid="purchases-to-review">0<' in staff.get("/admin/monitoring/").content.decode()


def test_the_migration_fills_in_what_recorded_events_say_was_paid(client, pending_purchase, card_purchase):
    """Purchases completed before amounts were stored get theirs from the recorded Stripe events."""
    import importlib

    from django.apps import apps

    deliver_credits_event(client, credits_session_event(pending_purchase))
    deliver_leads_event(leads_session_event(card_purchase))
    CreditPurchase.objects.update(paid_cents=None)
    LeadPurchase.objects.update(paid_cents=None)
    importlib.import_module("credits.migrations.0004_purchase_paid_amount_and_review").backfill_paid_cents(apps, None)
    importlib.import_module("marketplace.migrations.0003_purchase_paid_amount_and_review").backfill_paid_cents(apps, None)
    assert CreditPurchase.objects.get().paid_cents == 19900 and LeadPurchase.objects.get().paid_cents == 490
    assert findings("completed credit purchases were paid their price") == []
    assert findings("card purchases were paid their price") == []
