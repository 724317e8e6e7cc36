"""Every text of the main dashboard pages reads at 4.5:1 or more against what is behind it (3:1 for large text),
as the browser renders it, at 1280 px and at 390 px: green amounts and badges, the sidebar's "+ New workspace",
buttons and toasts included. Each element with text of its own is measured: its colour against the first opaque
background behind it, by the WCAG 2 formula. Text dimmed on purpose (an unavailable listing) is left out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.services import workspace_create
from leads.models import Lead
from leads.services import lead_create
from marketplace.services import purchase_create
from segments.services import segment_create
from tests.marketplace.conftest import fund, make_listing

from .conftest import DEFAULT_TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOW_CONTRAST_JS = r"""
() => {
  const parse = (text) => {
    const match = text.match(/rgba?\(([^)]+)\)/);
    if (!match) return null;
    const [r, g, b, a = 1] = match[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return {r, g, b, a};
  };
  const channel = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const ratio = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  // The first opaque background behind an element; null behind a gradient, which has no single colour.
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.backgroundImage.includes("gradient")) return null;
      const colour = parse(style.backgroundColor);
      if (colour && colour.a > 0.5) return colour;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const dimmed = (element) => {
    for (let e = element; e; e = e.parentElement) if (parseFloat(getComputedStyle(e).opacity) < 1) return true;
    return false;
  };
  const low = new Set();
  for (const element of document.querySelectorAll("body *")) {
    const style = getComputedStyle(element);
    if (!element.getClientRects().length || style.visibility === "hidden") continue;
    if (![...element.childNodes].some((n) => n.nodeType === 3 && n.data.trim()) || dimmed(element)) continue;
    const text = parse(style.color), behind = background(element);
    if (!text || !behind) continue;
    const size = parseFloat(style.fontSize), large = size >= 24 || (parseInt(style.fontWeight) >= 700 && size >= 18.66);
    const measured = ratio(text, behind);
    if (measured < (large ? 3 : 4.5)) {
      low.add(`${measured.toFixed(2)}:1 "${element.textContent.trim().slice(0, 30)}" ${style.color} on ` +
              `rgb(${behind.r}, ${behind.g}, ${behind.b})`);
    }
  }
  return [...low];
}
"""

PAGES = ["/", "/marketplace/", "/leads/", "/segments/", "/search/", "/credits/", "/analytics/", "/settings/"]


@pytest.mark.parametrize("width", [1280, 390])
def test_text_contrast_on_the_main_pages(browser, live_server, tenant_factory, width):
    buyer = tenant_factory("Northwind")
    fund(buyer.workspace, 100)
    bought = make_listing(phone="+14155550123", linkedin_url="https://www.linkedin.com/in/pat")
    make_listing(quality=60)
    make_listing(quality=30)
    purchase_create(workspace=buyer.workspace, lead_ids=[bought.pk])
    lead_create(workspace=buyer.workspace, source=Lead.Source.MANUAL, data={"email": "hand@made.example"})
    segment_create(workspace=buyer.workspace, name="SaaS", filters={"industry": ["SaaS"]})
    workspace_create(name="Second workspace", owner=buyer.user)  # the sidebar shows its workspace switcher

    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(buyer.user.email)
    page.get_by_label("Password").fill(buyer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    low = {}
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        if found := page.evaluate(LOW_CONTRAST_JS):
            low[path] = found
    context.close()
    assert low == {}
