"""A buyer works their leads and reads Analytics in a real browser: tag, inspect, export, then see the charts.

The buyer's activity is built through the real services (as in tests/analytics/test_analytics.py): 100 credits
added, 2 marketplace leads bought, 10 people pulled from a segment of the lead database, 3 leads added by hand,
then the nightly rollup (``analytics_rollup(days=None)``) fills the summary tables Analytics reads.

Log in through the form, open My Leads from the sidebar (15 leads), tick 3 of them (one of each source), choose
"Add tags", type ``q4-hot`` and apply: the success toast says "3 leads tagged." and exactly those 3 rows show the
#q4-hot badge. Open one lead's drawer (htmx) and read its score factors. Export the same 3 leads twice: ticked,
through the bulk action "Export CSV", and through the sidebar's Tag filter and the page's "Export CSV" link; both
CSVs hold exactly the 3 leads with q4-hot in their tags column. Finally open Analytics from the sidebar: the usage,
sources, acquisition and quality charts are drawn by Chart.js, and switching the period to 7 days draws them again.
A screenshot of each page goes to test-artifacts/ and its path is printed.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Workspace
from analytics.services import analytics_rollup
from leads.models import Lead
from leads.services import lead_create
from marketplace.services import purchase_create
from segments.services import segment_create, segment_pull
from tests.marketplace.conftest import fund, make_listing
from tests.segments.conftest import make_person

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAG = "q4-hot"
FUNDING = Decimal("100.00")
PRICES = ("12.50", "8.00")  # the two marketplace leads
PULL = 10  # people pulled from the segment, 1 credit each (settings.SEGMENT_PULL_PRICE)
CHARTS = ("usage", "sources", "acquisition", "quality")

# The lead database the segment pulls from: 12 people, the 10 best-scored are pulled.
PEOPLE = [
    ("Nadia", "Petrova", "Fintech", "CFO", "c_level", 92),
    ("Tom", "Becker", "SaaS", "VP of Sales", "vp", 88),
    ("Lucia", "Moreno", "SaaS", "Head of Growth", "director", 85),
    ("Kwame", "Mensah", "Healthcare", "IT Director", "director", 81),
    ("Ingrid", "Larsen", "SaaS", "Sales Manager", "manager", 77),
    ("Raj", "Kapoor", "Fintech", "CTO", "c_level", 74),
    ("Mei", "Chen", "SaaS", "RevOps Lead", "senior", 70),
    ("Owen", "Price", "Logistics", "VP of Operations", "vp", 66),
    ("Fatima", "Zahra", "SaaS", "Account Executive", "senior", 61),
    ("Lars", "Nilsson", "Fintech", "Head of Partnerships", "director", 57),
    ("Chloe", "Martin", "Retail", "Buyer", "entry", 40),
    ("Ben", "Carter", "SaaS", "SDR", "entry", 35),
]
MANUAL = [
    {
        "first_name": "Alicia",
        "last_name": "Vance",
        "email": "alicia.vance@northwind.example",
        "title": "COO",
        "company_name": "Northwind",
        "company_domain": "northwind.example",
        "industry": "Logistics",
    },
    {
        "first_name": "Hugo",
        "last_name": "Lindqvist",
        "email": "hugo@fjordlabs.example",
        "title": "Founder",
        "company_name": "Fjord Labs",
        "company_domain": "fjordlabs.example",
        "industry": "SaaS",
    },
    {
        "first_name": "Sara",
        "last_name": "Okonkwo",
        "email": "sara.okonkwo@brightpath.example",
        "phone": "(312) 555-0143",
        "title": "Head of Sales",
        "company_name": "Brightpath",
        "company_domain": "brightpath.example",
        "industry": "Education",
    },
]


def _shot(page, capsys, name: str) -> str:
    """A full-page screenshot in test-artifacts/; its path is printed past pytest's capture (shown without -s)."""
    path = artifact_path(f"my_leads_analytics-{name}.png")
    page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return str(path)


def _checkbox(page, lead: Lead):
    return page.locator(f'input[name="lead_ids"][value="{lead.pk}"]')


def _row(page, lead: Lead):
    return page.get_by_test_id("lead-row").filter(has=_checkbox(page, lead))


def _tagged_row_ids(page) -> list[int]:
    """The lead ids of the rows that show the #q4-hot badge."""
    return sorted(
        int(pk)
        for pk in page.get_by_test_id("lead-row")
        .filter(has=page.locator(".badge", has_text=re.compile(rf"^#{re.escape(TAG)}$")))
        .locator('input[name="lead_ids"]')
        .evaluate_all("boxes => boxes.map(box => box.value)")
    )


def _read_csv(download) -> list[dict]:
    with open(download.path(), encoding="utf-8") as handle:
        return list(csv.DictReader(io.StringIO(handle.read())))


def _assert_export(rows: list[dict], leads: list[Lead]) -> None:
    assert sorted(row["email"] for row in rows) == sorted(lead.email for lead in leads), rows
    for row in rows:
        assert TAG in row["tags"].split(";"), row


def test_tag_inspect_export_my_leads_then_read_analytics(page, live_server, tenant_factory, capsys):
    base = live_server.url
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    buyer = tenant_factory("Harbor Analytics")
    workspace = buyer.workspace

    # Activity through the real services: funding, 2 marketplace leads, a segment pull, 3 manual leads.
    fund(workspace, FUNDING)
    listings = [
        make_listing(
            partner=partner.workspace,
            price=PRICES[0],
            quality=91,
            first_name="Priya",
            last_name="Natarajan",
            email="priya.natarajan@brightwave.example",
            company_name="Brightwave",
            title="VP of Sales",
        ),
        make_listing(
            price=PRICES[1],
            quality=84,
            first_name="Marcus",
            last_name="Oyelaran",
            email="marcus@cloudnimbus.example",
            company_name="Cloudnimbus",
            title="Head of RevOps",
        ),
    ]
    purchase_create(workspace=workspace, lead_ids=[listing.pk for listing in listings])
    for first, last, industry, title, seniority, score in PEOPLE:
        make_person(
            first_name=first,
            last_name=last,
            email=f"{first}.{last}@{last}-co.example".lower(),
            company_name=f"{last} & Co",
            industry=industry,
            title=title,
            seniority=seniority,
            score=score,
        )
    segment = segment_create(workspace=workspace, name="Best of the database", filters={})
    run = segment_pull(workspace=workspace, segment_id=segment.pk, limit=PULL)
    assert run.pulled == PULL
    manual = [lead_create(workspace=workspace, source=Lead.Source.MANUAL, data=data, created_by=buyer.user) for data in MANUAL]
    analytics_rollup(days=None)

    leads = Lead.objects.filter(workspace=workspace)
    assert leads.count() == 2 + PULL + len(MANUAL) == 15
    by_source = {
        source: list(leads.filter(source=source).order_by("id"))
        for source in (Lead.Source.MARKETPLACE, Lead.Source.DATABASE, Lead.Source.MANUAL)
    }
    # One lead of each source gets the tag.
    chosen = [by_source[Lead.Source.MARKETPLACE][0], by_source[Lead.Source.DATABASE][0], manual[2]]
    chosen_ids = sorted(lead.pk for lead in chosen)
    spent = sum(Decimal(price) for price in PRICES) + PULL  # 30.50
    balance = FUNDING - spent  # 69.50

    # Log in through the real form.
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(buyer.user.email)
    page.get_by_label("Password").fill(buyer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_test_id("nav-balance")).to_contain_text(f"{balance}")

    # My Leads, through the sidebar: all 15 leads on one page, none tagged yet.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="My Leads").click()
    expect(page).to_have_url(f"{base}/leads/")
    expect(page.get_by_role("heading", name="My Leads", exact=True)).to_be_visible()
    rows = page.get_by_test_id("lead-row")
    expect(rows).to_have_count(15)
    expect(page.get_by_test_id("matching")).to_have_text("15 leads")
    assert _tagged_row_ids(page) == []

    # Tick exactly 3, choose "Add tags", type the tag, apply.
    for lead in chosen:
        _checkbox(page, lead).check()
    expect(page.locator('input[name="lead_ids"]:checked')).to_have_count(3)
    page.get_by_test_id("bulk-action").select_option(label="Add tags")
    page.get_by_test_id("bulk-tags").fill(TAG)
    page.get_by_test_id("bulk-apply").click()

    # Back on My Leads (a full page load): the toast, and the badge on exactly those 3 rows.
    expect(page).to_have_url(f"{base}/leads/")
    expect(page.locator("#toasts .toast.success")).to_contain_text("3 leads tagged.")
    expect(rows).to_have_count(15)
    expect(rows.filter(has_text=f"#{TAG}")).to_have_count(3)
    assert _tagged_row_ids(page) == chosen_ids
    for lead in chosen:
        expect(_row(page, lead).locator(".badge", has_text=f"#{TAG}")).to_have_count(1)
    expect(page.locator('input[name="lead_ids"]:checked')).to_have_count(0)
    expect(page.locator("#l-tag option", has_text=f"#{TAG}")).to_have_count(1)  # the Tag filter offers it now
    assert sorted(Lead.objects.filter(workspace=workspace, tags__contains=[TAG]).values_list("pk", flat=True)) == chosen_ids
    _shot(page, capsys, "my-leads-tagged")

    # Delete asks first; Cancel deletes nothing.
    _checkbox(page, chosen[0]).check()
    page.get_by_test_id("bulk-action").select_option(label="Delete")
    page.get_by_test_id("bulk-apply").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete the selected leads?")
    expect(dialog.locator("button[value=yes]")).to_have_text("Delete")
    dialog.locator("button[value=no]").click()
    expect(dialog).to_be_hidden()
    expect(rows).to_have_count(15)
    assert Lead.objects.filter(workspace=workspace).count() == 15

    # New leads arriving refresh the list without losing a selection or typed tags.
    page.get_by_test_id("bulk-action").select_option(label="Add tags")
    page.get_by_test_id("bulk-tags").fill("half-typed")
    with page.expect_response(lambda response: "/leads/" in response.url and response.request.method == "GET"):
        page.evaluate("htmx.trigger(document.body, 'leads-arrived')")
    page.wait_for_timeout(300)  # the swap settles after the response
    expect(_checkbox(page, chosen[0])).to_be_checked()
    expect(page.get_by_test_id("bulk-tags")).to_have_value("half-typed")
    page.get_by_test_id("bulk-tags").fill("")
    _checkbox(page, chosen[0]).uncheck()

    # The drawer of one tagged lead (htmx, no page load): contact details and the score's factors.
    page.evaluate("window.__sameDocument = true")
    drawn_lead = manual[2]
    drawn_lead.refresh_from_db()
    _row(page, drawn_lead).get_by_role("link", name=drawn_lead.full_name).click()
    drawer = page.get_by_test_id("lead-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("heading", level=2)).to_have_text(drawn_lead.full_name)
    expect(drawer).to_contain_text(drawn_lead.email)
    expect(drawer).to_contain_text(f"#{TAG}")
    # The drawer's other level-3 heading, "Sequences", arrives by htmx once the drawer is in: name the score's.
    expect(drawer.get_by_role("heading", level=3, name="Score")).to_have_text(f"Score {drawn_lead.score} / 100")
    factors = drawer.get_by_test_id("score-factors")
    expect(factors.locator("tbody > tr")).to_have_count(4)
    for name, maximum in (("Deliverability", 30), ("Engagement", 30), ("Fit", 25), ("Recency", 15)):
        expect(factors.locator("tr", has_text=name)).to_contain_text(re.compile(rf"\d+ of {maximum}"))
    expect(factors.locator("tr", has_text="Recency")).to_contain_text("15 of 15")  # added today
    expect(factors.locator("tr", has_text="Fit")).to_contain_text("Set your ideal customer profile")
    expect(factors.get_by_test_id("score-sum")).to_have_text(re.compile(rf"= {drawn_lead.score} of 100$"))
    assert page.evaluate("window.__sameDocument") is True, "opening the drawer reloaded the page"
    _shot(page, capsys, "drawer")
    drawer.get_by_role("button", name="Close").click()
    expect(drawer).to_have_count(0)

    # Export 1: tick the same 3 and use the bulk action "Export CSV".
    for lead in chosen:
        _checkbox(page, lead).check()
    page.get_by_test_id("bulk-action").select_option("export")
    with page.expect_download() as download_info:
        page.get_by_test_id("bulk-apply").click()
    download = download_info.value
    assert download.suggested_filename == "cursive-leads-selection.csv"
    _assert_export(_read_csv(download), chosen)

    # Export 2: the sidebar's Tag filter (htmx swaps the results and pushes the filter into the URL), then the
    # page's "Export CSV" link. That link sits outside the swapped results and keeps the query of the last full
    # page load, so the pushed URL is loaded first (see the report: the link goes stale after an htmx filter).
    page.locator("#lead-filters").get_by_label("Tag").select_option(TAG)
    expect(page.get_by_test_id("matching")).to_have_text("3 leads")
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(rf"/leads/\?.*\btag={re.escape(TAG)}\b"))
    page.reload()
    expect(rows).to_have_count(3)
    export_link = page.get_by_test_id("export-all")
    expect(export_link).to_have_attribute("href", re.compile(rf"/leads/export/\?.*\btag={re.escape(TAG)}\b"))
    with page.expect_download() as download_info:
        export_link.click()
    download = download_info.value
    assert download.suggested_filename == "cursive-leads.csv"
    _assert_export(_read_csv(download), chosen)

    # Analytics, through the sidebar: the four charts are drawn from the rollup.
    nav.get_by_role("link", name="Analytics").click()
    expect(page).to_have_url(f"{base}/analytics/")
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    drawn = page.locator('canvas[data-chart][data-drawn="true"]')
    expect(drawn.first).to_be_attached()
    for chart in CHARTS:
        expect(page.locator(f'canvas[data-chart="{chart}"]')).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("spent")).to_have_text(f"{spent}")
    expect(page.locator(".tabs a.active")).to_have_text("30 days")
    assert page.locator('canvas[data-chart]:not([data-drawn="true"])').count() == 0
    _shot(page, capsys, "analytics-30-days")

    # Switch the period to 7 days: a new page, the charts drawn again, the same spending (all of it today).
    page.get_by_role("navigation", name="Period").get_by_role("link", name="7 days").click()
    expect(page).to_have_url(f"{base}/analytics/?period=7")
    expect(page.locator(".tabs a.active")).to_have_text("7 days")
    expect(page.get_by_text("Credits spent (7 days)")).to_be_visible()
    for chart in CHARTS:
        expect(page.locator(f'canvas[data-chart="{chart}"]')).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("spent")).to_have_text(f"{spent}")
    expect(page.get_by_test_id("burn")).to_have_text(f"{(spent / 7).quantize(Decimal('0.01'))}")
    _shot(page, capsys, "analytics-7-days")
