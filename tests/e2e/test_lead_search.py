"""A buyer builds an audience in Lead Search, saves it as a segment and pulls people into My Leads, in a real browser.

The lead database is filled by the real demo loader (``leads.demo.fill_lead_database``, COPY) with 400 generated
people. Log in through the form, open Lead Search from the sidebar, tick an industry and then a seniority: each
change swaps #search-results in place (htmx, no page load), the count follows the database and the filters are
pushed into the URL. Save the search as a segment, reload its page (the filters are still ticked), find it under
Segments in the sidebar, pull 25 people and see them in My Leads (source "Lead database") with the balance down
by exactly 25 credits, on the page and in the ledger.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import Count, Sum
from playwright.sync_api import expect

from credits.models import CreditAccount, CreditTransaction
from leads.demo import fill_lead_database
from leads.models import Lead, Person, Seniority
from segments.models import Segment, SegmentRun
from segments.services import search_count
from tests.marketplace.conftest import fund

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PEOPLE = 400
FUNDING = Decimal("100.00")
PULL = 25
SEGMENT_NAME = "Managers in our best industry"


def _shown(count: int) -> str:
    return f"{count:,}"  # the page renders counts with intcomma


def test_search_save_segment_and_pull_into_my_leads(page, live_server, tenant_factory):
    base = live_server.url
    buyer = tenant_factory("Harbor Analytics")
    fund(buyer.workspace, FUNDING)
    # The facets (industries and states on offer) are cached for minutes in this process, which the live server
    # shares: forget any computed over another test's people.
    cache.clear()
    _, added = fill_lead_database(PEOPLE)
    assert added == PEOPLE == Person.objects.count()

    # The filters to tick: the most common industry, then its most common seniority (enough people to pull 25).
    by_industry = Person.objects.values("industry").annotate(n=Count("id")).order_by("-n", "industry")
    industry = by_industry[0]["industry"]
    by_seniority = (
        Person.objects.filter(industry=industry).values("seniority").annotate(n=Count("id")).order_by("-n", "seniority")
    )
    seniority = by_seniority[0]["seniority"]
    seniority_label = Seniority(seniority).label
    total = search_count(filters={})
    industry_count = search_count(filters={"industry": [industry]})
    both_count = search_count(filters={"industry": [industry], "seniority": [seniority]})
    assert total == PEOPLE
    assert total > industry_count > both_count >= PULL, (total, industry_count, both_count)
    expected_filters = {"industry": [industry], "seniority": [seniority]}
    # The people a pull of 25 takes: the best-scoring matches first (ties by id).
    pulled_people = list(Person.objects.filter(industry=industry, seniority=seniority).order_by("-score", "id")[:PULL])

    # Log in through the real form.
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(buyer.user.email)
    page.get_by_label("Password").fill(buyer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")
    balance_widget = page.get_by_test_id("nav-balance")
    expect(balance_widget).to_contain_text("100.00")

    # Lead Search, through the sidebar: everybody matches, a sample of the best-scoring ten is shown.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Lead Search").click()
    expect(page).to_have_url(f"{base}/search/")
    expect(page.get_by_role("heading", name="Lead Search", exact=True)).to_be_visible()
    count = page.get_by_test_id("search-count")
    samples = page.get_by_test_id("sample-row")
    expect(count).to_have_text(_shown(total))
    expect(samples).to_have_count(10)
    form = page.locator("#search-form")
    industry_box = form.get_by_label(industry, exact=True)
    seniority_box = form.get_by_label(seniority_label, exact=True)
    expect(industry_box).not_to_be_checked()
    expect(seniority_box).not_to_be_checked()

    # First filter, an industry: htmx swaps #search-results in place and pushes the filter into the URL.
    page.evaluate("window.__sameDocument = true")
    industry_box.check()
    expect(count).to_have_text(_shown(industry_count))
    expect(page).to_have_url(re.compile(r"/search/\?.*\bindustry="))
    expect(samples).to_have_count(10)
    for row in samples.all():
        expect(row).to_contain_text(industry)

    # Second filter, a seniority: the count narrows again, both filters are in the URL.
    seniority_box.check()
    expect(count).to_have_text(_shown(both_count))
    expect(page).to_have_url(re.compile(r"/search/\?.*\bseniority="))
    expect(samples).to_have_count(10)
    for row in samples.all():
        expect(row).to_contain_text(industry)
        expect(row).to_contain_text(seniority_label)
    assert page.evaluate("window.__sameDocument") is True, "filtering reloaded the whole page"
    query = parse_qs(urlsplit(page.url).query)
    assert (query["industry"], query["seniority"]) == ([industry], [seniority]), page.url
    # Contact details stay masked until a pull.
    html = page.content()
    for person in pulled_people[:10]:
        assert person.email not in html, f"{person.email} is shown in full before it was pulled"
    page.screenshot(path=str(artifact_path("lead_search-search-filtered.png")), full_page=True)

    # Save as a segment: the segment page, with the toast and the count of its first preview.
    page.locator("#segment-name").fill(SEGMENT_NAME)
    page.get_by_role("button", name="Save segment").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/segments/") + r"\d+/$"))
    segment = Segment.objects.get(workspace=buyer.workspace)
    segment_url = f"{base}/segments/{segment.pk}/"
    expect(page).to_have_url(segment_url)
    assert (segment.name, segment.filters, segment.created_by_id) == (SEGMENT_NAME, expected_filters, buyer.user.pk)
    expect(page.locator("#toasts")).to_contain_text(f"Saved segment “{SEGMENT_NAME}”.")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(SEGMENT_NAME)
    expect(page.locator(".page-head")).to_contain_text(f"{_shown(both_count)} people matched")

    # A reload shows the saved segment with its filters ticked, and nothing else ticked.
    page.reload()
    expect(page).to_have_url(segment_url)
    expect(heading).to_have_text(SEGMENT_NAME)
    editor = page.locator("form.filters")
    expect(editor.get_by_label("Name", exact=True)).to_have_value(SEGMENT_NAME)
    expect(editor.get_by_label(industry, exact=True)).to_be_checked()
    expect(editor.get_by_label(seniority_label, exact=True)).to_be_checked()
    expect(editor.locator("input[type=checkbox]:checked")).to_have_count(2)
    expect(page.get_by_label("People to pull")).to_have_value(str(PULL))

    # Segments, through the sidebar: the new segment is listed with its count.
    nav.get_by_role("link", name="Segments").click()
    expect(page).to_have_url(f"{base}/segments/")
    rows = page.get_by_test_id("segment-row")
    expect(rows).to_have_count(1)
    row = rows.filter(has_text=SEGMENT_NAME)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text(_shown(both_count))

    # Open it and pull 25 people.
    row.get_by_role("link", name=SEGMENT_NAME).click()
    expect(page).to_have_url(segment_url)
    page.get_by_label("People to pull").fill(str(PULL))
    page.get_by_test_id("pull").click()
    expect(page).to_have_url(segment_url)
    expect(page.locator("#toasts")).to_contain_text(
        f"Pulled {PULL} new leads into My Leads for {PULL}.00 credits (0 already yours)."
    )
    expect(balance_widget).to_contain_text(str(FUNDING - PULL))
    history = page.locator("section", has=page.get_by_role("heading", name="History", exact=True))
    expect(history.locator("tbody tr").first).to_contain_text("Pull")
    page.screenshot(path=str(artifact_path("lead_search-segment.png")), full_page=True)

    # My Leads, through the sidebar: the 25 pulled people, full emails, source "Lead database".
    nav.get_by_role("link", name="My Leads").click()
    expect(page).to_have_url(f"{base}/leads/")
    lead_rows = page.locator("#lead-results tbody tr")
    expect(lead_rows).to_have_count(PULL)
    expect(page.locator("#lead-results")).to_contain_text(pulled_people[0].email)
    for person in pulled_people:
        lead_row = lead_rows.filter(has_text=person.email)
        expect(lead_row).to_have_count(1)
        expect(lead_row).to_contain_text("Lead database")
    expect(balance_widget).to_contain_text(str(FUNDING - PULL))
    page.screenshot(path=str(artifact_path("lead_search-my-leads.png")), full_page=True)

    # The database agrees: 25 database leads, one pull charged 25 credits, balance 75 == the ledger's sum.
    leads = Lead.objects.filter(workspace=buyer.workspace)
    assert sorted(leads.values_list("email", flat=True)) == sorted(person.email for person in pulled_people)
    assert set(leads.values_list("source", flat=True)) == {Lead.Source.DATABASE}
    run = SegmentRun.objects.get(segment=segment, mode=SegmentRun.Mode.PULL)
    assert (run.requested, run.pulled, run.skipped_owned) == (PULL, PULL, 0)
    assert run.credits_charged == settings.SEGMENT_PULL_PRICE * PULL == Decimal(PULL)
    account = CreditAccount.objects.get(workspace=buyer.workspace)
    assert account.balance == FUNDING - PULL == Decimal("75.00")
    assert CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] == account.balance
    spend = CreditTransaction.objects.get(account=account, kind=CreditTransaction.Kind.SPEND)
    assert (spend.amount, spend.reference) == (-Decimal(PULL), run.reference)
    out = io.StringIO()
    call_command("check_consistency", stdout=out)  # raises SystemExit(1) on any finding
    assert "No findings" in out.getvalue(), out.getvalue()
