"""My Leads' Approve / Reject bulk actions: a verdict on each lead's email (verified or invalid)."""

from __future__ import annotations

import pytest

from cursive.models import OutboxEvent
from leads.models import Lead
from leads.services import lead_create, leads_bulk_update

pytestmark = pytest.mark.django_db


def make(tenant, email="ann@prospect.test", **data) -> Lead:
    return lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": email, **data})


def test_approve_verifies_the_email_and_raises_the_score(client, tenant):
    lead = make(tenant)
    before = lead.score
    client.force_login(tenant.user)
    response = client.post("/leads/bulk/", {"action": "approve", "lead_ids": [lead.pk]}, follow=True)
    assert response.status_code == 200
    assert "1 lead approved: email verified." in response.content.decode()
    lead.refresh_from_db()
    assert lead.email_status == "valid" and lead.score > before
    event = OutboxEvent.objects.filter(type="lead.updated").latest("pk")
    assert event.data["changed"] == ["email_status"] and event.data["lead_id"] == lead.pk


def test_reject_marks_the_email_invalid_for_every_matching_lead(client, tenant):
    leads = [make(tenant, email=f"p{n}@prospect.test", industry="SaaS") for n in range(3)]
    other = make(tenant, email="retail@prospect.test", industry="Retail")
    client.force_login(tenant.user)
    response = client.post("/leads/bulk/", {"scope": "all", "query": "industry=SaaS", "action": "reject"}, follow=True)
    assert "3 leads rejected: email invalid." in response.content.decode()
    assert set(Lead.objects.filter(email_status="invalid").values_list("pk", flat=True)) == {lead.pk for lead in leads}
    other.refresh_from_db()
    assert other.email_status == "unknown"


def test_a_verdict_changes_only_leads_with_an_email_whose_status_differs(tenant):
    approved = make(tenant)
    phone_only = lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"phone": "+12125550100"})
    assert leads_bulk_update(workspace=tenant.workspace, action="approve", lead_ids=[approved.pk, phone_only.pk]) == 1
    assert leads_bulk_update(workspace=tenant.workspace, action="approve", lead_ids=[approved.pk]) == 0
    phone_only.refresh_from_db()
    assert phone_only.email_status == "unknown"
    assert leads_bulk_update(workspace=tenant.workspace, action="reject", lead_ids=[approved.pk]) == 1


def test_another_workspaces_leads_are_not_touched(client, tenant, other_tenant):
    theirs = make(other_tenant, email="theirs@globex.test")
    client.force_login(tenant.user)
    response = client.post("/leads/bulk/", {"action": "approve", "lead_ids": [theirs.pk]}, follow=True)
    assert "0 leads approved" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.email_status == "unknown"


def test_the_api_takes_the_verdicts_too(tenant):
    lead = make(tenant)
    response = tenant.api().post("/api/v1/leads/bulk", {"action": "reject", "lead_ids": [lead.pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"action": "reject", "updated": 1}
    lead.refresh_from_db()
    assert lead.email_status == "invalid"


def test_the_bulk_bar_offers_approve_reject_and_add_to_sequence(client, tenant):
    make(tenant)
    client.force_login(tenant.user)
    page = client.get("/leads/").content.decode()
    assert '<option value="approve">' in page and '<option value="reject">' in page
    assert 'value="enrol" data-action-url="/sequences/enrol-from-leads/"' in page
    assert 'data-testid="bulk-sequence"' in page and "No sequences yet" in page
