import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from marketplace.models import LeadPurchase, Listing

from .conftest import fund, make_listing

pytestmark = pytest.mark.django_db


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_listing_fields_are_masked_until_bought(buyer):
    listing = make_listing(email="John.Smith@Acme.com", phone="(415) 555-2671", linkedin_url="https://www.linkedin.com/in/jsmith")
    (row,) = buyer.api().get("/api/v1/marketplace/leads").json()["results"]
    assert row["email"] == "j***@acme.com" and row["phone"] == "*********71"
    assert row["has_phone"] is True and row["has_linkedin"] is True
    assert set(row) == {
        "id",
        "price",
        "quality",
        "title",
        "seniority",
        "company_name",
        "company_size",
        "industry",
        "state",
        "email",
        "phone",
        "has_phone",
        "has_linkedin",
        "listed_at",
    }
    assert row["id"] == listing.pk and row["price"] == "10.00"


def test_every_filter_of_the_contract(buyer):
    saas_ca = make_listing(
        industry="SaaS",
        state="CA",
        company_size="11-50",
        seniority="vp",
        price="5",
        quality=90,
        phone="(415) 555-2671",
        title="VP Sales",
    )
    fin_ny = make_listing(
        industry="Fintech",
        state="NY",
        company_size="501-1000",
        seniority="director",
        price="20",
        quality=60,
        linkedin_url="https://linkedin.com/in/x",
        title="Director of Finance",
        company_name="Moneybags Inc",
    )
    old = make_listing(industry="Retail", state="TX", company_size="1-10", seniority="manager", price="12", quality=40)
    Listing.objects.filter(pk=old.pk).update(listed_at=timezone.now() - timedelta(days=40))
    api = buyer.api()

    def query(qs):
        response = api.get("/api/v1/marketplace/leads?" + qs)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert query("") == [saas_ca.pk, fin_ny.pk, old.pk], "default sort: best quality first"
    assert query("industry=SaaS&industry=Fintech") == [saas_ca.pk, fin_ny.pk]
    assert query("state=NY") == [fin_ny.pk]
    assert query("company_size=1-10&company_size=11-50") == [saas_ca.pk, old.pk]
    assert query("seniority=director") == [fin_ny.pk]
    assert query("price_min=10&price_max=15") == [old.pk]
    assert query("quality_min=60") == [saas_ca.pk, fin_ny.pk]
    assert query("age_days=30") == [saas_ca.pk, fin_ny.pk]
    assert query("has_phone=true") == [saas_ca.pk]
    assert query("has_linkedin=false") == [saas_ca.pk, old.pk]
    assert query("q=moneybags") == [fin_ny.pk]
    assert query("q=finance") == [fin_ny.pk]
    assert query("sort=price") == [saas_ca.pk, old.pk, fin_ny.pk]
    assert query("sort=-created") == [fin_ny.pk, saas_ca.pk, old.pk]


@pytest.mark.parametrize(
    "qs,field",
    [
        ("company_size=huge", "company_size"),
        ("quality_min=101", "quality_min"),
        ("price_min=abc", "price_min"),
        ("sort=random", "sort"),
        ("price_min=10&price_max=5", "price_max"),
        ("has_phone=maybe", "has_phone"),
    ],
)
def test_bad_filters_are_400_with_the_field(buyer, qs, field):
    response = buyer.api().get("/api/v1/marketplace/leads?" + qs)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_sold_reserved_and_own_listings_are_not_browsable(buyer, partner):
    sold, reserved, mine, free = make_listing(), make_listing(), make_listing(partner=partner.workspace), make_listing()
    buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [sold.pk]}, format="json")
    Listing.objects.filter(pk=reserved.pk).update(status="withdrawn")
    assert ids(buyer.api().get("/api/v1/marketplace/leads")) == [free.pk, mine.pk]
    assert mine.pk not in ids(partner.api().get("/api/v1/marketplace/leads"))


def test_keyset_pagination_over_listings(buyer):
    made = [make_listing(quality=50) for _ in range(5)]
    api = buyer.api()
    first = api.get("/api/v1/marketplace/leads?limit=3").json()
    second = api.get(f"/api/v1/marketplace/leads?limit=3&cursor={first['next']}").json()
    assert [r["id"] for r in first["results"] + second["results"]] == sorted(m.pk for m in made)[::-1]
    assert second["next"] is None


def test_purchase_endpoint_contract(buyer):
    a, b = make_listing(price="3.25"), make_listing(price="4.00")
    response = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [b.pk, a.pk], "payment": "credits"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "complete" and body["total_credits"] == "7.25"
    assert body["lead_ids"] == sorted([a.pk, b.pk]) and "checkout_url" not in body
    listed = buyer.api().get("/api/v1/marketplace/purchases").json()["results"]
    assert [p["id"] for p in listed] == [body["id"]]


def test_purchase_errors_follow_the_contract(buyer, tenant_factory):
    listing = make_listing(price="10.00")
    poor = tenant_factory("Poor")
    fund(poor.workspace, 4)
    response = poor.api().post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits" and "6.00" in error["message"] and error["missing"] == "6.00"
    buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json")
    fund(poor.workspace, 100)
    response = poor.api().post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lead_unavailable"
    assert response.json()["error"]["lead_ids"] == [listing.pk]
    assert poor.api().post("/api/v1/marketplace/purchases", {"lead_ids": [987654]}, format="json").status_code == 404
    assert poor.api().post("/api/v1/marketplace/purchases", {"lead_ids": []}, format="json").status_code == 400
    bad_payment = poor.api().post("/api/v1/marketplace/purchases", {"lead_ids": [1], "payment": "cash"}, format="json")
    assert bad_payment.status_code == 400 and "payment" in bad_payment.json()["error"]["fields"]


def test_idempotent_purchase(buyer):
    listing = make_listing(price="10.00")
    api = buyer.api()
    first = api.post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    again = api.post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert LeadPurchase.objects.count() == 1
    assert api.get("/api/v1/credits").json()["balance"] == "990.00"


def test_purchases_have_their_own_rate_limit(buyer):
    with override_settings(RATE_LIMITS={"reads": 100, "writes": 100, "purchases": 1, "credit_checkouts": 100}):
        api = buyer.api()
        first = api.post("/api/v1/marketplace/purchases", {"lead_ids": [make_listing().pk]}, format="json")
        second = api.post("/api/v1/marketplace/purchases", {"lead_ids": [make_listing().pk]}, format="json")
        assert (first.status_code, second.status_code) == (201, 429)
        assert api.get("/api/v1/marketplace/purchases").status_code == 200


def test_download_has_full_details_and_escapes_formulas(buyer, other_tenant):
    evil = make_listing(
        first_name='=HYPERLINK("http://evil")',
        last_name="+1",
        title="-2+3",
        company_name="@SUM(A1)",
        email="evil@lead.example",
        phone="(415) 555-2671",
    )
    plain = make_listing(first_name="Ann", email="Ann@Plain.example")
    purchase = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [evil.pk, plain.pk]}, format="json").json()
    response = buyer.api().get(f"/api/v1/marketplace/purchases/{purchase['id']}/download")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["email"] for r in rows] == ["evil@lead.example", "ann@plain.example"]
    assert rows[0]["first_name"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["last_name"] == "'+1" and rows[0]["title"] == "'-2+3" and rows[0]["company_name"] == "'@SUM(A1)"
    assert rows[0]["phone"] == "+14155552671", "a phone number is not a formula"
    assert list(rows[0]) == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "seniority",
        "company_name",
        "company_domain",
        "company_size",
        "industry",
        "city",
        "state",
        "zip",
        "country",
        "linkedin_url",
    ]
    assert other_tenant.api().get(f"/api/v1/marketplace/purchases/{purchase['id']}/download").status_code == 404


def test_pending_purchases_cannot_be_downloaded(buyer, settings):
    settings.STRIPE_SECRET_KEY = ""
    listing = make_listing()
    body = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk], "payment": "card"}, format="json").json()
    assert body["status"] == "pending" and body["checkout_url"]
    response = buyer.api().get(f"/api/v1/marketplace/purchases/{body['id']}/download")
    assert response.status_code == 409 and response.json()["error"]["code"] == "purchase_not_complete"
    assert Decimal(body["total_credits"]) == listing.price


@pytest.mark.parametrize(
    "accept", ["text/csv", "text/csv; charset=utf-8", "*/*", "application/json", "text/csv, application/json;q=0.9", "text/*"]
)
def test_download_honours_accept_headers_a_client_sends(buyer, accept):
    purchase = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [make_listing().pk]}, format="json").json()
    response = buyer.api().get(f"/api/v1/marketplace/purchases/{purchase['id']}/download", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))) == 1


def test_download_errors_are_json_even_to_a_client_asking_for_csv(buyer, settings):
    settings.STRIPE_SECRET_KEY = ""
    body = (
        buyer.api()
        .post("/api/v1/marketplace/purchases", {"lead_ids": [make_listing().pk], "payment": "card"}, format="json")
        .json()
    )
    pending = buyer.api().get(f"/api/v1/marketplace/purchases/{body['id']}/download", HTTP_ACCEPT="text/csv")
    assert pending.status_code == 409 and pending["Content-Type"] == "application/json"
    assert pending.json()["error"]["code"] == "purchase_not_complete"
    missing = buyer.api().get("/api/v1/marketplace/purchases/999999/download", HTTP_ACCEPT="text/csv")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    unknown = buyer.api().get(f"/api/v1/marketplace/purchases/{body['id']}/download", HTTP_ACCEPT="image/png")
    assert unknown.status_code == 406 and unknown.json()["error"]["code"] == "not_acceptable"
