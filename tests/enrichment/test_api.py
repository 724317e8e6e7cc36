"""The HTTP contract of batch enrichment (docs/enrichment.md and /api/docs/): paths, status codes, fields, errors, idempotency."""

import itertools
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from credits.models import CreditTransaction
from enrichment.models import Enrichment
from enrichment.services import enrichment_build_result, enrichment_match

from .conftest import csv_bytes, fund, make_people

pytestmark = pytest.mark.django_db

DETAIL_FIELDS = {
    "id",
    "status",
    "total_rows",
    "matched_rows",
    "already_owned_rows",
    "credits_quote",
    "credits_charged",
    "progress",
    "errors",
}


def post_file(api, content: bytes, **data):
    return api.post(
        "/api/v1/enrichments", {"file": SimpleUploadedFile("list.csv", content, "text/csv"), **data}, format="multipart"
    )


_batch = itertools.count()


def matched(tenant, count=5) -> int:
    people = make_people(count, prefix=f"api{next(_batch)}x")
    response = post_file(tenant.api(), csv_bytes(["Work Email"], [[p.email] for p in people]))
    assert response.status_code == 202, response.json()
    enrichment_match(enrichment_id=response.json()["id"])
    return response.json()["id"]


def test_upload_answers_202_and_the_detail_has_the_contract_fields(tenant):
    people = make_people(3, prefix="up")
    api = tenant.api()
    response = post_file(api, csv_bytes(["E-mail", "Notes"], [[p.email, "x"] for p in people] + [["nobody@else.example", ""]]))
    assert response.status_code == 202
    assert set(response.json()) == {"id", "status"} and response.json()["status"] == "queued"
    assert "X-RateLimit-Limit" in response.headers
    enrichment_id = response.json()["id"]
    assert api.get(f"/api/v1/enrichments/{enrichment_id}").json()["progress"] == 0
    enrichment_match(enrichment_id=enrichment_id)
    body = api.get(f"/api/v1/enrichments/{enrichment_id}").json()
    assert set(body) >= DETAIL_FIELDS
    assert body["status"] == "awaiting_confirmation" and body["progress"] == 100
    assert (body["total_rows"], body["matched_rows"], body["already_owned_rows"]) == (4, 3, 0)
    assert body["credits_quote"] == "0.60" and body["credits_charged"] == "0.00" and body["errors"] == []
    assert body["mapping"] == {"E-mail": "email"}


def test_an_explicit_mapping_is_used(tenant):
    people = make_people(2, prefix="map")
    content = csv_bytes(["col_a", "col_b"], [["x", p.email] for p in people])
    refused = post_file(tenant.api(), content)
    assert refused.status_code == 400 and refused.json()["error"]["fields"]["mapping"]
    accepted = post_file(tenant.api(), content, mapping=json.dumps({"col_b": "email"}))
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    ("content", "data", "field"),
    [
        (b"\x00\x00\x00\x00binary", {}, "file"),
        (b"", {}, "file"),
        (b"title,city\nCEO,Austin\n", {}, "mapping"),
        (b"email\na@b.example\n", {"mapping": "{not json"}, "mapping"),
        (b"email\na@b.example\n", {"mapping": json.dumps({"email": "shoe_size"})}, "mapping"),
        (b"email\na@b.example\n", {"mapping": json.dumps({"missing": "email"})}, "mapping"),
    ],
)
def test_unreadable_files_and_impossible_mappings_are_400s(tenant, content, data, field):
    response = post_file(tenant.api(), content, **data)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"] and error["message"]
    assert not Enrichment.objects.exists()


def test_an_upload_over_the_limit_is_a_413(tenant, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    response = post_file(tenant.api(), b"email\n" + b"someone@example.com\n" * 200)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_confirm_is_a_202_that_charges_once_however_often_it_is_retried_with_its_key(tenant):
    enrichment_id = matched(tenant)
    fund(tenant, 10)
    api, url = tenant.api(), f"/api/v1/enrichments/{enrichment_id}/confirm"
    first = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="enrich-1")
    again = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="enrich-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["status"] == "processing" and first.json()["credits_charged"] == "1.00"
    # Without a key, a late second confirmation answers the current state and charges nothing more.
    late = api.post(url, {}, format="json")
    assert late.status_code == 202 and late.json()["credits_charged"] == "1.00"
    assert CreditTransaction.objects.filter(reference=f"enrichment:{enrichment_id}").count() == 1


def test_confirm_with_a_cap(tenant):
    enrichment_id = matched(tenant)
    fund(tenant, 10)
    response = tenant.api().post(f"/api/v1/enrichments/{enrichment_id}/confirm", {"max_credits": "0.50"}, format="json")
    assert response.status_code == 202
    assert response.json()["credits_charged"] == "0.40" and response.json()["max_credits"] == "0.50"
    bad = tenant.api().post(f"/api/v1/enrichments/{matched(tenant)}/confirm", {"max_credits": "lots"}, format="json")
    assert bad.status_code == 400 and "max_credits" in bad.json()["error"]["fields"]


def test_confirm_without_enough_credits_is_a_402_with_nothing_charged(tenant):
    enrichment_id = matched(tenant)
    fund(tenant, "0.50")
    response = tenant.api().post(f"/api/v1/enrichments/{enrichment_id}/confirm", {}, format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits" and "0.50 more credits" in error["message"]
    assert not CreditTransaction.objects.filter(kind="spend").exists()
    assert tenant.api().get(f"/api/v1/enrichments/{enrichment_id}").json()["status"] == "awaiting_confirmation"


def test_confirm_uses_the_purchases_rate_class(tenant, settings):
    enrichment_id = matched(tenant)
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "purchases": 1}
    fund(tenant, 10)
    api = tenant.api()
    assert api.post(f"/api/v1/enrichments/{enrichment_id}/confirm", {}, format="json").status_code == 202
    limited = api.post(f"/api/v1/enrichments/{enrichment_id}/confirm", {}, format="json")
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert api.get(f"/api/v1/enrichments/{enrichment_id}").status_code == 200


def test_cancel_before_confirmation_and_409_after(tenant):
    enrichment_id = matched(tenant)
    api = tenant.api()
    response = api.post(f"/api/v1/enrichments/{enrichment_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    refused = api.post(f"/api/v1/enrichments/{enrichment_id}/confirm", {}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "enrichment_not_awaiting_confirmation"
    other = matched(tenant)
    fund(tenant, 10)
    api.post(f"/api/v1/enrichments/{other}/confirm", {}, format="json")
    late = api.post(f"/api/v1/enrichments/{other}/cancel")
    assert late.status_code == 409 and late.json()["error"]["code"] == "enrichment_not_cancellable"


def test_download_is_a_409_until_complete_then_the_csv(tenant):
    enrichment_id = matched(tenant, 2)
    api = tenant.api()
    early = api.get(f"/api/v1/enrichments/{enrichment_id}/download")
    assert early.status_code == 409 and early.json()["error"]["code"] == "enrichment_not_complete"
    fund(tenant, 10)
    api.post(f"/api/v1/enrichments/{enrichment_id}/confirm", {}, format="json")
    enrichment_build_result(enrichment_id=enrichment_id)
    response = api.get(f"/api/v1/enrichments/{enrichment_id}/download")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("Work Email,match_status,match_method,match_confidence,first_name")
    assert len(lines) == 3 and all(",matched,email,1.000," in line for line in lines[1:])


def test_the_list_is_a_cursor_list_newest_first(tenant, other_tenant):
    ids = [matched(tenant, 1) for _ in range(3)]
    matched(other_tenant, 1)
    api = tenant.api()
    first = api.get("/api/v1/enrichments?limit=2").json()
    assert [item["id"] for item in first["results"]] == ids[::-1][:2] and first["next"]
    rest = api.get(f"/api/v1/enrichments?limit=2&cursor={first['next']}").json()
    assert [item["id"] for item in rest["results"]] == ids[:1] and rest["next"] is None


def test_another_workspaces_enrichment_is_a_404_everywhere(tenant, other_tenant):
    theirs = matched(other_tenant)
    fund(tenant, 10)
    api = tenant.api()
    for method, path in [
        ("get", ""),
        ("post", "/confirm"),
        ("post", "/cancel"),
        ("get", "/download"),
    ]:
        response = getattr(api, method)(f"/api/v1/enrichments/{theirs}{path}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
    assert Enrichment.objects.get(pk=theirs).status == "awaiting_confirmation"
    assert not CreditTransaction.objects.filter(kind="spend").exists()


def test_the_schema_documents_the_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in [
        "/api/v1/enrichments",
        "/api/v1/enrichments/{enrichment_id}",
        "/api/v1/enrichments/{enrichment_id}/confirm",
        "/api/v1/enrichments/{enrichment_id}/cancel",
        "/api/v1/enrichments/{enrichment_id}/download",
    ]:
        assert path in paths, path
    assert "202" in paths["/api/v1/enrichments"]["post"]["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in paths["/api/v1/enrichments/{enrichment_id}/confirm"]["post"]["parameters"])


def test_decimal_fields_are_two_place_strings(tenant):
    enrichment_id = matched(tenant, 1)
    body = tenant.api().get(f"/api/v1/enrichments/{enrichment_id}").json()
    assert body["price_per_row"] == "0.20" and Decimal(body["credits_quote"]) == Decimal("0.20")
