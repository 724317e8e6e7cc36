"""The quality chart and the dashboard's week read past days from the summary tables and only today from the leads:
their cost does not grow with a workspace's history, and their figures still match the leads."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analytics.selectors import week_glance, workspace_summary
from analytics.services import analytics_rollup
from leads.models import Lead
from leads.services import ideal_customer_profile_update, lead_create, leads_rescore_all
from leads.tasks import rescore_workspace

pytestmark = pytest.mark.django_db


def leads_of(workspace, count, *, days_ago, **data):
    leads = [
        lead_create(
            workspace=workspace,
            source=Lead.Source.MANUAL,
            data={"email": f"d{days_ago}-{n}@rollup.example", "company_size": "51-200", "industry": "SaaS", **data},
        )
        for n in range(count)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead SET created_at = created_at - %s WHERE id = ANY(%s)",
            [timedelta(days=days_ago), [lead.pk for lead in leads]],
        )
    return leads


def bands(workspace, days=30):
    return {row["bucket"]: row["leads"] for row in workspace_summary(workspace=workspace, days=days)["quality"]}


def test_quality_counts_past_days_from_the_rollup_and_today_live(tenant):
    leads_of(tenant.workspace, 3, days_ago=3)
    leads_of(tenant.workspace, 2, days_ago=40)
    analytics_rollup(days=None)
    leads_of(tenant.workspace, 1, days_ago=0)
    # Every lead scores 15 (recency only: no profile, nothing verified).
    assert bands(tenant.workspace) == {"0-19": 4, "20-39": 0, "40-59": 0, "60-79": 0, "80-100": 0}
    assert bands(tenant.workspace, days=90)["0-19"] == 6
    assert bands(tenant.workspace, days=7)["0-19"] == 4


def test_a_new_profile_moves_the_quality_of_past_days_once_the_workspace_is_rescored(tenant):
    leads_of(tenant.workspace, 3, days_ago=3)
    analytics_rollup(days=None)
    assert bands(tenant.workspace)["0-19"] == 3
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=["SaaS"])
    rescore_workspace(workspace_id=tenant.workspace.pk)  # the job the profile change queued
    assert set(Lead.objects.filter(workspace=tenant.workspace).values_list("score", flat=True)) == {40}
    assert bands(tenant.workspace) == {"0-19": 0, "20-39": 0, "40-59": 3, "60-79": 0, "80-100": 0}, "no wait for the night"


def test_the_nightly_rescoring_moves_the_quality_of_past_days_too(tenant):
    leads_of(tenant.workspace, 2, days_ago=3)
    analytics_rollup(days=None)
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=[])
    assert bands(tenant.workspace)["0-19"] == 2, "not re-scored yet"
    assert leads_rescore_all() == 2
    assert bands(tenant.workspace) == {"0-19": 0, "20-39": 2, "40-59": 0, "60-79": 0, "80-100": 0}


def test_the_dashboard_week_counts_rolled_up_days_and_today(tenant):
    leads_of(tenant.workspace, 3, days_ago=2)
    leads_of(tenant.workspace, 4, days_ago=6)
    leads_of(tenant.workspace, 5, days_ago=8)
    analytics_rollup(days=None)
    leads_of(tenant.workspace, 1, days_ago=0)
    assert week_glance(workspace=tenant.workspace)["leads"] == 8, "the last 7 days, today included"
    Lead.objects.filter(workspace=tenant.workspace, created_at__gte=timezone.now() - timedelta(hours=1)).delete()
    assert week_glance(workspace=tenant.workspace)["leads"] == 7
