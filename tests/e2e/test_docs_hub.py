"""The documentation hub in a browser at 1280 px and 390 px: the sidebar's search finds "webhook signature" and
lands on that section, the sidebar folds away on a phone, no request leaves the machine and nothing fails in the
console."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_search_finds_the_webhook_signature_section(browser, live_server, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    local = urlsplit(live_server.url).netloc
    outside, problems = [], []
    page.on("request", lambda request: urlsplit(request.url).netloc != local and outside.append(request.url))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{live_server.url}/docs/")
    nav = page.locator(".docs-nav")
    if width < 800:
        # Folded on a phone, one tap away.
        expect(nav.get_by_role("link", name="Webhooks", exact=True)).to_be_hidden()
        page.get_by_text("Documentation: all pages").click()
    expect(nav.get_by_role("link", name="Webhooks", exact=True)).to_be_visible()

    page.get_by_label("Search the documentation").fill("webhook signature")
    page.get_by_role("button", name="Search").click()
    first = page.locator(".docs-results ol > li a").first
    expect(first).to_contain_text("Verifying signatures")
    first.click()
    page.wait_for_url("**/docs/webhooks/#verifying-signatures")
    expect(page.get_by_role("heading", name="Verifying signatures")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"

    assert outside == [], f"requests left the machine: {outside}"
    assert problems == []
    context.close()
