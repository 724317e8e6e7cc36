"""The Pixels and Visitors pages in Chromium, under the Content-Security-Policy: the install check and the test
pageview update without a reload, and the visitor list refreshes itself keeping the filters and the rows shown."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from visitors import views
from visitors.models import Pixel, Visitor
from visitors.services import events_record, pixel_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base, tenant):
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(tenant.user.email)
    page.get_by_label("Password").fill(tenant.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def _watch(page) -> list[str]:
    problems: list[str] = []

    def on_console(message):
        if message.type == "error" or "Content Security" in message.text:
            problems.append(f"{message.type}: {message.text} {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def _pageview(pixel, key, url, **identity):
    event = {"type": "pageview", "visitor": key, "url": url, "referrer": "", "title": "", "name": "", "engaged_ms": 4000}
    events_record(events=[(pixel.pk, event)])
    if identity:
        Visitor.objects.filter(pixel=pixel, key=key).update(**identity)


def test_add_a_pixel_see_it_go_active_and_find_the_test_pageview(page, live_server, tenant):
    base = live_server.url
    _log_in(page, base, tenant)
    problems = _watch(page)
    page.get_by_role("link", name="Website pixel", exact=True).click()
    page.get_by_label("Name").fill("Main site")
    page.get_by_label("Domain").fill("example.com")
    page.get_by_role("button", name="Add website pixel").click()
    expect(page.get_by_test_id("pixel-snippet")).to_contain_text("data-site=")
    expect(page.get_by_test_id("install-status")).to_contain_text("waiting")
    pixel = Pixel.objects.get(workspace=tenant.workspace)

    _pageview(pixel, "first", "https://example.com/")
    expect(page.get_by_test_id("install-status")).to_contain_text("active", timeout=12_000)
    expect(page.get_by_test_id("install-status")).to_contain_text("last event")

    page.get_by_test_id("test-url").fill(f"{base}/pixels/?from=test")
    with page.context.expect_page() as opened:
        page.get_by_test_id("send-test").click()
    tab = opened.value
    token = re.search(r"cursive_test=([\w-]+)", tab.url).group(1)
    assert tab.url.startswith(f"{base}/pixels/?from=test&cursive_test=")
    expect(page.get_by_test_id("test-result")).to_contain_text("Looking for the test pageview")
    _pageview(pixel, "tester", f"https://example.com/?cursive_test={token}")
    expect(page.get_by_test_id("test-found")).to_contain_text(f"cursive_test={token}", timeout=8_000)
    assert problems == []


def test_visitor_list_updates_live_keeping_filters_and_loaded_rows(page, live_server, tenant, monkeypatch):
    monkeypatch.setattr(views, "VISITORS_PAGE_SIZE", 2)
    base = live_server.url
    pixel = pixel_create(workspace=tenant.workspace, name="Main site", domain="example.com")
    for n in range(3):
        _pageview(pixel, f"anon-{n}", f"https://example.com/blog/{n}")
    _pageview(pixel, "ada", "https://example.com/pricing", company_name="Initech", identified_by="ip")
    _log_in(page, base, tenant)
    problems = _watch(page)
    page.goto(f"{base}/visitors/")
    rows = page.get_by_test_id("visitor-row")
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="Load more").click()
    expect(rows).to_have_count(4)
    # A new visitor arrives: the next poll shows it on top and keeps as many rows as were loaded; the oldest
    # moves back behind "Load more".
    _pageview(pixel, "newcomer", "https://example.com/new")
    expect(rows.first).to_contain_text("/new", timeout=12_000)
    expect(rows).to_have_count(4)
    expect(page.get_by_role("link", name="Load more")).to_be_visible()
    # A filter narrows the list, and the poll keeps it.
    page.get_by_label("Company").fill("init")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(f"{base}/visitors/?period=7d&company=init")
    _pageview(pixel, "another", "https://example.com/other")
    page.wait_for_timeout(6_000)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("via IP range")
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_test_id("visitor-drawer")).to_contain_text("https://example.com/pricing")
    assert problems == []


def test_pages_fit_a_phone(page, live_server, tenant):
    page.set_viewport_size({"width": 390, "height": 844})
    pixel = pixel_create(workspace=tenant.workspace, name="Main site", domain="example.com")
    _pageview(pixel, "ada", "https://example.com/pricing?with=a&very=long&query=string&that=should&wrap=nicely")
    _log_in(page, live_server.url, tenant)
    for path in ("/pixels/", f"/pixels/{pixel.pk}/", "/visitors/"):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
