from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import DailyPixelPages
from analytics.selectors import pixel_performance, visitors_today, workspace_summary
from analytics.services import analytics_rollup
from visitors.models import Event

from .pixel_data import backdate, identify, make_pixel, record

pytestmark = pytest.mark.django_db

SITE = "https://example.com"


@pytest.fixture
def traffic(tenant):
    """Hand-countable traffic today on one pixel: 6 visitors, 10 events.
    a: 3 pageviews (/pricing twice with different query strings, /), 1 engagement, not identified;
    b: /pricing#plans, identified by a form at Initech (the company the person gave);
    c: /docs, /docs?page=2, identified by IP as Globex (globex.example);
    d: /, identified by an identify call; e: /blog, by an email click, Globex network too;
    f: one track event, no pageview."""
    pixel = make_pixel(tenant.workspace)
    record(pixel, "a", f"{SITE}/pricing?utm_source=ads", f"{SITE}/pricing?utm_source=news", f"{SITE}/")
    record(pixel, "a", type="engagement", engaged_ms=9000)
    record(pixel, "b", f"{SITE}/pricing#plans")
    record(pixel, "c", f"{SITE}/docs", f"{SITE}/docs?page=2")
    record(pixel, "d", f"{SITE}/")
    record(pixel, "e", f"{SITE}/blog")
    record(pixel, "f", f"{SITE}/signup", type="track")
    identify(pixel, "b", by="form", email="bo@initech.example", person_company_name="Initech")
    identify(pixel, "c", by="ip", company_name="Globex", company_domain="globex.example")
    identify(pixel, "d", by="identify", email="di@example.org")
    identify(pixel, "e", by="email_click", email="ed@globex.example", company_name="Globex", company_domain="globex.example")
    return tenant, pixel


def test_pixel_performance_figures(traffic):
    tenant, _ = traffic
    pixel = workspace_summary(workspace=tenant.workspace, days=30)["pixel"]
    assert pixel["events"] == 10
    assert pixel["visitors"] == 6
    assert pixel["identified_people"] == 3 and pixel["identified_people_rate"] == 50.0, "form, identify, email click of 6"
    assert pixel["identified_companies_only"] == 1 and pixel["identified_companies_only_rate"] == 16.7, "the IP one, apart"
    methods = {row["method"]: row for row in pixel["by_method"]}
    assert {m: (row["visitors"], row["rate"], row["person"]) for m, row in methods.items()} == {
        "identify": (1, 16.7, True),
        "form": (1, 16.7, True),
        "email_click": (1, 16.7, True),
        "ip": (1, 16.7, False),
    }
    assert pixel["top_pages"] == [
        {"url": f"{SITE}/pricing", "pageviews": 3},
        {"url": f"{SITE}/", "pageviews": 2},
        {"url": f"{SITE}/docs", "pageviews": 2},
        {"url": f"{SITE}/blog", "pageviews": 1},
    ], "pageviews only, query strings and fragments dropped"
    assert pixel["top_companies"] == [
        {"name": "Globex", "domain": "globex.example", "visitors": 2, "people": 1, "pageviews": 3},
        {"name": "Initech", "domain": None, "visitors": 1, "people": 1, "pageviews": 1},
    ]


def test_top_lists_stop_at_ten(tenant):
    pixel = make_pixel(tenant.workspace)
    for i in range(12):
        record(pixel, f"v{i}", *[f"{SITE}/page-{i}"] * (i + 1))
        identify(pixel, f"v{i}", by="ip", company_name=f"Company {i:02d}")
    performance = workspace_summary(workspace=tenant.workspace, days=7)["pixel"]
    assert [row["url"] for row in performance["top_pages"]] == [f"{SITE}/page-{i}" for i in range(11, 1, -1)]
    assert len(performance["top_companies"]) == 10
    assert performance["top_companies"][0] == {
        "name": "Company 00",
        "domain": None,
        "visitors": 1,
        "people": 0,
        "pageviews": 1,
    }, "ties by name"


def test_the_period_bounds_every_figure(traffic):
    tenant, pixel = traffic
    backdate(pixel, "a", by=timedelta(days=10))
    backdate(pixel, "c", by=timedelta(days=40))
    analytics_rollup(days=None)
    week = workspace_summary(workspace=tenant.workspace, days=7)["pixel"]
    assert week["events"] == 10 - 4 - 2 and week["visitors"] == 4
    assert week["identified_companies_only"] == 0 and week["identified_people_rate"] == 75.0
    assert [row["url"] for row in week["top_pages"]] == [f"{SITE}/", f"{SITE}/blog", f"{SITE}/pricing"]
    assert [row["name"] for row in week["top_companies"]] == ["Globex", "Initech"]
    assert week["top_companies"][0]["visitors"] == 1, "c's visit is 40 days old"
    month = workspace_summary(workspace=tenant.workspace, days=30)["pixel"]
    assert month["events"] == 10 - 2 and month["visitors"] == 5
    assert month["top_pages"][0] == {"url": f"{SITE}/pricing", "pageviews": 3}
    quarter = workspace_summary(workspace=tenant.workspace, days=90)["pixel"]
    assert quarter["events"] == 10 and quarter["identified_companies_only"] == 1


def test_another_workspaces_traffic_is_never_counted(traffic, other_tenant):
    tenant, _ = traffic
    theirs = make_pixel(other_tenant.workspace)
    record(theirs, "a", f"{SITE}/pricing", f"{SITE}/pricing", f"{SITE}/pricing")
    record(theirs, "z", f"{SITE}/secret")
    identify(theirs, "z", by="ip", company_name="Hooli")
    ours = workspace_summary(workspace=tenant.workspace, days=30)["pixel"]
    assert ours["events"] == 10 and ours["visitors"] == 6
    assert ours["top_pages"][0] == {"url": f"{SITE}/pricing", "pageviews": 3}
    assert "Hooli" not in [row["name"] for row in ours["top_companies"]]
    assert f"{SITE}/secret" not in [row["url"] for row in ours["top_pages"]]
    theirs_summary = workspace_summary(workspace=other_tenant.workspace, days=30)["pixel"]
    assert theirs_summary["events"] == 4 and theirs_summary["visitors"] == 2
    assert [row["name"] for row in theirs_summary["top_companies"]] == ["Hooli"]


def test_the_analytics_page_shows_pixel_performance(client, traffic):
    tenant, _ = traffic
    client.force_login(tenant.user)
    page = client.get("/analytics/?period=7").content.decode()
    assert 'data-testid="pixel-events">10<' in page and 'data-testid="pixel-visitors">6<' in page
    assert 'data-testid="pixel-people-rate">50.0%<' in page and 'data-testid="pixel-companies-rate">16.7%<' in page
    assert f"{SITE}/pricing</td><td>3</td></tr>" in page
    assert (
        '<td class="cell-title">Globex</td><td data-label="Domain">globex.example</td><td data-label="Visitors">2</td>'
        '<td data-label="People identified">1</td><td data-label="Pageviews">3</td>'
    ) in page
    assert 'data-testid="pixel-empty"' not in page


def test_empty_states(client, tenant):
    client.force_login(tenant.user)
    assert workspace_summary(workspace=tenant.workspace, days=30)["pixel"] is None
    page = client.get("/analytics/").content.decode()
    assert 'data-testid="pixel-empty"' in page and 'href="/pixels/"' in page

    make_pixel(tenant.workspace)
    performance = workspace_summary(workspace=tenant.workspace, days=30)["pixel"]
    assert performance["events"] == 0 and performance["visitors"] == 0
    assert performance["identified_people_rate"] is None and performance["top_pages"] == []
    page = client.get("/analytics/").content.decode()
    assert 'data-testid="pixel-empty"' not in page and 'data-testid="pixel-events">0<' in page
    assert "No pageviews in this period." in page and 'data-testid="pixel-people-rate">—<' in page


def test_the_summary_api_adds_the_pixel_figures(traffic):
    tenant, _ = traffic
    body = tenant.api().get("/api/v1/analytics/summary?period=7").json()
    assert {"period_days", "credit_usage", "lead_sources", "quality", "segments"} <= set(body)
    assert body["pixel"]["events"] == 10 and body["pixel"]["identified_people_rate"] == 50.0
    assert body["pixel"]["top_pages"][0] == {"url": f"{SITE}/pricing", "pageviews": 3}
    assert body["pixel"]["top_companies"][0]["domain"] == "globex.example"


def test_the_page_reads_pixel_figures_in_a_fixed_number_of_queries(client, traffic, django_assert_max_num_queries):
    tenant, pixel = traffic
    second = make_pixel(tenant.workspace, domain="example.org")
    client.force_login(tenant.user)
    with django_assert_max_num_queries(25) as before:
        client.get("/analytics/?period=30")
    for i in range(40):
        record(pixel if i % 2 else second, f"more{i}", f"{SITE}/p{i}", f"{SITE}/q{i}")
        identify(pixel if i % 2 else second, f"more{i}", by="ip", company_name=f"Co {i}")
    assert Event.objects.count() == 10 + 80
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get("/analytics/?period=30")


def test_pixel_queries_are_bounded_by_pixel_and_period(traffic, django_assert_max_num_queries):
    """Every read of the events names the workspace's pixels and the period's start, which the partitions
    and the (pixel_id, received_at) index serve."""
    tenant, _ = traffic
    with django_assert_max_num_queries(6) as captured:
        pixel_performance(workspace=tenant.workspace, start=timezone.now().date() - timedelta(days=6))
    event_reads = [q["sql"] for q in captured.captured_queries if "visitors_event" in q["sql"]]
    assert len(event_reads) == 2, "today's count and today's pages"
    assert '"visitors_event"."pixel_id" IN' in event_reads[0] and '"visitors_event"."received_at" >=' in event_reads[0]
    assert "pixel_id = ANY(" in event_reads[1] and "received_at >=" in event_reads[1]


def test_dashboard_shows_todays_visitors_and_identified_people(client, traffic):
    tenant, pixel = traffic
    record(pixel, "g", f"{SITE}/")
    backdate(pixel, "g", by=timedelta(days=1, hours=1))
    identify(pixel, "g", by="form", email="gone@example.org")
    assert visitors_today(workspace=tenant.workspace) == {"visitors": 6, "identified_people": 3}
    client.force_login(tenant.user)
    page = client.get("/").content.decode()
    assert 'data-testid="dash-visitors-today"><a href="/visitors/">6</a>' in page
    assert 'data-testid="dash-identified-today"><a href="/visitors/">3</a>' in page


def test_dashboard_without_a_pixel_links_to_the_pixel_page(client, tenant, other_tenant):
    record(make_pixel(other_tenant.workspace), "x", f"{SITE}/")
    assert visitors_today(workspace=tenant.workspace) is None
    client.force_login(tenant.user)
    page = client.get("/").content.decode()
    assert 'data-testid="dash-add-pixel"' in page and 'href="/pixels/"' in page
    assert 'data-testid="dash-visitors-today"' not in page


def test_past_days_come_from_the_rollup_and_today_is_live(traffic):
    tenant, pixel = traffic
    backdate(pixel, "a", by=timedelta(days=1))
    week = workspace_summary(workspace=tenant.workspace, days=7)["pixel"]
    assert week["events"] == 6 and week["top_pages"][0] == {"url": f"{SITE}/docs", "pageviews": 2}, "yesterday not rolled up yet"
    analytics_rollup(days=2)
    record(pixel, "h", f"{SITE}/pricing?ref=x")
    week = workspace_summary(workspace=tenant.workspace, days=7)["pixel"]
    assert week["events"] == 11, "yesterday's 4 from the rollup, today's 7 live"
    assert week["top_pages"][:2] == [{"url": f"{SITE}/pricing", "pageviews": 4}, {"url": f"{SITE}/", "pageviews": 2}]


def test_the_rollup_counts_events_and_pageviews_per_page_and_day(tenant):
    pixel = make_pixel(tenant.workspace)
    long_url = f"{SITE}/{'ü' * 2000}"
    record(pixel, "a", f"{SITE}/pricing?a=1", f"{SITE}/pricing#top", long_url)
    record(pixel, "a", f"{SITE}/pricing", type="engagement", engaged_ms=5000)
    record(pixel, "b", type="track")
    backdate(pixel, "a", by=timedelta(days=1))
    analytics_rollup(days=2)
    analytics_rollup(days=2)
    yesterday = timezone.now().date() - timedelta(days=1)
    rows = {row.page: (row.day, row.events, row.pageviews) for row in DailyPixelPages.objects.filter(pixel_id=pixel.pk)}
    assert rows[f"{SITE}/pricing"] == (yesterday, 3, 2) and rows[long_url] == (yesterday, 1, 1)
    assert rows[""] == (timezone.now().date(), 1, 0)
    assert len(rows) == 3, "run twice, counted once"

    from visitors.services import pixel_delete

    pixel_delete(workspace=tenant.workspace, pixel_id=pixel.pk)
    assert not DailyPixelPages.objects.exists()
