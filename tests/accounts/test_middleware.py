"""API keys authenticate /api/v1/ only: everywhere else a request without a session is an anonymous visitor."""

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import ApiKey
from accounts.services import api_key_create, user_create, workspace_create
from credits.models import CreditAccount, CreditTransaction
from credits.services import credits_grant
from cursive.models import AuditEvent
from leads.models import Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db


def _key_client(raw_key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {raw_key}")


def _is_login_redirect(response, login_path: str = "/login/") -> bool:
    return response.status_code == 302 and response.url.startswith(login_path)


@pytest.fixture
def staff_key():
    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    workspace = workspace_create(name="Cursive Ops", owner=staff)
    _, raw = api_key_create(workspace=workspace, name="ops", created_by=staff)
    return raw


def test_a_staff_workspace_key_does_not_open_the_admin(staff_key):
    response = _key_client(staff_key).get("/admin/")
    assert _is_login_redirect(response, "/admin/login/")


def test_a_staff_workspace_key_cannot_post_an_admin_credit_adjustment(staff_key, tenant):
    credits_grant(workspace=tenant.workspace, amount="5", reference="credit_purchase:1")
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    response = _key_client(staff_key).post(
        f"/admin/credits/creditaccount/{account.pk}/adjust/", {"amount": "1000", "reason": "free money"}
    )
    assert _is_login_redirect(response, "/admin/login/")
    account.refresh_from_db()
    assert account.balance == Decimal("5.00")
    assert not CreditTransaction.objects.filter(kind="adjustment").exists()
    assert not AuditEvent.objects.filter(action="credits.adjust").exists()


def test_a_buyer_key_does_not_open_the_lead_export_page(tenant):
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"first_name": "Ada", "email": "ada@example.com"})
    response = _key_client(tenant.raw_key).get("/leads/export/")
    assert _is_login_redirect(response)
    assert b"ada@example.com" not in response.content


def test_a_buyer_key_cannot_post_bulk_actions_from_the_page(tenant):
    lead = lead_create(
        workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"first_name": "Ada", "email": "ada@example.com"}
    )
    response = _key_client(tenant.raw_key).post("/leads/bulk/", {"action": "delete", "lead_ids": [lead.pk]})
    assert _is_login_redirect(response)
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_a_key_on_a_manager_only_page_is_sent_to_log_in_not_a_500(tenant):
    response = _key_client(tenant.raw_key).post("/settings/api-keys/", {"name": "sneaky"})
    assert _is_login_redirect(response)
    assert not ApiKey.objects.filter(name="sneaky").exists()


def test_a_key_on_a_dashboard_page_is_sent_to_log_in(tenant):
    assert _is_login_redirect(_key_client(tenant.raw_key).get("/analytics/"))


def test_a_session_on_a_page_ignores_a_key_of_another_workspace(client, tenant, other_tenant):
    tenant.browser_client(client)
    response = client.get("/settings/", HTTP_AUTHORIZATION=f"Token {other_tenant.raw_key}")
    assert response.status_code == 200
    assert response.context["request"].workspace == tenant.workspace


def test_keys_still_authenticate_the_api(tenant):
    response = _key_client(tenant.raw_key).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["workspace"]["id"] == tenant.workspace.pk


def test_the_api_still_accepts_a_browser_session(client, tenant):
    tenant.browser_client(client)
    assert client.get("/api/v1/me").json()["workspace"]["id"] == tenant.workspace.pk
