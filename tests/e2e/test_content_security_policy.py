"""Every main page, as a buyer, a partner and staff, runs under the strict Content-Security-Policy with no console
error: nothing inline is refused, nothing is loaded from another site, no script fails."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import Workspace
from accounts.services import user_create
from analytics.services import analytics_rollup
from leads.models import Lead
from leads.services import lead_create
from marketplace.services import purchase_create
from segments.services import segment_create
from tests.marketplace.conftest import fund, make_listing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base, email, password):
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def _visit_all(page, base, paths) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"{page.url}: console {message.type}: {message.text}")
            if message.type == "error" or "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: page error: {error}"))
    for path in paths:
        response = page.goto(f"{base}{path}")
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    return problems


def test_main_pages_run_under_the_policy_without_console_errors(page, live_server, tenant_factory):
    base = live_server.url
    buyer = tenant_factory("Acme")
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    fund(buyer.workspace, 100)
    bought = make_listing(partner=partner.workspace)
    make_listing(industry="Fintech")
    purchase_create(workspace=buyer.workspace, lead_ids=[bought.pk])
    lead_create(workspace=buyer.workspace, source=Lead.Source.MANUAL, data={"email": "hand@made.example"})
    segment = segment_create(workspace=buyer.workspace, name="SaaS", filters={"industry": ["SaaS"]})
    analytics_rollup(days=None)

    _log_in(page, base, buyer.user.email, buyer.password)
    problems = _visit_all(
        page,
        base,
        [
            "/",
            "/marketplace/",
            "/marketplace/?industry=Fintech&price_min=10&price_max=5",
            "/marketplace/cart/",
            "/marketplace/purchases/",
            "/leads/",
            "/search/",
            "/segments/",
            f"/segments/{segment.pk}/",
            "/analytics/",
            "/credits/",
            "/settings/",
        ],
    )
    # The charts and the docs draw with scripts: they ran.
    page.goto(f"{base}/analytics/")
    expect(page.locator("canvas").first).to_be_visible()
    page.goto(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    page.goto(f"{base}/leads/")
    page.get_by_label("Select all on this page").check()
    expect(page.locator("input[name=lead_ids]").first).to_be_checked()
    assert problems == []

    page.context.clear_cookies()
    _log_in(page, base, partner.user.email, partner.password)
    problems += _visit_all(page, base, ["/partner/", "/partner/uploads/", "/partner/uploads/new/", "/partner/earnings/"])
    page.goto(f"{base}/partner/uploads/new/")
    page.set_input_files(
        "input[type=file]", files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": b"email\nann@lee.example\n"}]
    )
    expect(page.locator("#dropzone-name")).to_contain_text("leads.csv")
    assert problems == []

    staff = user_create(email="staff@cursive.test", password=buyer.password, is_staff=True)
    page.context.clear_cookies()
    _log_in(page, base, staff.email, buyer.password)
    problems += _visit_all(
        page,
        base,
        [
            "/admin/",
            f"/admin/accounts/workspace/{buyer.workspace.pk}/change/",
            "/admin/marketplace/listing/",
            f"/admin/marketplace/listing/{bought.pk}/change/",
            "/api/docs/",
        ],
    )
    assert problems == []
