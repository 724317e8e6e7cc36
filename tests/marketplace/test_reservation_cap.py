"""A workspace can hold only so many leads in unpaid card checkouts, so one buyer cannot take most of the
marketplace off sale for half an hour."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.models import LeadPurchase, Listing
from marketplace.services import purchase_cancel, purchase_create

from .conftest import make_listing

CAP = 4


@pytest.fixture(autouse=True)
def _cap(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.MARKETPLACE_MAX_RESERVED_LEADS = CAP


def card(api, listings):
    return api.post("/api/v1/marketplace/purchases", {"lead_ids": [lst.pk for lst in listings], "payment": "card"}, format="json")


@pytest.mark.django_db
class TestReservationCap:
    def test_a_checkout_past_the_cap_is_refused_and_reserves_nothing(self, buyer):
        api = buyer.api()
        first = card(api, [make_listing() for _ in range(3)])
        assert first.status_code == 201
        more = [make_listing() for _ in range(2)]
        refused = card(api, more)
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "reservation_limit"
        assert "3 leads" in error["message"] and "at most 4" in error["message"]
        assert "Pay or cancel a pending checkout" in error["message"]
        assert error["reserved"] == 3 and error["limit"] == CAP
        assert LeadPurchase.objects.count() == 1
        assert set(Listing.objects.filter(pk__in=[m.pk for m in more]).values_list("status", flat=True)) == {"available"}
        assert card(api, more[:1]).status_code == 201, "up to the cap is fine"

    def test_one_checkout_larger_than_the_cap_is_refused(self, buyer):
        refused = card(buyer.api(), [make_listing() for _ in range(CAP + 1)])
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "reservation_limit"
        assert not Listing.objects.exclude(status="available").exists()

    def test_cancelling_or_an_ended_reservation_frees_room(self, buyer):
        held = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk for _ in range(CAP)], payment="card")
        assert card(buyer.api(), [make_listing()]).status_code == 409
        purchase_cancel(workspace=buyer.workspace, purchase_id=held.pk)
        again = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk for _ in range(CAP)], payment="card")
        LeadPurchase.objects.filter(pk=again.pk).update(reserved_until=timezone.now())
        assert card(buyer.api(), [make_listing()]).status_code == 201, "a reservation past its end holds nothing"

    def test_the_cap_is_per_workspace_and_only_for_card_checkouts(self, buyer, tenant_factory):
        purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk for _ in range(CAP)], payment="card")
        paid = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [make_listing().pk]}, format="json")
        assert paid.status_code == 201 and paid.json()["status"] == "complete"
        other = tenant_factory("Other Buyer")
        assert card(other.api(), [make_listing() for _ in range(CAP)]).status_code == 201

    def test_the_cart_page_says_why(self, client, buyer):
        purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk for _ in range(CAP)], payment="card")
        client.force_login(buyer.user)
        client.post("/marketplace/cart/toggle/", {"listing": make_listing().pk})
        page = client.post("/marketplace/cart/checkout/", {"payment": "card"}, follow=True, HTTP_REFERER="/marketplace/cart/")
        assert page.redirect_chain[-1][0] == "/marketplace/cart/"
        assert "You hold 4 leads in unpaid card checkouts" in page.content.decode()
        assert LeadPurchase.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_cannot_together_pass_the_cap(buyer):
    carts = [[make_listing().pk, make_listing().pk] for _ in range(6)]
    barrier, outcomes, lock = threading.Barrier(len(carts)), [], threading.Lock()

    def checkout(lead_ids):
        try:
            barrier.wait()
            try:
                purchase_create(workspace=buyer.workspace, lead_ids=lead_ids, payment="card")
                outcome = "ok"
            except Exception as exc:
                outcome = getattr(exc, "code", repr(exc))
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout, args=(ids,)) for ids in carts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(outcomes) == {"ok": CAP // 2, "reservation_limit": len(carts) - CAP // 2}
    assert Listing.objects.filter(status="reserved", reserved_by__workspace=buyer.workspace).count() == CAP
