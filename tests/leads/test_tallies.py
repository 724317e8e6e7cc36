"""The lead and tag tallies the database keeps (leads/migrations/0012): My Leads and the dashboard read them instead
of counting every lead, so they must match the leads after every kind of write."""

import pytest
from django.db import connection

from cursive.consistency import run_checks
from leads import views
from leads.duplicates import leads_merge
from leads.models import Lead, LeadTagTally, LeadTally
from leads.selectors import workspace_lead_count, workspace_tags
from leads.services import lead_create, leads_bulk_update

pytestmark = pytest.mark.django_db


def make(workspace, email, tags=None, **data):
    return lead_create(workspace=workspace, source=Lead.Source.MANUAL, data={"email": email, **data}, tags=tags)


def assert_tallies_match(workspace):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tag, count(*) FROM leads_lead, unnest(tags) AS tag WHERE workspace_id = %s GROUP BY 1", [workspace.pk]
        )
        counted = dict(cursor.fetchall())
    assert workspace_lead_count(workspace=workspace) == Lead.objects.filter(workspace=workspace).count()
    kept = dict(LeadTagTally.objects.filter(workspace=workspace, leads__gt=0).values_list("tag", "leads"))
    assert kept == counted
    assert workspace_tags(workspace=workspace) == sorted(counted)


def test_tallies_follow_creates_tags_deletes_and_merges(tenant, other_tenant):
    assert workspace_lead_count(workspace=tenant.workspace) == 0 and workspace_tags(workspace=tenant.workspace) == []
    leads = [make(tenant.workspace, f"p{n}@tally.example") for n in range(5)]
    make(other_tenant.workspace, "elsewhere@tally.example")
    assert workspace_lead_count(workspace=tenant.workspace) == 5
    assert workspace_lead_count(workspace=other_tenant.workspace) == 1

    ids = [lead.pk for lead in leads]
    leads_bulk_update(workspace=tenant.workspace, action="tag", lead_ids=ids[:3], tags="hot, q4")
    leads_bulk_update(workspace=tenant.workspace, action="tag", lead_ids=ids[2:], tags="cold")
    assert_tallies_match(tenant.workspace)
    assert workspace_tags(workspace=tenant.workspace) == ["cold", "hot", "q4"]

    leads_bulk_update(workspace=tenant.workspace, action="untag", lead_ids=ids, tags="q4")
    assert workspace_tags(workspace=tenant.workspace) == ["cold", "hot"], "a tag no lead carries is not offered"
    leads_bulk_update(workspace=tenant.workspace, action="delete", lead_ids=ids[:1])
    assert_tallies_match(tenant.workspace)

    # A merge saves the kept lead (the union of the tags) and deletes the other.
    leads_merge(workspace=tenant.workspace, keep_id=ids[1], merge_id=ids[4], actor=tenant.user)
    assert workspace_lead_count(workspace=tenant.workspace) == 3
    assert_tallies_match(tenant.workspace)
    assert_tallies_match(other_tenant.workspace)


def test_tallies_follow_raw_sql_and_a_lead_moved_to_another_workspace(tenant, other_tenant):
    lead = make(tenant.workspace, "moved@tally.example")
    with connection.cursor() as cursor:
        # Set-based writers (segment pulls, the bench) insert many leads in one statement.
        cursor.execute(
            """INSERT INTO leads_lead (workspace_id, email, first_name, last_name, phone, title, seniority, company_name,
                   company_domain, company_size, industry, city, state, zip, country, linkedin_url, source, status,
                   email_status, phone_status, score, tags, dedup_hash, source_detail, pages_viewed, seconds_on_site,
                   created_at, updated_at)
               SELECT %s, 'bulk' || i || '@tally.example', '', '', '', '', '', '', '', '', '', '', '', '', 'US', '',
                   'manual', 'new', 'unknown', 'unknown', 0, ARRAY['bulk', 'bulk-' || (i %% 2)]::varchar(50)[],
                   'tally-' || i, '', 0, 0, now(), now()
               FROM generate_series(1, 40) AS i""",
            [tenant.workspace.pk],
        )
    assert workspace_lead_count(workspace=tenant.workspace) == 41
    assert workspace_tags(workspace=tenant.workspace) == ["bulk", "bulk-0", "bulk-1"]
    Lead.objects.filter(pk=lead.pk).update(workspace=other_tenant.workspace, tags=["moved"])
    assert_tallies_match(tenant.workspace)
    assert_tallies_match(other_tenant.workspace)
    assert workspace_tags(workspace=other_tenant.workspace) == ["moved"]


def test_deleting_a_workspace_leaves_no_tallies_behind(tenant):
    for n in range(3):
        make(tenant.workspace, f"gone{n}@tally.example", tags=["x"])
    workspace_id = tenant.workspace.pk
    tenant.workspace.delete()  # as staff do in the admin: Django's cascade deletes the leads and the tallies
    assert not LeadTally.objects.filter(workspace_id=workspace_id).exists()
    assert not LeadTagTally.objects.filter(workspace_id=workspace_id).exists()


def test_my_leads_counts_exactly_from_the_tally_and_caps_a_filtered_count(client, tenant, monkeypatch):
    monkeypatch.setattr(views, "MATCHING_CAP", 3)
    for n in range(6):
        make(tenant.workspace, f"c{n}@tally.example", tags=["vip"] if n else [], industry="SaaS" if n < 5 else "Retail")
    client.force_login(tenant.user)
    everything = client.get("/leads/")
    assert everything.context["matching"] == 6
    assert 'data-testid="matching">6 leads<' in everything.content.decode(), "no filter: the exact count, past the cap"
    filtered = client.get("/leads/?industry=SaaS").content.decode()
    assert 'title="More than 3 leads match: counting stops there.' in filtered
    assert ">3+ leads</strong>" in filtered, "a filtered count stops at the cap, and says so"
    one = client.get("/leads/?industry=Retail")
    assert 'data-testid="matching">1 lead<' in one.content.decode()
    tagged = client.get("/leads/?tag=vip&sort=-created").content.decode()
    assert 'data-testid="matching">5 leads<' in tagged, "a tag alone: exact, from its tally"
    assert ">3+ leads</strong>" in client.get("/leads/?tag=vip&industry=SaaS").content.decode()
    nobody = client.get("/leads/?tag=nobody")
    assert nobody.context["matching"] == 0 and "No leads match these filters" in nobody.content.decode()


def test_my_leads_offers_the_workspace_tags_in_a_fixed_number_of_queries(client, tenant, django_assert_max_num_queries):
    for n in range(30):
        make(tenant.workspace, f"t{n}@tally.example", tags=[f"tag-{n % 7}"])
    client.force_login(tenant.user)
    page = client.get("/leads/").content.decode()
    assert all(f'<option value="tag-{n}"' in page for n in range(7))
    with django_assert_max_num_queries(12):
        client.get("/leads/")


def tally_findings():
    return [(check, finding) for check, finding in run_checks() if "tallies" in check]


def test_check_consistency_finds_a_tally_that_drifted(tenant):
    make(tenant.workspace, "a@tally.example", tags=["hot"])
    make(tenant.workspace, "b@tally.example")
    assert tally_findings() == []
    with connection.cursor() as cursor:
        cursor.execute("UPDATE leads_leadtally SET leads = 7 WHERE workspace_id = %s", [tenant.workspace.pk])
        cursor.execute("DELETE FROM leads_leadtagtally WHERE workspace_id = %s", [tenant.workspace.pk])
    assert tally_findings() == [
        ("lead tallies match the leads", f"Workspace {tenant.workspace.pk} has 2 leads but its tally says 7."),
        ("tag tallies match the leads", f"Workspace {tenant.workspace.pk} has 1 leads tagged #hot but its tally says 0."),
    ]
