import pytest

from cursive.errors import Conflict, ValidationFailed
from leads.models import Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db


def test_lead_create_normalises_and_hashes(tenant):
    lead = lead_create(
        workspace=tenant.workspace,
        source=Lead.Source.MANUAL,
        data={
            "first_name": "  Jane ",
            "email": "Jane@Acme.COM",
            "phone": "(415) 555-2671",
            "state": "ca",
        },
    )
    assert (lead.first_name, lead.email, lead.phone, lead.state) == ("Jane", "jane@acme.com", "+14155552671", "CA")
    assert len(lead.dedup_hash) == 64


def test_same_person_twice_in_a_workspace_is_a_conflict_but_fine_across_workspaces(tenant, other_tenant):
    data = {"email": "jane@acme.com", "phone": "4155552671"}
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data=data)
    with pytest.raises(Conflict):
        lead_create(
            workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "JANE@acme.com", "phone": "+1 (415) 555-2671"}
        )
    lead_create(workspace=other_tenant.workspace, source=Lead.Source.MANUAL, data=data)
    assert Lead.objects.count() == 2


@pytest.mark.parametrize(
    "data,field",
    [
        ({}, "email"),
        ({"email": "nope"}, "email"),
        ({"email": "a@b.co", "phone": "12"}, "phone"),
        ({"email": "a@b.co", "seniority": "wizard"}, "seniority"),
        ({"email": "a@b.co", "linkedin_url": "https://myspace.com/me"}, "linkedin_url"),
    ],
)
def test_invalid_leads_are_rejected_with_the_field(tenant, data, field):
    with pytest.raises(ValidationFailed) as exc:
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data=data)
    assert field in exc.value.fields
    assert not Lead.objects.exists()


def test_database_enforces_score_range_and_contact(tenant):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.create(workspace=tenant.workspace, source="manual", email="a@b.co", dedup_hash="x", score=101)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.create(workspace=tenant.workspace, source="manual", dedup_hash="y")


def test_add_lead_page_and_my_leads(client, tenant):
    client.force_login(tenant.user)
    assert b"No leads yet" in client.get("/leads/").content
    response = client.post("/leads/new/", {"first_name": "Ada", "email": "ada@engine.test", "country": "US"})
    assert response.status_code == 302
    listing = client.get("/leads/")
    assert b"Ada" in listing.content
    bad = client.post("/leads/new/", {"first_name": "Bob", "email": "bob@", "country": "US"})
    assert bad.status_code == 200 and b"not a valid email" in bad.content and b"Bob" in bad.content


def test_my_leads_paginates_with_load_more_and_filters(client, tenant):
    client.force_login(tenant.user)
    for i in range(55):
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": f"p{i}@x.example"})
    page = client.get("/leads/").content.decode()
    assert page.count("/leads/") >= 50 and "Load more" in page
    cursor = page.split("cursor=")[1].split('"')[0]
    more = client.get(f"/leads/?cursor={cursor}", HTTP_HX_REQUEST="true").content.decode()
    assert more.count("p") and "<html" not in more and "Load more" not in more
    assert more.count('href="/leads/') == 5
    filtered = client.get("/leads/?source=pixel").content.decode()
    assert "No leads match these filters" in filtered
    live = client.get("/leads/?source=pixel", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lead-results").content.decode()
    assert "No leads match these filters" in live and "see all 55 leads" in live and "<html" not in live


def test_my_leads_with_an_invalid_filter_reports_it_and_keeps_the_others(client, tenant):
    client.force_login(tenant.user)
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "a@x.example", "industry": "SaaS"})
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "b@x.example", "industry": "Retail"})
    response = client.get("/leads/?industry=SaaS&score_min=500")
    page = response.content.decode()
    assert response.context["matching"] == 1, "the industry filter still applies"
    assert 'data-testid="matching">1 lead<' in page
    assert response.context["errors"]["score_min"][0].startswith("Score from: ")
    assert 'id="score_min-error"' in page and "score_min (" not in page


def test_my_leads_score_and_date_ranges_the_wrong_way_round_are_reported(client, tenant):
    client.force_login(tenant.user)
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "a@x.example"})
    errors = client.get("/leads/?score_min=60&score_max=10&created_from=2026-02-01&created_to=2026-01-01").context["errors"]
    assert errors == {
        "score_max": ["Score to must be at least the score from."],
        "created_to": ["Added to must be on or after the added from date."],
    }
    assert tenant.api().get("/api/v1/leads?score_min=60&score_max=10").status_code == 400
