"""Issue 11's promise end to end, with every part real: a customer's site on another origin pastes the snippet,
a visitor browses two single-page-app routes and submits a form with the email of a person in the lead
database; the beacon buffers and writes the events, a django-q2 worker identifies the visitor, and within
seconds the Visitors page shows the person, identified by `form`, and My Leads has them with source `pixel`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from tests.segments.conftest import make_person
from tests.servers import REPO, child_env
from visitors.models import Pixel, Visitor
from visitors.services import pixel_create

from .conftest import DEFAULT_TIMEOUT_MS
from .pixel_site import HostSite, close_tab, open_tab, wait_for
from .test_visitors_pages import _log_in, _watch

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SPA = """
<nav>
  <a href="/app" data-route>Home</a> <a href="/app/pricing" data-route>Pricing</a> <a href="/app/demo" data-route>Book a demo</a>
</nav>
<main id="view">Home</main>
<form id="demo-form" hidden>
  <label>Work email <input type="email" name="work_email"></label>
  <label>First name <input name="first_name"></label>
  <label>Password <input type="password" name="password"></label>
  <button>Book my demo</button>
</form>
<script>
  const show = (path) => {
    document.getElementById("view").textContent = path;
    document.getElementById("demo-form").hidden = path !== "/app/demo";
  };
  document.querySelectorAll("[data-route]").forEach((link) => link.addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState({}, "", link.getAttribute("href"));
    show(link.getAttribute("href"));
  }));
  document.getElementById("demo-form").addEventListener("submit", (event) => {
    event.preventDefault();
    document.getElementById("view").textContent = "Thanks, we will be in touch";
  });
</script>
"""


@pytest.fixture
def worker():
    """A django-q2 cluster on the test database, as `make run` starts one."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=REPO,
        env=child_env(Q_WORKERS=1),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)


def test_a_visitor_who_fills_in_a_form_is_on_the_visitors_page_and_in_my_leads_within_seconds(
    browser, page, live_server, tenant, settings, worker
):
    settings.SITE_URL = live_server.url
    settings.PIXEL_BUFFER_MS = 200  # the buffered writes of production, not the tests' write-at-once
    person = make_person(email="fox.mulder@initech.example", first_name="Fox", last_name="Mulder", title="VP Sales")
    pixel = pixel_create(workspace=tenant.workspace, name="Marketing site", domain="localhost")
    problems = _watch(page)
    _log_in(page, live_server.url, tenant)
    page.goto(f"{live_server.url}/pixels/{pixel.pk}/")
    expect(page.get_by_text("waiting", exact=False).first).to_be_visible()

    host = HostSite()
    visitor_tab = open_tab(browser)
    try:
        host.page("/app", head=pixel.snippet, body=SPA)
        visitor_tab.page.goto(f"{host.url}/app")
        visitor_tab.page.wait_for_function("window.cursive && window.cursive.ready === true")
        visitor_tab.page.get_by_role("link", name="Pricing").click()
        visitor_tab.page.get_by_role("link", name="Book a demo").click()
        visitor_tab.page.get_by_label("Work email").fill("Fox.Mulder@initech.example")
        visitor_tab.page.get_by_label("First name").fill("Fox")
        visitor_tab.page.get_by_label("Password").fill("trustno1-secret")
        visitor_tab.page.get_by_role("button", name="Book my demo").click()
        expect(visitor_tab.page.get_by_text("Thanks, we will be in touch")).to_be_visible()

        visitor = wait_for(
            lambda: Visitor.objects.filter(pixel=pixel, identified_by="form", lead__isnull=False).first(),
            "the worker to identify the visitor",
            timeout=30,
        )
        assert visitor.pageviews == 3 and visitor.person_id == person.pk
        assert visitor.identification_lag_ms < 30_000

        # The pixel page's live install check turned active without a reload.
        expect(page.get_by_text("active", exact=False).first).to_be_visible(timeout=DEFAULT_TIMEOUT_MS)
        assert Pixel.objects.get(pk=pixel.pk).status == Pixel.Status.ACTIVE

        page.goto(f"{live_server.url}/visitors/")
        row = page.get_by_test_id("visitor-row").filter(has_text="fox.mulder@initech.example")
        expect(row).to_be_visible()
        expect(row).to_contain_text("identified by form submission")
        expect(row).to_contain_text("3")

        lead = Lead.objects.get(workspace=tenant.workspace, email="fox.mulder@initech.example")
        assert lead.source == Lead.Source.PIXEL and lead.pages_viewed == 3
        page.goto(f"{live_server.url}/leads/")
        expect(page.get_by_text("fox.mulder@initech.example").first).to_be_visible()
        assert "trustno1" not in str(Visitor.objects.filter(pk=visitor.pk).values().first())
        assert problems == [] and visitor_tab.problems == []
    finally:
        close_tab(visitor_tab)
        host.server.shutdown()
        host.server.server_close()
