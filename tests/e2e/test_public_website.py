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
    watched.page.screenshot(path=str(artifact_path(f"public-pricing-{watched.viewport}.png")), full_page=True)
    watched.check()


def test_a_services_message_reaches_staff_in_admin(watched):
    page = watched.page
    staff = user_create(email="staff@cursive.test", password="correct-horse-battery-9", is_staff=True)
    watched.goto("/services")
    watched.fits_the_screen()
    page.get_by_test_id("tier-data").get_by_role("link", name="Ask about Cursive Data").click()
    expect(page.get_by_label("Cursive Data: leads and enrichment delivered")).to_be_checked()
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Work email").fill("grace@navy.test")
    page.get_by_label("Company").fill("US Navy")
    page.get_by_label("What do you need?").fill("5,000 verified CTOs a month, delivered to our CRM.")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_test_id("contact-sent")).to_be_visible()
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
