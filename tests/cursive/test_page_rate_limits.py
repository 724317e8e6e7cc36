"""Pages that do the API's work (exports, bulk actions, search counts, purchases, credit checkouts) share the
API's per-workspace, per-action-class limits."""

import json

import pytest
from django.test import override_settings

from credits.models import CreditPackage
from marketplace.services import purchase_create
from segments.services import segment_create
from tests.marketplace.conftest import fund, make_listing

pytestmark = pytest.mark.django_db


def limits(**overrides):
    return override_settings(RATE_LIMITS={"reads": 100, "writes": 100, "purchases": 100, "credit_checkouts": 100, **overrides})


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def _assert_friendly_429(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "Too many" in body and "try again in" in body


def downloaded(response):
    """Read a streamed export to its end, as a browser does: that is what gives the export's turn back."""
    if response.streaming:
        b"".join(response.streaming_content)
    return response


def test_lead_export_page_is_limited_as_reads(browser):
    with limits(reads=2):
        responses = [downloaded(browser.get("/leads/export/")) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    _assert_friendly_429(responses[-1])
    assert responses[0]["X-RateLimit-Limit"] == "2"


def test_purchase_download_page_is_limited_as_reads(browser, tenant):
    fund(tenant.workspace, 100)
    purchase = purchase_create(workspace=tenant.workspace, lead_ids=[make_listing().pk], created_by=tenant.user)
    url = f"/marketplace/purchases/{purchase.pk}/download/"
    with limits(reads=1):
        assert downloaded(browser.get(url)).status_code == 200
        _assert_friendly_429(browser.get(url))


def test_bulk_actions_page_is_limited_as_writes(browser):
    with limits(writes=1):
        assert browser.post("/leads/bulk/", {"action": "tag", "tags": "x"}).status_code == 302
        _assert_friendly_429(browser.post("/leads/bulk/", {"action": "tag", "tags": "x"}))


def test_lead_search_live_counts_answer_an_htmx_message(browser):
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-results"}
    with limits(reads=1):
        assert browser.get("/search/?industry=SaaS", **htmx).status_code == 200
        limited = browser.get("/search/?industry=SaaS&state=CA", **htmx)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    toast = json.loads(limited["HX-Trigger"])["toast"]
    assert toast["level"] == "error" and "try again in" in toast["message"]
    assert limited["HX-Reswap"] == "none"


def test_segment_preview_from_its_page_is_limited_as_writes(browser, tenant):
    segment = segment_create(workspace=tenant.workspace, name="CTOs", filters={}, created_by=tenant.user)
    with limits(writes=1):
        assert browser.post(f"/segments/{segment.pk}/run/", {"mode": "preview"}).status_code == 302
        _assert_friendly_429(browser.post(f"/segments/{segment.pk}/run/", {"mode": "preview"}))


def test_cart_checkout_is_limited_as_purchases(browser):
    with limits(purchases=1):
        assert browser.post("/marketplace/cart/checkout/").status_code == 302
        _assert_friendly_429(browser.post("/marketplace/cart/checkout/"))


def test_buying_credits_from_the_page_is_limited_as_credit_checkouts(browser):
    package = CreditPackage.objects.filter(active=True).order_by("pk").first()
    with limits(credit_checkouts=1):
        assert browser.post(f"/credits/buy/{package.pk}/").status_code == 302
        _assert_friendly_429(browser.post(f"/credits/buy/{package.pk}/"))


def test_pages_and_the_api_share_one_limit_per_workspace_and_class(browser, tenant, other_tenant, client):
    with limits(reads=2):
        assert tenant.api().get("/api/v1/leads/export").status_code == 200
        assert browser.get("/leads/export/").status_code == 200
        assert browser.get("/leads/export/").status_code == 429
        assert tenant.api().get("/api/v1/me").status_code == 429
        assert browser.post("/leads/bulk/", {"action": "tag"}).status_code == 302, "writes have their own count"
        client.logout()
        other_tenant.browser_client(client)
        assert client.get("/leads/export/").status_code == 200, "another workspace has its own count"


def test_ordinary_pages_are_not_counted(browser):
    with limits(reads=1):
        assert [browser.get("/leads/").status_code for _ in range(3)] == [200, 200, 200]
        assert browser.get("/leads/export/").status_code == 200


def test_every_classified_page_exists():
    """The table names views of other apps: a renamed URL would silently fall out of the limits."""
    from django.urls import get_resolver

    from cursive.ratelimit import PAGE_RATE_CLASSES

    resolver = get_resolver()
    names = {
        f"{namespace}:{name}"
        for namespace, (_, sub) in resolver.namespace_dict.items()
        for name in sub.reverse_dict
        if isinstance(name, str)
    }
    assert set(PAGE_RATE_CLASSES) <= names, set(PAGE_RATE_CLASSES) - names
