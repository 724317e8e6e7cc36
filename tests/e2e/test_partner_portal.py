"""A partner's portal in a real browser at 1280 px and on a 390 px phone: a new partner logs in and lands on the
portal's first steps, and the earnings page shows each amount whole ("+8.75", never "+8.7" over "5")."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import Workspace
from marketplace.models import Listing
from marketplace.services import purchase_create
from partners.services import upload_approve
from tests.marketplace.conftest import fund
from tests.partners.conftest import csv_text, person, upload_bytes

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# How many line boxes the text of each matching element takes: 1 when it is not broken.
LINES_OF = """(selector) => [...document.querySelectorAll(selector)].map((cell) => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
  return [cell.textContent.trim(), tops.size];
})"""


def _log_in(page, base, tenant):
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(tenant.user.email)
    page.get_by_label("Password").fill(tenant.password)
    page.get_by_role("button", name="Log in").click()


def _watch_console(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} is wider than {width}px"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_a_new_partner_logs_in_to_the_portal_and_its_first_steps(page, live_server, tenant_factory, viewport):
    page.set_viewport_size(viewport)
    problems = _watch_console(page)
    partner = tenant_factory("Northwind Data", kind=Workspace.Kind.PARTNER)
    _log_in(page, live_server.url, partner)
    expect(page).to_have_url(f"{live_server.url}/partner/")
    steps = page.get_by_test_id("first-steps")
    expect(steps).to_contain_text("You earn 70% of every sale")
    expect(page.get_by_test_id("under-review")).to_be_visible()
    start = steps.get_by_role("link", name="Upload your first CSV")
    start.scroll_into_view_if_needed()
    box = start.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    _fits(page, viewport["width"])
    page.screenshot(path=str(artifact_path(f"partner_portal-first-steps-{viewport['width']}.png")), full_page=True)
    start.click()
    expect(page).to_have_url(f"{live_server.url}/partner/uploads/new/")
    assert problems == []


def test_earnings_amounts_never_break_mid_number(page, live_server, tenant_factory):
    partner = tenant_factory("Northwind Data", kind=Workspace.Kind.PARTNER)
    # Long titles and company names squeeze the other columns; 12.50 credits at 70% earn 8.75.
    long_people = [
        person(
            i,
            title="Senior Vice President of Global Revenue Operations and Strategic Partnerships",
            company_name=f"International Consolidated Holdings and Subsidiaries Group {i}",
        )
        for i in range(1, 7)
    ]
    upload = upload_bytes(partner, csv_text(long_people).encode(), price="12.50")
    upload_approve(upload_id=upload.pk, actor=None)
    buyer = tenant_factory("Harbor Analytics")
    fund(buyer.workspace, 1000)
    purchase_create(workspace=buyer.workspace, lead_ids=list(Listing.objects.values_list("pk", flat=True)))

    problems = _watch_console(page)
    _log_in(page, live_server.url, partner)
    expect(page).to_have_url(f"{live_server.url}/partner/")
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for path in ("/partner/earnings/", "/partner/"):
            page.goto(f"{live_server.url}{path}")
            expect(page.locator("td.amount").first).to_be_visible()
            amounts = page.evaluate(LINES_OF, "td.amount")
            assert ["+8.75", 1] in amounts, amounts
            broken = [text for text, lines in amounts if lines != 1]
            assert broken == [], f"{path} at {viewport['width']}px breaks {broken}"
            _fits(page, viewport["width"])
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(artifact_path(f"partner_{name}-{viewport['width']}.png")), full_page=True)
    assert problems == []
