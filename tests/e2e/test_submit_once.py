"""Forms that charge disable their buttons while the request is in flight, so a second click sends nothing.

The browser's requests to the form's URL are caught (Playwright's routing) and answered 204 No Content, which
leaves the page exactly as it is while a request is in flight, for as long as the test needs to look at it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from marketplace.models import LeadPurchase
from segments.models import SegmentRun
from segments.services import segment_create
from tests.marketplace.conftest import fund, make_listing
from tests.segments.conftest import make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def buyer(tenant_factory, settings):
    settings.STRIPE_SECRET_KEY = ""  # the local checkout page stands in for Stripe
    buyer = tenant_factory("Buyer Co")
    fund(buyer.workspace, 100)
    return buyer


def log_in(page, base, buyer):
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(buyer.user.email)
    page.get_by_label("Password").fill(buyer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")


def submit_again(page, selector: str) -> None:
    """Send the form once more as a script would, then give the browser time to route any request."""
    page.evaluate("(selector) => document.querySelector(selector).form.requestSubmit()", selector)
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")


def catch(page, pattern: str) -> list:
    """The requests sent to `pattern`, none of which reaches the server."""
    sent = []

    def answer(route):
        sent.append(route.request)
        route.fulfill(status=204)

    page.route(pattern, answer)
    return sent


def test_the_pull_button_is_disabled_while_the_pull_is_sent(page, live_server, buyer):
    for i in range(10):
        make_person(score=90 - i)
    segment = segment_create(workspace=buyer.workspace, name="Everyone", filters={})
    base = live_server.url
    log_in(page, base, buyer)
    page.goto(f"{base}/segments/{segment.pk}/")
    page.get_by_label("People to pull").fill("5")
    sent = catch(page, "**/segments/*/run/")
    page.get_by_test_id("pull").click()
    expect(page.get_by_test_id("pull")).to_be_disabled()
    submit_again(page, "[data-testid=pull]")
    assert len(sent) == 1 and sent[0].post_data_json["limit"] == "5"
    assert not SegmentRun.objects.filter(mode="pull").exists()


def test_the_cart_buttons_are_disabled_while_paying_and_the_chosen_payment_is_sent(page, live_server, buyer):
    listing = make_listing(price="10.00")
    base = live_server.url
    log_in(page, base, buyer)
    page.goto(f"{base}/marketplace/")
    page.get_by_test_id("cart-toggle").first.click()
    expect(page.get_by_test_id("cart-toggle").first).to_contain_text("In cart")
    page.goto(f"{base}/marketplace/cart/")
    sent = catch(page, "**/cart/checkout/")
    page.get_by_role("button", name="Pay by card").click()
    expect(page.get_by_role("button", name="Pay by card")).to_be_disabled()
    expect(page.get_by_test_id("buy-with-credits")).to_be_disabled()
    submit_again(page, "button[value=card]")
    assert len(sent) == 1 and sent[0].post_data_json["payment"] == "card", "the clicked button's choice is sent"
    page.unroute("**/cart/checkout/")
    page.evaluate("() => document.querySelector('button[value=card]').form.submit()")
    expect(page).to_have_url(re.compile(r"/checkout/local/"))
    purchase = LeadPurchase.objects.get()
    assert purchase.payment == LeadPurchase.Payment.CARD and purchase.items.get().listing_id == listing.pk
