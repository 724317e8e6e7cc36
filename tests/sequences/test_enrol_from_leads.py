"""My Leads' "Add to sequence" bulk action (sequences/views_leads.py)."""

from __future__ import annotations

import pytest

from leads.models import Lead
from leads.services import lead_create
from sequences.models import Enrollment
from sequences.services import enrollments_create, sequence_create, sequence_update

pytestmark = pytest.mark.django_db

URL = "/sequences/enrol-from-leads/"


def make(tenant, email, **data) -> Lead:
    return lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": email, **data})


@pytest.fixture
def sequence(tenant, mailbox):
    return sequence_create(
        workspace=tenant.workspace,
        data={"name": "Intro", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    )


def test_add_to_sequence_enrols_and_says_who_was_skipped_and_why(client, tenant, sequence):
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    fresh = [make(tenant, f"p{n}@prospect.test") for n in range(12)]
    no_email = [lead_create(workspace=tenant.workspace, source="manual", data={"phone": f"+1212555010{n}"}) for n in range(2)]
    enrolled_before = make(tenant, "before@prospect.test")
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[enrolled_before.pk])
    ids = [lead.pk for lead in [*fresh, *no_email, enrolled_before]]
    client.force_login(tenant.user)
    response = client.post(URL, {"lead_ids": ids, "sequence_id": sequence.pk, "action": "enrol", "query": "sort=-created"})
    assert response.status_code == 302 and response["Location"] == "/leads/?sort=-created"
    page = client.get(response["Location"]).content.decode()
    assert "Enrolled 12; skipped 3: 2 without email, 1 already enrolled." in page
    assert Enrollment.objects.filter(sequence=sequence, source="manual").count() == 13


def test_all_matching_leads_can_be_added(client, tenant, sequence):
    saas = [make(tenant, f"s{n}@prospect.test", industry="SaaS") for n in range(3)]
    make(tenant, "retail@prospect.test", industry="Retail")
    client.force_login(tenant.user)
    response = client.post(
        URL, {"scope": "all", "query": "industry=SaaS", "sequence_id": sequence.pk, "action": "enrol"}, follow=True
    )
    # A draft sequence takes the leads in and sends once it is started.
    assert "Enrolled 3. They are sent to once the sequence is active." in response.content.decode()
    assert set(Enrollment.objects.values_list("lead_id", flat=True)) == {lead.pk for lead in saas}


def test_all_matching_enrols_past_the_other_bulk_actions_cap(client, tenant, sequence, monkeypatch):
    monkeypatch.setattr("leads.services.MAX_BULK", 2)
    saas = [make(tenant, f"s{n}@prospect.test", industry="SaaS") for n in range(3)]
    no_email = lead_create(workspace=tenant.workspace, source="manual", data={"phone": "+12125550100", "industry": "SaaS"})
    client.force_login(tenant.user)
    response = client.post(
        URL, {"scope": "all", "query": "industry=SaaS", "sequence_id": sequence.pk, "action": "enrol"}, follow=True
    )
    assert "Enrolled 3; skipped 1: 1 without email." in response.content.decode()
    assert set(Enrollment.objects.values_list("lead_id", flat=True)) == {lead.pk for lead in saas}
    assert not Enrollment.objects.filter(lead=no_email).exists()


def test_nothing_ticked_or_no_sequence_chosen_says_so(client, tenant, sequence):
    lead = make(tenant, "a@prospect.test")
    client.force_login(tenant.user)
    assert "Tick at least one lead first." in client.post(URL, {"sequence_id": sequence.pk}, follow=True).content.decode()
    assert "Choose the sequence" in client.post(URL, {"lead_ids": [lead.pk], "sequence_id": ""}, follow=True).content.decode()
    assert not Enrollment.objects.exists()


def test_another_workspaces_sequence_or_leads_are_not_enrolled(client, tenant, other_tenant, sequence):
    mine = make(tenant, "mine@prospect.test")
    theirs = make(other_tenant, "theirs@globex.test")
    client.force_login(other_tenant.user)
    response = client.post(URL, {"lead_ids": [theirs.pk], "sequence_id": sequence.pk}, follow=True)
    assert "That sequence does not exist in this workspace." in response.content.decode()
    client.force_login(tenant.user)
    response = client.post(URL, {"lead_ids": [theirs.pk, mine.pk], "sequence_id": sequence.pk}, follow=True)
    assert "Enrolled 1; skipped 1: 1 no longer in your leads." in response.content.decode()
    assert list(Enrollment.objects.values_list("lead_id", flat=True)) == [mine.pk]


def test_only_post_and_only_logged_in(client, tenant, sequence):
    assert client.post(URL, {"sequence_id": sequence.pk}).status_code == 302  # to the login page
    client.force_login(tenant.user)
    assert client.get(URL).status_code == 405


def test_the_bulk_bar_lists_the_workspaces_sequences(client, tenant, other_tenant, sequence, mailbox):
    make(tenant, "a@prospect.test")
    client.force_login(tenant.user)
    page = client.get("/leads/").content.decode()
    assert f'<option value="{sequence.pk}">Intro (draft)</option>' in page
    make(other_tenant, "b@globex.test")
    client.force_login(other_tenant.user)
    assert "Intro" not in client.get("/leads/").content.decode()
