"""GET /api/v1/onboarding: the contract's shape, for the key's workspace only."""

from decimal import Decimal

import pytest

from accounts.models import OnboardingStep
from credits.services import onboarding_bonus_grant
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

KEYS = ["buy_credits", "search_database", "create_segment", "install_pixel", "add_webhook"]


def test_a_new_workspace_has_five_steps_to_do(tenant):
    response = tenant.api().get("/api/v1/onboarding")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"steps", "completed", "total", "bonus_credits_granted"}
    assert [step["key"] for step in body["steps"]] == KEYS
    assert all(set(step) == {"key", "title", "done"} and step["title"] and step["done"] is False for step in body["steps"])
    assert (body["completed"], body["total"], body["bonus_credits_granted"]) == (0, 5, "0.00")
    assert "X-RateLimit-Limit" in response.headers


def test_a_done_step_and_the_bonus_show(tenant, other_tenant, settings):
    settings.ONBOARDING_BONUS_CREDITS = Decimal("10")
    endpoint_create(workspace=tenant.workspace, url="https://127.0.0.2/hook", events=[])
    body = tenant.api().get("/api/v1/onboarding").json()
    assert [step["key"] for step in body["steps"] if step["done"]] == ["add_webhook"] and body["completed"] == 1
    assert other_tenant.api().get("/api/v1/onboarding").json()["completed"] == 0, "another workspace's steps stay its own"

    for key in KEYS[:-1]:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=key)
    onboarding_bonus_grant(workspace=tenant.workspace)
    body = tenant.api().get("/api/v1/onboarding").json()
    assert (body["completed"], body["total"], body["bonus_credits_granted"]) == (5, 5, "10.00")
    assert all(step["done"] for step in body["steps"])


def test_session_auth_works_and_no_auth_is_401(client, tenant):
    assert client.get("/api/v1/onboarding").status_code == 401
    assert client.get("/api/v1/onboarding").json()["error"]["code"]
    client.force_login(tenant.user)
    assert client.get("/api/v1/onboarding").json()["total"] == 5


def test_the_schema_documents_it(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/onboarding"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    component = schema["components"]["schemas"][ref]
    assert set(component["properties"]) == {"steps", "completed", "total", "bonus_credits_granted"}
