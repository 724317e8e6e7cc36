"""POST /api/v1/bounces: bounces seen in another tool, checked against the workspace's own purchases."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Workspace
from credits.models import CreditAccount, CreditTransaction
from leads.models import Lead, Suppression
from leads.normalize import suppression_hash
from leads.services import lead_create
from marketplace.services import purchase_create
from tests.marketplace.conftest import fund, make_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bought(tenant, tenant_factory):
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    fund(tenant.workspace, 100)
    listings = [make_listing(partner=partner.workspace, price="10.00", email=f"{name}@bounce.example") for name in ("new", "old")]
    purchase_create(workspace=tenant.workspace, lead_ids=[listing.pk for listing in listings])
    Lead.objects.filter(workspace=tenant.workspace, email="old@bounce.example").update(
        created_at=timezone.now() - timedelta(days=31)
    )
    lead_create(workspace=tenant.workspace, data={"email": "typed@own.example"}, source="manual")
    return tenant


def test_each_address_answers_its_reason_and_is_suppressed(bought):
    emails = ["New@bounce.example", "old@bounce.example", "typed@own.example", "nobody@x.example", "not-an-email"]
    response = bought.api().post("/api/v1/bounces", {"emails": emails}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "refunded": [{"email": "new@bounce.example", "credits": "10.00"}],
        "not_refunded": [
            {"email": "not-an-email", "reason": "invalid_email"},
            {"email": "old@bounce.example", "reason": "older_than_30_days"},
            {"email": "typed@own.example", "reason": "not_bought_from_cursive"},
            {"email": "nobody@x.example", "reason": "not_bought_from_cursive"},
        ],
    }
    assert response.headers["X-RateLimit-Limit"]
    assert CreditAccount.objects.get(workspace=bought.workspace).balance == Decimal("90.00")
    suppressed = Suppression.objects.filter(workspace=bought.workspace, reason="bounced")
    assert set(suppressed.values_list("email", flat=True)) == {
        "new@bounce.example",
        "old@bounce.example",
        "typed@own.example",
        "nobody@x.example",
    }

    again = bought.api().post("/api/v1/bounces", {"emails": ["new@bounce.example"]}, format="json")
    assert again.json() == {"refunded": [], "not_refunded": [{"email": "new@bounce.example", "reason": "already_refunded"}]}
    assert CreditTransaction.objects.filter(kind="refund").count() == 1


def test_an_idempotency_key_replays_the_first_answer(bought):
    headers = {"HTTP_IDEMPOTENCY_KEY": "bounce-report-1"}
    first = bought.api().post("/api/v1/bounces", {"emails": ["new@bounce.example"]}, format="json", **headers)
    second = bought.api().post("/api/v1/bounces", {"emails": ["new@bounce.example"]}, format="json", **headers)
    assert first.json()["refunded"] == [{"email": "new@bounce.example", "credits": "10.00"}]
    assert second.json() == first.json() and second.headers["Idempotent-Replayed"] == "true"
    assert CreditTransaction.objects.filter(kind="refund").count() == 1


def test_another_workspace_gets_nothing_for_someone_elses_purchase(bought, other_tenant):
    response = other_tenant.api().post("/api/v1/bounces", {"emails": ["new@bounce.example"]}, format="json")
    assert response.json()["not_refunded"] == [{"email": "new@bounce.example", "reason": "not_bought_from_cursive"}]
    assert not Suppression.objects.filter(workspace=bought.workspace, email_hash=suppression_hash("new@bounce.example")).exists()
    assert Lead.objects.get(workspace=bought.workspace, email="new@bounce.example").email_status != "invalid"


@pytest.mark.parametrize("body", [{}, {"emails": []}, {"emails": "a@b.example"}, {"emails": ["a@b.example"] * 1001}])
def test_bad_input_is_a_400_in_the_error_shape(tenant, body):
    response = tenant.api().post("/api/v1/bounces", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]) >= {"code", "message"}


def test_no_credentials_is_a_401(client):
    assert client.post("/api/v1/bounces", {"emails": ["a@b.example"]}, content_type="application/json").status_code == 401


def test_the_schema_describes_the_route(tenant):
    schema = tenant.api().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/v1/bounces"]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/suppressions"])
