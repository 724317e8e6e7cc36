"""The public website as a newcomer meets it, at a laptop's width and a phone's: the home page's call to action
leads to a finished sign-up, pricing lists the packages in the database, a message from the Services page reaches
staff in admin. Every request the browser makes is routed: one to any other host fails the test, as does a console
error or a page wider than the screen."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import Workspace
from accounts.services import user_create
from credits.models import CreditPackage
from website.models import ContactRequest
from website.views import DEFAULT_HEADLINE

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# WCAG's contrast ratio of each piece of visible text against the first solid background behind it (text on an
# image or gradient is skipped): 4.5:1, or 3:1 for large text.
_LOW_CONTRAST = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.backgroundImage !== "none") return null;
      const c = parse(style.backgroundColor);
      if (c && c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const problems = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    if (el.closest("[aria-hidden=true]") || style.visibility === "hidden" || rect.width === 0 || rect.right < 0) continue;
    const fg = parse(style.color), bg = background(el);
    if (!fg || !bg) continue;
    const [a, b] = [luminance(fg), luminance(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    const text = el.textContent.trim().slice(0, 40);
    if (ratio < (large ? 3 : 4.5)) problems.push(`${el.tagName}.${el.className} "${text}" ${ratio.toFixed(2)}`);
  }
  return problems;
}"""

VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


class Watched:
    """A page whose requests to anywhere but the live server are refused and recorded, with its console errors."""

    def __init__(self, page, live_server):
        self.page = page
        self.base = live_server.url
        self.host = urlsplit(live_server.url).netloc
        self.outside: list[str] = []
        self.problems: list[str] = []
        page.route("**/*", self._route)
        page.on("console", lambda m: self.problems.append(f"{page.url}: {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: page error: {error}"))

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == self.host:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def goto(self, path: str):
        response = self.page.goto(f"{self.base}{path}")
        assert response.status == 200, path
        self.page.wait_for_load_state("networkidle")
        return response

    def fits_the_screen(self) -> None:
        width = self.page.viewport_size["width"]
        assert self.page.evaluate("document.documentElement.scrollWidth") <= width, f"{self.page.url} scrolls sideways"

    def accessible(self) -> None:
        """Landmarks, a text alternative for every image, and readable contrast."""
        page = self.page
        for role in ("banner", "main", "contentinfo"):
            expect(page.get_by_role(role)).to_have_count(1)
        assert page.locator("img:not([alt]), svg:not([aria-hidden=true]):not([role=img])").count() == 0
        assert page.evaluate(_LOW_CONTRAST) == [], f"text below 4.5:1 on {page.url}"

    def check(self) -> None:
        assert not self.outside, f"requests left the machine: {self.outside}"
        assert not self.problems, self.problems


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def watched(request, browser, live_server):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    watched = Watched(page, live_server)
    watched.viewport = request.param
    yield watched
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(artifact_path(f"{request.node.name}.png")), full_page=True)
    context.close()


def test_home_call_to_action_leads_to_a_finished_sign_up(watched):
    page = watched.page
    CreditPackage.objects.update(active=False)
    CreditPackage.objects.create(label="Starter", credits=Decimal("100"), price_cents=4900, position=1)
    watched.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(DEFAULT_HEADLINE)
    expect(page.get_by_test_id("home-price")).to_contain_text("$0.49")
    expect(page.get_by_role("img", name="The Cursive dashboard")).to_be_visible()
    watched.fits_the_screen()
    watched.accessible()
    page.screenshot(path=str(artifact_path(f"public-home-{watched.viewport}.png")), full_page=True)

    cta = page.get_by_role("link", name="Start free")
    expect(cta).to_have_count(1)
    cta.click()
    expect(page).to_have_url(f"{watched.base}/signup/")
    page.get_by_label("Your name").fill("Rosa Parks")
    page.get_by_label("Work email").fill(f"rosa-{watched.viewport}@montgomery.test")
    page.get_by_label("Password").fill("correct-horse-battery-9")
    page.get_by_label("Company or team name").fill("Montgomery Co")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{watched.base}/")
    expect(page.get_by_test_id("getting-started")).to_be_visible()
    assert Workspace.objects.filter(name="Montgomery Co").exists()
    watched.check()


def test_pricing_lists_the_packages_in_the_database(watched):
    CreditPackage.objects.update(active=False)
    CreditPackage.objects.create(label="Tryout", credits=Decimal("50"), price_cents=2500, position=1)
    CreditPackage.objects.create(label="Bulk", credits=Decimal("2000"), price_cents=80000, popular=True, position=2)
    watched.goto("/pricing")
    packages = watched.page.get_by_test_id("package")
    expect(packages).to_have_count(2)
    expect(watched.page.get_by_test_id("packages")).not_to_contain_text("Starter")
    expect(packages.nth(0)).to_contain_text("Tryout")
    expect(packages.nth(0)).to_contain_text("$0.50 per credit")
    expect(packages.nth(1)).to_contain_text("Bulk")
    expect(packages.nth(1)).to_contain_text("Save 20%")
    expect(watched.page.get_by_text("Credits never expire").first).to_be_visible()
    watched.fits_the_screen()
    watched.accessible()
    watched.page.screenshot(path=str(artifact_path(f"public-pricing-{watched.viewport}.png")), full_page=True)
    watched.check()


def test_a_services_message_reaches_staff_in_admin(watched):
    page = watched.page
    staff = user_create(email="staff@cursive.test", password="correct-horse-battery-9", is_staff=True)
    watched.goto("/services")
    watched.fits_the_screen()
    watched.accessible()
    page.get_by_test_id("tier-data").get_by_role("link", name="Ask about Cursive Data").click()
    expect(page.get_by_label("Cursive Data: leads and enrichment delivered")).to_be_checked()
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Work email").fill("grace@navy.test")
    page.get_by_label("Company").fill("US Navy")
    page.get_by_label("What do you need?").fill("5,000 verified CTOs a month, delivered to our CRM.")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_test_id("contact-sent")).to_be_visible()
    page.screenshot(path=str(artifact_path(f"public-services-{watched.viewport}.png")), full_page=True)
    assert ContactRequest.objects.filter(email="grace@navy.test", tier="data").count() == 1

    watched.goto("/admin/login/?next=/admin/website/contactrequest/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill("correct-horse-battery-9")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{watched.base}/admin/website/contactrequest/")
    row = page.locator("#result_list tbody tr", has_text="Grace Hopper")
    expect(row).to_contain_text("grace@navy.test")
    row.get_by_role("link").first.click()
    expect(page.locator("#content")).to_contain_text("5,000 verified CTOs a month")
    watched.check()
