"""Hole 10: input no page or endpoint can store or parse answers 4xx in the product's shape, never 500."""

import json

import pytest

from accounts.models import Workspace
from partners.models import PartnerProfile
from segments.models import Segment
from segments.services import segment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def _error(response) -> dict:
    return response.json()["error"]


# --- NUL characters: PostgreSQL refuses them in text, so no input may carry one -----------------------------


def test_a_nul_in_a_saved_search_name_is_refused_and_nothing_is_saved(browser):
    # Sent back to the segment list rather than the search page, which would cache this test's empty facets.
    response = browser.post(
        "/search/save/", {"name": "Texas\x00 VPs", "filters": "{}"}, HTTP_REFERER="http://testserver/segments/"
    )
    assert response.status_code == 302 and response.url == "http://testserver/segments/"
    assert "NUL" in browser.get(response.url).content.decode()
    assert not Segment.objects.exists()


def test_a_nul_in_a_segment_autosave_is_refused_as_a_toast(browser, tenant):
    segment = segment_create(workspace=tenant.workspace, name="Texas", filters={}, created_by=tenant.user)
    response = browser.post(
        f"/segments/{segment.pk}/autosave/", {"name": "Texas", "description": "a\x00b"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "NUL" in response.content.decode()
    segment.refresh_from_db()
    assert segment.description == ""


def test_a_nul_in_the_partner_profile_is_refused(client, tenant_factory):
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    browser = partner.browser_client(client)
    response = browser.post("/partner/profile/", {"company_name": "LeadForge", "payout_details": "IBAN\x00"})
    assert response.status_code == 400 and "NUL" in response.content.decode()
    assert not PartnerProfile.objects.filter(payout_details__contains="IBAN").exists()


def test_a_nul_in_a_query_string_is_refused(browser):
    assert browser.get("/marketplace/?q=a%00b").status_code == 400


def test_a_nul_in_an_api_body_is_a_400_in_the_error_shape(tenant):
    api = tenant.api()
    for body in ({"name": "a\x00b"}, {"name": "ok", "filters": {"title": "vp\x00"}}, {"name": "ok", "x\x00": 1}):
        response = api.post("/api/v1/segments", body, format="json")
        assert response.status_code == 400, body
        assert _error(response)["code"] == "invalid_json"
    assert not Segment.objects.exists()


def test_a_nul_in_a_form_post_to_the_api_is_a_400_in_the_error_shape(tenant):
    response = tenant.api().post("/api/v1/partner/uploads", {"price_per_lead": "5\x00"})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_characters"


def test_a_form_body_that_cannot_be_parsed_is_a_400(browser, tenant):
    response = browser.post("/partner/profile/", b"--x\r\nnot a part", content_type="multipart/form-data")
    assert response.status_code == 400
    response = tenant.api().post("/api/v1/segments", b"--x\r\nnot a part", content_type="multipart/form-data")
    assert response.status_code == 400 and _error(response)["code"] == "bad_request"


def test_a_nul_in_a_path_is_not_found():
    from django.test import Client

    assert Client().get("/checkout/local/%00/").status_code == 404


# --- bodies over the limit: 413 -----------------------------------------------------------------------------


def test_a_page_body_over_the_limit_is_the_413_page(browser, tenant):
    segment = segment_create(workspace=tenant.workspace, name="Texas", filters={}, created_by=tenant.user)
    response = browser.post(f"/segments/{segment.pk}/autosave/", {"name": "Texas", "description": "x" * 3_000_000})
    assert response.status_code == 413 and "too large" in response.content.decode()


def test_an_htmx_body_over_the_limit_is_a_toast(browser, tenant):
    segment = segment_create(workspace=tenant.workspace, name="Texas", filters={}, created_by=tenant.user)
    response = browser.post(
        f"/segments/{segment.pk}/autosave/", {"name": "Texas", "description": "x" * 3_000_000}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "too large" in response.content.decode()


def test_an_api_body_over_the_limit_is_413_in_the_error_shape(tenant):
    body = json.dumps({"lead_ids": [1] * 3_000_000, "payment": "credits"})
    response = tenant.api().post("/api/v1/marketplace/purchases", body, content_type="application/json")
    assert response.status_code == 413 and _error(response)["code"] == "payload_too_large"


def test_an_api_form_body_over_the_limit_is_413_in_the_error_shape(tenant):
    response = tenant.api().post("/api/v1/partner/uploads", {"price_per_lead": "5" * 3_000_000})
    assert response.status_code == 413 and _error(response)["code"] == "payload_too_large"


# --- JSON nesting ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [50_000, 200])
def test_deeply_nested_json_is_a_400(tenant, depth):
    body = '{"name": "deep", "filters": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    response = tenant.api().post("/api/v1/segments", body, content_type="application/json")
    assert response.status_code == 400 and _error(response)["code"] == "invalid_json"
    assert not Segment.objects.exists()


def test_a_write_to_an_unknown_api_path_is_the_json_404(tenant):
    from django.test import Client

    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {tenant.raw_key}")
    for method in ("post", "patch", "delete"):
        response = getattr(client, method)("/api/v1/segments/null,null")
        assert response.status_code == 404 and _error(response)["code"] == "not_found", method
