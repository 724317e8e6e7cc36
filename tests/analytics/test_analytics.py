from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.selectors import workspace_summary
from analytics.services import analytics_rollup
from credits.models import CreditTransaction
from credits.services import credits_spend
from leads.models import Lead
from leads.services import lead_create
from marketplace.services import purchase_create
from segments.services import segment_create, segment_pull
from tests.marketplace.conftest import fund, make_listing
from tests.segments.conftest import make_person

pytestmark = pytest.mark.django_db
D = Decimal


def backdate_ledger(workspace, days):
    """Move the workspace's ledger rows `days` into the past (a test-only rewrite of history)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending, or ALTER TABLE refuses
        cursor.execute("ALTER TABLE credits_credittransaction DISABLE TRIGGER credits_ledger_append_only")
        CreditTransaction.objects.filter(account__workspace=workspace).update(created_at=timezone.now() - timedelta(days=days))
        cursor.execute("ALTER TABLE credits_credittransaction ENABLE TRIGGER credits_ledger_append_only")


@pytest.fixture
def busy_workspace(tenant, partner):
    """A buyer with hand-countable activity: 100 credits added 10 days ago, then today 2 marketplace leads
    (12 + 8 credits), 5 people pulled from a segment (5 credits), 1 manual lead and a 3-credit spend."""
    fund(tenant.workspace, 100)
    backdate_ledger(tenant.workspace, 10)
    listings = [make_listing(price="12.00", partner=partner.workspace), make_listing(price="8.00")]
    purchase_create(workspace=tenant.workspace, lead_ids=[listing.pk for listing in listings])
    for i in range(5):
        make_person(score=70 + i)
    segment = segment_create(workspace=tenant.workspace, name="Pulls", filters={})
    segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=5)
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "hand@made.example"})
    credits_spend(workspace=tenant.workspace, amount="3", reference="purchase:0")
    analytics_rollup(days=None)
    return tenant


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory("Partner", kind="partner")


def test_credit_usage_burn_rate_and_depletion(busy_workspace):
    summary = workspace_summary(workspace=busy_workspace.workspace, days=30)
    today = timezone.now().date()
    usage = {row["day"]: row for row in summary["credit_usage"]}
    assert len(usage) == 30
    assert usage[today]["spent"] == D("28.00"), "12 + 8 + 5 + 3"
    assert usage[today - timedelta(days=10)]["added"] == D("100.00")
    assert summary["credits_spent"] == D("28.00")
    assert summary["burn_rate_per_day"] == D("0.93"), "28 / 30"
    assert summary["balance"] == D("72.00")
    assert summary["projected_depletion_date"] == today + timedelta(days=77), "floor(72 / 0.93)"
    week = workspace_summary(workspace=busy_workspace.workspace, days=7)
    assert week["credits_spent"] == D("28.00") and week["burn_rate_per_day"] == D("4.00")


def test_sources_cost_per_lead_acquisition_and_quality(busy_workspace):
    summary = workspace_summary(workspace=busy_workspace.workspace, days=30)
    sources = {row["source"]: row for row in summary["lead_sources"]}
    assert sources["marketplace"]["leads"] == 2 and sources["marketplace"]["credits"] == D("23.00"), "20 + the 3 on purchase:0"
    assert sources["marketplace"]["cost_per_lead"] == D("11.50")
    assert sources["database"]["leads"] == 5 and sources["database"]["cost_per_lead"] == D("1.00")
    assert sources["manual"]["leads"] == 1 and sources["manual"]["cost_per_lead"] == D("0.00")
    assert [row["source"] for row in summary["lead_sources"]][0] == "database", "most leads first"
    today = timezone.now().date()
    assert {row["day"]: row["leads"] for row in summary["daily_acquisition"]}[today] == 8
    assert sum(row["leads"] for row in summary["quality"]) == 8
    assert summary["segments"] == [
        {"id": summary["segments"][0]["id"], "name": "Pulls", "runs": 1, "people_pulled": 5, "credits_spent": D("5.00")}
    ]


def test_enrichment_is_a_source_with_its_cost_today_and_after_the_rollup(tenant):
    from django.db import connection

    fund(tenant.workspace, 10)
    for n in range(2):
        lead_create(workspace=tenant.workspace, source=Lead.Source.ENRICHMENT, data={"email": f"e{n}@list.example"})
    credits_spend(workspace=tenant.workspace, amount="0.40", reference="enrichment:0")

    def enrichment_source():
        sources = {row["source"]: row for row in workspace_summary(workspace=tenant.workspace)["lead_sources"]}
        return sources["enrichment"]["leads"], sources["enrichment"]["credits"], sources["enrichment"]["cost_per_lead"]

    assert enrichment_source() == (2, D("0.40"), D("0.20"))
    backdate_ledger(tenant.workspace, 2)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead SET created_at = created_at - interval '2 days' WHERE workspace_id = %s", [tenant.workspace.pk]
        )
    analytics_rollup(days=None)
    assert enrichment_source() == (2, D("0.40"), D("0.20")), "from the daily tables"


def test_partner_sales_and_earnings_by_day(busy_workspace, partner):
    summary = workspace_summary(workspace=partner.workspace, days=7)
    today_row = summary["partner"]["by_day"][-1]
    assert today_row == {"day": timezone.now().date(), "sales": 1, "earned": D("8.40")}
    assert "partner" not in workspace_summary(workspace=busy_workspace.workspace, days=7)


def test_rollup_follows_deletions_and_refunds_in_the_window(busy_workspace):
    Lead.objects.filter(workspace=busy_workspace.workspace, source="manual").delete()
    analytics_rollup(days=2)
    sources = {row["source"] for row in workspace_summary(workspace=busy_workspace.workspace)["lead_sources"]}
    assert "manual" not in sources


def test_summary_api(busy_workspace):
    body = busy_workspace.api().get("/api/v1/analytics/summary?period=7").json()
    assert body["period_days"] == 7 and body["credits_spent"] == "28.00" and body["burn_rate_per_day"] == "4.00"
    assert len(body["credit_usage"]) == 7 and body["credit_usage"][-1]["spent"] == "28.00"
    assert body["lead_sources"][0]["source"] == "database"
    assert busy_workspace.api().get("/api/v1/analytics/summary?period=12").status_code == 400


def test_analytics_page_and_its_query_count(client, busy_workspace, django_assert_max_num_queries):
    client.force_login(busy_workspace.user)
    with django_assert_max_num_queries(20) as before:
        page = client.get("/analytics/?period=30").content.decode()
    assert 'data-chart="usage"' in page and 'data-chart="sources"' in page and "chart-4.6.1.umd.min.js" in page
    for i in range(30):
        lead_create(workspace=busy_workspace.workspace, source=Lead.Source.MANUAL, data={"email": f"more{i}@x.example"})
    analytics_rollup(days=2)
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get("/analytics/?period=30")


def test_analytics_empty_states(client, tenant):
    client.force_login(tenant.user)
    page = client.get("/analytics/").content.decode()
    assert "No credits spent or added in this period." in page and "No leads acquired in this period." in page
    assert "data-chart=" not in page


def test_dashboard_glance_and_suggestion(client, busy_workspace):
    client.force_login(busy_workspace.user)
    page = client.get("/").content.decode()
    assert 'data-testid="dash-balance">72.00' in page and 'data-testid="dash-leads-week">8' in page
    assert 'data-testid="dash-spent-week">28.00' in page
    assert 'data-testid="suggestion"' in page and "Tell us who you sell to" in page, "no profile set yet"


def test_no_suggestion_before_the_first_lead(client, tenant):
    client.force_login(tenant.user)
    page = client.get("/").content.decode()
    assert 'data-testid="suggestion"' not in page and 'data-testid="getting-started"' in page


def test_staff_monitoring_page(client, tenant):
    from accounts.services import user_create

    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    listing = make_listing()
    fund(tenant.workspace, 50)
    api = tenant.api()
    api.post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json")
    api.post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json")  # 409
    client.force_login(staff)
    assert b"Monitoring" in client.get("/admin/").content
    page = client.get("/admin/monitoring/").content.decode()
    assert 'data-testid="conflict-rate">50.0% of 2' in page
    assert "api-marketplace-purchases" in page
    client.logout()
    assert client.get("/admin/monitoring/").status_code == 302


def test_names_cannot_break_out_of_the_chart_data(client, tenant):
    from segments.models import SegmentRun
    from segments.services import segment_create, segment_preview

    evil = "</script><script>alert(document.domain)</script>"
    segment = segment_create(workspace=tenant.workspace, name=evil, filters={})
    segment_preview(workspace=tenant.workspace, segment_id=segment.pk, mode=SegmentRun.Mode.PREVIEW)
    client.force_login(tenant.user)
    page = client.get("/analytics/").content.decode()
    assert "<script>alert" not in page
    assert "\\u003C/script\\u003E\\u003Cscript\\u003Ealert" in page, "the name is in the chart data, escaped"


def test_a_purchase_made_a_minute_ago_shows_at_once(client, busy_workspace, partner):
    """Rollups run every few minutes; the current day is read live, so nothing waits for the next one."""
    listing = make_listing(price="6.00", partner=partner.workspace)
    purchase_create(workspace=busy_workspace.workspace, lead_ids=[listing.pk])
    summary = workspace_summary(workspace=busy_workspace.workspace, days=7)
    today = timezone.now().date()
    assert summary["credit_usage"][-1] == {"day": today, "spent": D("34.00"), "added": D("0.00")}
    assert summary["credits_spent"] == D("34.00") and summary["balance"] == D("66.00")
    sources = {row["source"]: row for row in summary["lead_sources"]}
    assert sources["marketplace"]["leads"] == 3 and sources["marketplace"]["credits"] == D("29.00")
    assert summary["daily_acquisition"][-1] == {"day": today, "leads": 9}
    assert workspace_summary(workspace=partner.workspace, days=7)["partner"]["by_day"][-1]["sales"] == 2
    body = busy_workspace.api().get("/api/v1/analytics/summary?period=7").json()
    assert body["credits_spent"] == "34.00" and body["credit_usage"][-1]["spent"] == "34.00"
    client.force_login(busy_workspace.user)
    assert 'data-testid="dash-spent-week">34.00' in client.get("/").content.decode()


def test_history_still_comes_from_the_rollups(busy_workspace):
    backdate_ledger(busy_workspace.workspace, 3)
    summary = workspace_summary(workspace=busy_workspace.workspace, days=7)
    assert summary["credit_usage"][-1]["spent"] == D("0.00"), "the ledger moved; today is live"
    assert summary["credits_spent"] == D("0.00"), "the rollup has not run since: days before today are rolled up"
    analytics_rollup(days=None)
    summary = workspace_summary(workspace=busy_workspace.workspace, days=7)
    assert summary["credit_usage"][-4]["spent"] == D("28.00") and summary["credits_spent"] == D("28.00")
