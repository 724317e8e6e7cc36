"""Each Analytics chart has a text alternative: the canvas is an image named by a summary of its numbers, and the
numbers themselves are a table under it, from the same summary the chart draws."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.charts import chart_alternatives
from analytics.selectors import workspace_summary

from . import test_analytics

pytestmark = pytest.mark.django_db

# The hand-countable workspace of test_analytics.py.
busy_workspace, partner = test_analytics.busy_workspace, test_analytics.partner


def _today() -> str:
    today = timezone.now().date()
    return f"{today:%b} {today.day}"


def test_summaries_state_the_charted_numbers(busy_workspace):
    """The busy workspace: 100 credits added 10 days ago; today 20 + 5 + 3 credits spent, 2 marketplace leads,
    5 pulled from a segment and 1 added by hand."""
    charts = chart_alternatives(workspace_summary(workspace=busy_workspace.workspace, days=30))
    assert charts["usage"]["summary"] == (
        f"Credits by day over 30 days: 28.00 spent and 100.00 added. The most spent in a day: 28.00 on {_today()}."
    )
    assert charts["sources"]["summary"] == "8 leads by source: Lead database 5 (62%), Marketplace 2 (25%), Manual 1 (12%)."
    assert charts["acquisition"]["summary"] == f"New leads by day over 30 days: 8 in all. The most in a day: 8 on {_today()}."
    assert charts["quality"]["summary"] == "Leads by score: 0-19: 8, 20-39: 0, 40-59: 0, 60-79: 0, 80-100: 0."
    assert "partner" not in charts


def test_tables_hold_every_charted_row(busy_workspace):
    summary = workspace_summary(workspace=busy_workspace.workspace, days=30)
    charts = chart_alternatives(summary)
    usage = charts["usage"]
    assert usage["columns"] == ["Day", "Spent", "Added"] and len(usage["rows"]) == 30
    assert usage["rows"][-1] == [_today(), "28.00", "0.00"]
    assert sum(Decimal(row[1]) for row in usage["rows"]) == summary["credits_spent"]
    assert charts["sources"]["rows"] == [["Lead database", "5"], ["Marketplace", "2"], ["Manual", "1"]]
    assert sum(int(row[1]) for row in charts["quality"]["rows"]) == 8


def test_partner_chart_sums_sales_and_earnings(busy_workspace, partner):
    charts = chart_alternatives(workspace_summary(workspace=partner.workspace, days=30))
    assert re.fullmatch(
        r"Leads sold and credits earned by day over 30 days: 1 lead sold, \d+\.\d\d credits earned\.",
        charts["partner"]["summary"],
    )
    assert len(charts["partner"]["rows"]) == 30


def test_the_page_names_each_chart_and_lists_its_numbers(client, busy_workspace):
    client.force_login(busy_workspace.user)
    page = client.get("/analytics/").content.decode()
    for name in ("usage", "sources", "acquisition", "quality"):
        canvas = re.search(rf'<canvas id="chart-{name}"[^>]*>', page).group(0)
        assert 'role="img"' in canvas and 'aria-label="' in canvas, canvas
        assert f'data-testid="chart-numbers-{name}"' in page
    assert 'aria-label="8 leads by source: Lead database 5 (62%), Marketplace 2 (25%), Manual 1 (12%)."' in page
    assert '<th scope="row">Lead database</th><td class="mono">5</td>' in page
