import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from django.test import override_settings
from werkzeug import Response as WerkzeugResponse

from accounts.models import Membership
from accounts.services import user_create
from credits.models import BillingProfile, CreditPackage, CreditPurchase
from credits.services import credits_grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_server(httpserver, settings):
    """A local HTTP server that answers as Stripe's API does; the real SDK is pointed at it."""
    settings.STRIPE_SECRET_KEY = "sk_test_cursive"
    settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    created = SessionCalls()

    def create_customer(request):
        created.customers.append({"form": parse_qs(request.get_data(as_text=True)), "headers": dict(request.headers)})
        body = {"id": f"cus_test_{len(created.customers)}", "object": "customer"}
        return WerkzeugResponse(json.dumps(body), status=200, content_type="application/json")

    def create_session(request):
        form = {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()}
        session_id = f"cs_test_{len(created) + 1}"
        created.append({"form": form, "headers": dict(request.headers)})
        body = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "client_reference_id": form.get("client_reference_id"),
            "status": "open",
            "payment_status": "unpaid",
            "metadata": {"kind": form.get("metadata[kind]"), "workspace_id": form.get("metadata[workspace_id]")},
        }
        return WerkzeugResponse(json.dumps(body), status=200, content_type="application/json")

    httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(create_session)
    httpserver.expect_request("/v1/customers", method="POST").respond_with_handler(create_customer)
    return created


class SessionCalls(list):
    """The Checkout Sessions created, in order; `customers` holds the customers created."""

    def __init__(self):
        super().__init__()
        self.customers = []


def growth():
    return CreditPackage.objects.get(label="Growth")


def test_packages_and_balance(tenant):
    api = tenant.api()
    packages = api.get("/api/v1/credits/packages").json()["results"]
    assert [(p["label"], p["credits"], p["price_cents"]) for p in packages] == [
        ("Starter", "100.00", 4900),
        ("Growth", "500.00", 19900),
        ("Pro", "1000.00", 34900),
        ("Enterprise", "5000.00", 149900),
    ]
    assert [p["label"] for p in packages if p["popular"]] == ["Growth"]
    assert api.get("/api/v1/credits").json()["balance"] == "0.00"
    credits_grant(workspace=tenant.workspace, amount="12.5", reference="credit_purchase:1")
    body = api.get("/api/v1/credits").json()
    assert body["balance"] == "12.50" and body["currency_value_cents_per_credit"] == 49


def test_checkout_goes_through_the_stripe_sdk_to_a_stripe_compatible_server(tenant, stripe_server):
    response = tenant.api().post("/api/v1/credits/checkout", {"package": growth().pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    purchase = CreditPurchase.objects.get()
    assert body == {
        "id": purchase.pk,
        "status": "pending",
        "checkout_id": "cs_test_1",
        "checkout_url": "https://checkout.stripe.test/c/pay/cs_test_1",
    }
    (call,) = stripe_server
    form = call["form"]
    assert form["client_reference_id"] == str(purchase.pk)
    assert form["metadata[kind]"] == "credits"
    assert form["metadata[workspace_id]"] == str(tenant.workspace.pk)
    assert form["line_items[0][price_data][unit_amount]"] == "19900"
    assert form["mode"] == "payment"
    assert call["headers"]["Authorization"] == "Bearer sk_test_cursive"
    assert call["headers"]["Idempotency-Key"] == f"credit-purchase-{purchase.pk}"


def test_checkout_saves_the_card_on_the_workspaces_stripe_customer(tenant, other_tenant, stripe_server):
    """The card paid with is kept for auto-reload: one Stripe customer per workspace, created at its first
    checkout and reused after, and Checkout asked to save the card for off-session payments."""
    api = tenant.api()
    for _ in range(2):
        assert api.post("/api/v1/credits/checkout", {"package": growth().pk}, format="json").status_code == 201
    other_tenant.api().post("/api/v1/credits/checkout", {"package": growth().pk}, format="json")
    assert [call["headers"]["Idempotency-Key"] for call in stripe_server.customers] == [
        f"workspace-customer-{tenant.workspace.pk}",
        f"workspace-customer-{other_tenant.workspace.pk}",
    ]
    assert stripe_server.customers[0]["form"]["metadata[workspace_id]"] == [str(tenant.workspace.pk)]
    assert BillingProfile.objects.get(workspace=tenant.workspace).stripe_customer_id == "cus_test_1"
    assert BillingProfile.objects.get(workspace=other_tenant.workspace).stripe_customer_id == "cus_test_2"
    forms = [call["form"] for call in stripe_server]
    assert [form["customer"] for form in forms] == ["cus_test_1", "cus_test_1", "cus_test_2"]
    assert all(form["payment_intent_data[setup_future_usage]"] == "off_session" for form in forms)
    assert not any("customer_email" in form for form in forms)


def test_idempotency_key_returns_the_first_answer_and_changes_nothing(tenant, stripe_server):
    api = tenant.api()
    first = api.post("/api/v1/credits/checkout", {"package": growth().pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/credits/checkout", {"package": growth().pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert CreditPurchase.objects.count() == 1 and len(stripe_server) == 1
    other = api.post("/api/v1/credits/checkout", {"package": growth().pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.json()["id"] != first.json()["id"]
    reused = api.post(
        "/api/v1/credits/checkout",
        {"package": CreditPackage.objects.get(label="Pro").pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_idempotency_keys_are_per_workspace(tenant, other_tenant, stripe_server):
    a = tenant.api().post("/api/v1/credits/checkout", {"package": growth().pk}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    b = other_tenant.api().post("/api/v1/credits/checkout", {"package": growth().pk}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert a.json()["id"] != b.json()["id"]


def test_checkout_validation_and_roles(tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    api = tenant.api()
    assert api.post("/api/v1/credits/checkout", {"package": 999}, format="json").json()["error"]["fields"]["package"]
    assert api.post("/api/v1/credits/checkout", {}, format="json").status_code == 400
    member = user_create(email="member@acme.test", password="member-pass-123")
    Membership.objects.create(user=member, workspace=tenant.workspace, role=Membership.Role.MEMBER)
    from django.test import Client

    client = Client()
    client.force_login(member)
    response = client.post("/api/v1/credits/checkout", {"package": growth().pk}, content_type="application/json")
    assert response.status_code == 403
    assert not CreditPurchase.objects.exists()


def test_checkout_has_its_own_rate_limit_class(tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    with override_settings(RATE_LIMITS={"reads": 100, "writes": 100, "purchases": 100, "credit_checkouts": 2}):
        api = tenant.api()
        codes = [api.post("/api/v1/credits/checkout", {"package": growth().pk}, format="json").status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        assert api.get("/api/v1/credits").status_code == 200


def test_transactions_list_newest_first_with_kind_filter(tenant):
    for i in range(3):
        credits_grant(workspace=tenant.workspace, amount="10", reference=f"credit_purchase:{i}")
    from credits.services import credits_spend

    credits_spend(workspace=tenant.workspace, amount="4", reference="purchase:1")
    api = tenant.api()
    rows = api.get("/api/v1/credits/transactions?limit=2").json()
    assert [r["kind"] for r in rows["results"]] == ["spend", "purchase"]
    assert rows["results"][0]["amount"] == "-4.00" and rows["results"][0]["balance_after"] == "26.00"
    assert set(rows["results"][0]) >= {"id", "kind", "amount", "balance_after", "created_at", "reference"}
    rest = api.get(f"/api/v1/credits/transactions?limit=2&cursor={rows['next']}").json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    only_spend = api.get("/api/v1/credits/transactions?kind=spend").json()["results"]
    assert len(only_spend) == 1
    assert Decimal(only_spend[0]["amount"]) == Decimal("-4")
    assert api.get("/api/v1/credits/transactions?kind=theft").status_code == 400


def test_ledger_is_private_to_the_workspace(tenant, other_tenant):
    credits_grant(workspace=other_tenant.workspace, amount="10", reference="credit_purchase:1")
    assert tenant.api().get("/api/v1/credits/transactions").json()["results"] == []


@pytest.mark.parametrize("outage", ["answers 500", "is unreachable"])
def test_a_stripe_outage_answers_503_and_leaves_nothing_pending(tenant, httpserver, settings, outage):
    from tests.servers import free_port

    settings.STRIPE_SECRET_KEY = "sk_test_cursive"
    if outage == "answers 500":
        settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
        httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
            {"error": {"type": "api_error", "message": "Stripe is down"}}, status=500
        )
    else:
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = tenant.api().post("/api/v1/credits/checkout", {"package": growth().pk}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payment_provider_unavailable"
    purchase = CreditPurchase.objects.get()
    assert purchase.status == CreditPurchase.Status.FAILED and purchase.closed_at is not None
    assert not CreditPurchase.objects.filter(status=CreditPurchase.Status.PENDING).exists()


def test_a_stripe_outage_on_the_credits_page_says_so(client, tenant, httpserver, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_cursive"
    settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"error": {"type": "api_error", "message": "Stripe is down"}}, status=500
    )
    client.force_login(tenant.user)
    page = client.post(f"/credits/buy/{growth().pk}/", follow=True, HTTP_REFERER="http://testserver/credits/")
    assert page.status_code == 200 and "payment provider did not answer" in page.content.decode()
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.FAILED
