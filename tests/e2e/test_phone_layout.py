"""The dashboard on a phone (390 px wide) and on a laptop (1280 px): every data table fits the screen.

A buyer with credits buys one marketplace lead, adds a lead by hand and saves a segment, so that the Marketplace,
My Leads, Segments and Credits all have rows. At 390 px each table shows its rows as cards: the page never scrolls
sideways, a listing's price and "Add to cart" are on screen, an email is one readable line rather than a few letters
per line, the segment's actions are reachable and the ledger's "Spend" stays one word. No word is broken across
lines: each word of the checked text is measured with a DOM Range, and a word whose range has two boxes was split.
The top bar scrolls away with the page instead of staying over every screen, and the menu opens from one button.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from leads.services import lead_create
from marketplace.services import purchase_create
from segments.services import segment_create
from tests.marketplace.conftest import fund, make_listing

from .conftest import DEFAULT_TIMEOUT_MS, artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
EMAIL = "margaret.daniels284@novaloopglobal.com"

# The words of an element's text that the layout split over two lines (or more).
BROKEN_WORDS_JS = """
element => {
  const broken = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const pattern = /\\S+/g;
    let match;
    while ((match = pattern.exec(node.data))) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}
"""


@pytest.fixture
def screen(browser, request) -> Iterator:
    """A page factory: screen(viewport) opens a fresh context of that size, closed after the test."""
    contexts = []

    def open_page(viewport):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def buyer_with_rows(tenant_factory):
    buyer = tenant_factory("Northwind Sales")
    partner = tenant_factory("LeadForge")
    fund(buyer.workspace, 200)
    bought = make_listing(partner=partner.workspace, title="Chief Information Security Officer", price="12.50")
    for title in ("Vice President of Revenue Operations", "Head of Growth"):
        make_listing(partner=partner.workspace, title=title, company_name="Indigolight Industries International")
    purchase_create(workspace=buyer.workspace, lead_ids=[bought.pk])
    lead_create(
        workspace=buyer.workspace,
        source=Lead.Source.MANUAL,
        data={"first_name": "Margaret", "last_name": "Daniels", "email": EMAIL, "company_name": "Novaloop Global"},
    )
    segment_create(workspace=buyer.workspace, name="SaaS leaders", filters={"industry": ["SaaS"]})
    return buyer


def _log_in(page, base, buyer):
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(buyer.user.email)
    page.get_by_label("Password").fill(buyer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")


def _open(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], f"{url} scrolls sideways"


def _on_screen(locator, width):
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box


def _broken(locator) -> list[str]:
    return locator.evaluate(BROKEN_WORDS_JS)


def _shot(page, capsys, name):
    path = artifact_path(f"phone_layout-{name}.png")
    page.screenshot(path=str(path))
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def test_tables_are_cards_on_a_phone(screen, live_server, buyer_with_rows, capsys):
    base, width = live_server.url, PHONE["width"]
    page = screen(PHONE)
    _log_in(page, base, buyer_with_rows)

    # The sidebar is one line with a Menu button; the menu opens on a tap.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav.get_by_role("link", name="Marketplace")).to_be_visible()

    # The top bar is one short line that scrolls away with the page.
    _open(page, f"{base}/marketplace/")
    topbar = page.locator(".topbar")
    assert topbar.bounding_box()["height"] <= 60
    assert topbar.evaluate("bar => getComputedStyle(bar).position") == "static"

    # Marketplace: each listing's price and "Add to cart" are on screen; titles are whole words.
    rows = page.get_by_test_id("listing-row")
    expect(rows).to_have_count(2)
    for index in range(2):
        row = rows.nth(index)
        _on_screen(row.locator("td[data-label=Price] .mono"), width)
        _on_screen(row.get_by_role("button", name="Add to cart"), width)
        assert _broken(row.locator(".cell-title strong")) == []
    _shot(page, capsys, "marketplace-390")
    rows.first.get_by_role("button", name="Add to cart").click()
    expect(rows.first.get_by_role("button", name="✓ In cart")).to_be_visible()

    # My Leads: the email is one line as wide as it needs, not a column of letters.
    _open(page, f"{base}/leads/")
    email = page.get_by_test_id("lead-row").locator(".mono", has_text=EMAIL)
    assert email.bounding_box()["width"] >= 250
    assert _broken(email) == []
    _on_screen(page.get_by_test_id("lead-row").first.locator("input[name=lead_ids]"), width)
    _shot(page, capsys, "my-leads-390")

    # Segments: every action of the row is reachable without scrolling sideways.
    _open(page, f"{base}/segments/")
    row = page.get_by_test_id("segment-row")
    for action in ("Run", "Duplicate", "Archive", "Delete"):
        _on_screen(row.get_by_role("button", name=action), width)

    # Credits: the ledger's kinds and amounts are whole words, each labelled.
    _open(page, f"{base}/credits/")
    ledger = page.get_by_test_id("ledger-row")
    spend = ledger.filter(has_text="Spend").first
    assert _broken(spend.locator("td[data-label=Kind]")) == []
    _on_screen(spend.locator("td[data-label=Amount]"), width)
    expect(spend.locator("td[data-label=Amount]")).to_contain_text("-12.50")
    _shot(page, capsys, "credits-390")


def test_tables_keep_their_columns_on_a_laptop(screen, live_server, buyer_with_rows):
    base = live_server.url
    page = screen(LAPTOP)
    _log_in(page, base, buyer_with_rows)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    for path in ("/marketplace/", "/leads/", "/segments/", "/credits/"):
        _open(page, f"{base}{path}")
        header = page.locator("table.table-cards thead").first
        expect(header).to_be_visible()
        assert _broken(header) == [], path
    ledger_header = page.locator("#ledger thead")
    expect(ledger_header.locator("th")).to_have_text(["Date", "Kind", "Description", "Amount", "Balance"])
    assert _broken(page.get_by_test_id("ledger-row").first) == []


# Elements inside the filter panel (the panel included) that scroll their own content.
SCROLL_BOXES_JS = """
panel => [panel, ...panel.querySelectorAll("*")]
  .filter(e => ["auto", "scroll"].includes(getComputedStyle(e).overflowY) && e.scrollHeight > e.clientHeight + 1)
  .map(e => e.tagName + "." + e.className)
"""


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280", "390"])
def test_marketplace_filter_panel(screen, live_server, tenant_factory, viewport):
    """20 industries on sale, one ticked (the last alphabetically): it shows first, the panel scrolls nothing of its
    own, "Apply filters" is on screen from the start, and the other industries are one "Show more" away."""
    buyer = tenant_factory("Northwind Sales")
    industries = [f"Industry {n:02d}" for n in range(20)]
    for industry in industries:
        make_listing(industry=industry, state="CA")
    page = screen(viewport)
    _log_in(page, live_server.url, buyer)
    _open(page, f"{live_server.url}/marketplace/?industry=Industry+19")
    panel = page.locator("#filters")
    if viewport is PHONE:
        expect(panel).to_be_hidden()
        expect(page.get_by_test_id("listing-row")).to_have_count(1)
        page.get_by_role("button", name="Filters (1)").click()
    expect(panel).to_be_visible()
    assert panel.evaluate(SCROLL_BOXES_JS) == []
    industry = panel.get_by_role("group", name="Industry")
    expect(industry.locator("input[type=checkbox]").first).to_have_attribute("value", "Industry 19")
    expect(industry.get_by_label("Industry 19")).to_be_checked()
    apply = panel.get_by_role("button", name="Apply filters")
    box = apply.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], "Apply is off screen"
    more = industry.get_by_text("Show 14 more")
    expect(industry.get_by_label("Industry 07")).to_be_hidden()
    more.click()
    industry.get_by_label("Industry 07").check()
    expect(page.get_by_test_id("result-count")).to_have_text("2 leads")
