"""Settings -> Webhooks in Chromium, under the Content-Security-Policy: add an endpoint, see its secret once, send
a test event to a real receiver and see it succeed in the delivery log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.webhooks.conftest import receiver  # noqa: F401 (the receiver fixture)
from webhooks import tasks
from webhooks.models import Endpoint

from .test_visitors_pages import _log_in, _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_an_endpoint_see_the_secret_once_and_a_test_event_succeed(page, live_server, tenant, receiver):  # noqa: F811
    base = live_server.url
    _log_in(page, base, tenant)
    problems = _watch(page)
    page.get_by_role("link", name="Webhooks & Slack").click()
    expect(page.get_by_role("heading", name="No endpoint yet")).to_be_visible()
    page.get_by_test_id("add-endpoint").click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Only the events chosen below").check()
    page.get_by_label("lead.created").check()
    page.get_by_label("Description").fill("CRM sync")
    page.get_by_role("button", name="Add endpoint").click()

    secret = page.get_by_test_id("endpoint-secret").inner_text().strip()
    endpoint = Endpoint.objects.get(workspace=tenant.workspace)
    assert secret.startswith("whsec_") and secret == endpoint.secret
    assert endpoint.events == ["lead.created"] and endpoint.description == "CRM sync"
    expect(page.get_by_text("webhook-signature").first).to_be_visible()
    page.get_by_test_id("open-endpoint").click()
    expect(page.get_by_test_id("endpoint-status")).to_have_text("enabled")
    assert secret not in page.content()

    page.get_by_test_id("send-test-event").click()
    expect(page.locator(".toast").first).to_contain_text("Test event sent")
    assert tasks.deliver(seconds=2) == 1
    assert receiver.got[0].verified_by(secret)["type"] == "webhook.test"
    page.get_by_role("link", name="Refresh").click()
    row = page.get_by_test_id("delivery-row")
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text("HTTP 200")

    row.get_by_role("link", name="webhook.test").click()
    expect(page.get_by_test_id("delivery-payload")).to_contain_text('"type":"webhook.test"')
    expect(page.get_by_test_id("delivery-response")).to_contain_text('{"ok": true}')
    assert problems == []
