"""Hole 10 on the My Leads pages: bad input is a 4xx or a message, never a 500."""

import pytest

from leads.models import Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def test_an_impossible_since_date_is_a_400(browser):
    response = browser.get("/leads/updates/", {"since": "2024-02-30T00:00:00"})
    assert response.status_code == 400


def test_a_well_formed_since_still_works(browser):
    assert browser.get("/leads/updates/", {"since": "2024-02-28T00:00:00+00:00"}).status_code == 200


def _lead(tenant) -> Lead:
    return lead_create(
        workspace=tenant.workspace,
        source=Lead.Source.MANUAL,
        data={"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
    )


@pytest.mark.parametrize("bad_id", ["²", "٣x", "1.0", "-1"])
def test_lead_ids_that_are_not_ids_select_nothing(browser, tenant, bad_id):
    lead = _lead(tenant)
    response = browser.post("/leads/bulk/", {"action": "delete", "lead_ids": [bad_id]}, follow=True)
    assert response.status_code == 200 and "Tick at least one lead first." in response.content.decode()
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_a_lead_id_past_the_id_range_matches_no_lead(browser, tenant):
    lead = _lead(tenant)
    response = browser.post("/leads/bulk/", {"action": "delete", "lead_ids": ["9" * 30]}, follow=True)
    assert response.status_code == 200 and "0 leads deleted." in response.content.decode()
    assert Lead.objects.filter(pk=lead.pk).exists()
