"""A buyer tops up credits in a real browser: Credits page, Buy Growth, the local test checkout, Pay, confirmation.

Without Stripe keys the Buy button leads to Cursive's local checkout page, whose Pay button sends a correctly
signed ``checkout.session.completed`` event through the real webhook code: the same path production runs.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from credits.models import CreditAccount, CreditPackage, CreditPurchase, CreditTransaction

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_buy_growth_package_through_local_checkout(page, live_server, settings, tenant):
    base = live_server.url
    # No Stripe keys: the local checkout page stands in for Stripe's. SITE_URL stays at its default: the
    # checkout's return URLs follow the host the buyer is using.
    settings.STRIPE_SECRET_KEY = ""

    growth = CreditPackage.objects.get(label="Growth", active=True)
    assert (growth.credits, growth.price_cents, growth.popular) == (Decimal("500"), 19900, True)
    workspace = tenant.workspace

    # Log in through the real form.
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(tenant.user.email)
    page.get_by_label("Password").fill(tenant.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".topbar")).to_contain_text(workspace.name)

    # Credits, through the sidebar: an empty balance, Growth marked as the popular package.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Credits").click()
    expect(page).to_have_url(f"{base}/credits/")
    expect(page.get_by_role("heading", name="Credits", exact=True)).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("0.00")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("0.00")
    expect(page.get_by_test_id("ledger-row")).to_have_count(0)
    growth_card = page.get_by_test_id("package-growth")
    expect(growth_card).to_contain_text("Most popular")
    expect(growth_card).to_contain_text("500 credits")
    expect(growth_card).to_contain_text("$199.00")
    page.screenshot(path=str(artifact_path("credits_checkout-credits-before.png")), full_page=True)

    # Buy Growth: a pending purchase and the local test checkout, for the package's price.
    growth_card.get_by_role("button", name="Buy Growth").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/checkout/local/") + r"cs_local_[\w-]+/$"))
    expect(page.get_by_text("Test checkout · no card is charged")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Growth")
    expect(page.locator(".value")).to_have_text("$199.00")
    pay = page.get_by_role("button", name="Pay $199.00")
    expect(pay).to_be_visible()
    purchase = CreditPurchase.objects.get(workspace=workspace)
    assert purchase.status == CreditPurchase.Status.PENDING
    assert purchase.checkout_url == page.url
    page.screenshot(path=str(artifact_path("credits_checkout-local-checkout.png")), full_page=True)

    # Pay: the signed webhook event grants the credits, and the confirmation page says so.
    pay.click()
    expect(page).to_have_url(f"{base}/credits/purchases/{purchase.pk}/?result=success")
    status = page.locator("#purchase-status")
    expect(status.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(status).to_contain_text("500.00 credits were added to")
    expect(status).to_contain_text(workspace.name)
    expect(page.get_by_test_id("nav-balance")).to_contain_text("500.00")

    # Back on Credits: the new balance, one Purchase row of +500.00, the nav widget agrees.
    status.get_by_role("link", name="Back to Credits").click()
    expect(page).to_have_url(f"{base}/credits/")
    expect(page.get_by_test_id("balance")).to_have_text("500.00")
    rows = page.get_by_test_id("ledger-row")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(1)).to_have_text("Purchase")
    expect(rows.first.locator("td").nth(3)).to_have_text("+500.00")
    expect(rows.first.locator("td").nth(4)).to_have_text("500.00")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("500.00")
    purchase_rows = page.locator("section", has=page.get_by_role("heading", name="Recent purchases")).locator("tbody tr")
    expect(purchase_rows).to_have_count(1)
    for text in ("Growth", "500.00", "$199.00", "Complete"):
        expect(purchase_rows.first).to_contain_text(text)
    page.screenshot(path=str(artifact_path("credits_checkout-credits-after.png")), full_page=True)

    # The database agrees: one complete purchase, one ledger row, balance 500, no consistency findings.
    purchase.refresh_from_db()
    assert purchase.status == CreditPurchase.Status.COMPLETE
    assert purchase.completed_at is not None
    assert purchase.payment_intent_id.startswith("pi_local_")
    assert CreditPurchase.objects.filter(workspace=workspace).count() == 1
    account = CreditAccount.objects.get(workspace=workspace)
    assert account.balance == Decimal("500.00")
    ledger = list(CreditTransaction.objects.all())
    assert len(ledger) == 1
    row = ledger[0]
    assert (row.account_id, row.kind, row.amount, row.balance_after, row.reference) == (
        account.pk,
        CreditTransaction.Kind.PURCHASE,
        Decimal("500.00"),
        Decimal("500.00"),
        purchase.reference,
    )
    out = io.StringIO()
    call_command("check_consistency", stdout=out)  # raises SystemExit(1) on any finding
    assert "No findings" in out.getvalue(), out.getvalue()
