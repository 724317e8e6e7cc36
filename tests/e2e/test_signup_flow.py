"""A new customer's first minutes, in a real browser: sign up, look around, create an API key that works, log out."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from accounts.models import ApiKey, Workspace

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORKSPACE = "Northwind Sales"
EMAIL = "dana@northwind.test"


def test_signup_create_api_key_and_log_out(page, live_server):
    base = live_server.url
    login_url = re.compile(re.escape(f"{base}/login/") + r"(\?.*)?$")

    # Sign up as a buyer.
    page.goto(f"{base}/signup/")
    page.get_by_label("Your name").fill("Dana Scully")
    page.get_by_label("Work email").fill(EMAIL)
    page.get_by_label("Password").fill("correct-horse-battery-9")
    page.get_by_label("Company or team name").fill(WORKSPACE)
    expect(page.get_by_label("Find and buy leads")).to_be_checked()
    page.get_by_role("button", name="Create account").click()

    # The dashboard greets the new workspace with its checklist.
    expect(page).to_have_url(f"{base}/")
    checklist = page.get_by_test_id("getting-started")
    expect(checklist).to_be_visible()
    expect(checklist).to_contain_text("Getting started")
    expect(page.locator(".topbar")).to_contain_text(WORKSPACE)
    page.screenshot(path=str(artifact_path("signup_flow-dashboard.png")), full_page=True)

    workspace = Workspace.objects.get(name=WORKSPACE)
    assert workspace.kind == Workspace.Kind.BUYER

    # Settings, through the sidebar.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings & API keys").click()
    expect(page).to_have_url(f"{base}/settings/")
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()

    # Create a key; htmx swaps the section and shows the raw key once.
    page.get_by_label("Key name").fill("CRM sync")
    page.get_by_role("button", name="Create API key").click()
    new_key = page.get_by_test_id("new-api-key")
    expect(new_key).to_be_visible()
    raw_key = new_key.inner_text().strip()
    assert raw_key.startswith("cur_"), raw_key
    expect(page.locator("#api-keys")).to_contain_text("“CRM sync” created.")
    key_row = page.locator("#api-keys table tbody tr", has_text="CRM sync")
    expect(key_row).to_have_count(1)
    expect(key_row).to_contain_text("active")
    expect(key_row).to_contain_text(EMAIL)
    assert ApiKey.objects.filter(workspace=workspace, name="CRM sync").count() == 1
    page.screenshot(path=str(artifact_path("signup_flow-settings.png")), full_page=True)

    # The shown key really authenticates against the API, on its own: no browser session cookie is sent.
    request = urllib.request.Request(f"{base}/api/v1/me", headers={"Authorization": f"Token {raw_key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        me = json.loads(response.read())
    assert me["workspace"]["name"] == WORKSPACE
    assert me["workspace"]["id"] == workspace.pk
    assert me["user"]["email"] == EMAIL

    # Log out from the top bar and land on the login page.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(login_url)
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()

    # The dashboard is closed to the logged-out browser, who gets the public home page at `/`.
    page.goto(f"{base}/analytics/")
    expect(page).to_have_url(re.compile(re.escape(f"{base}/login/") + r"\?next=/analytics/$"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_test_id("headline")).to_be_visible()
