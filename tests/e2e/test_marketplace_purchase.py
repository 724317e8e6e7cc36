"""A buyer shops the marketplace in a real browser: filter, fill the cart, buy with credits, download the CSV.

Log in through the form, open Marketplace from the sidebar, narrow the list with the filter sidebar (htmx swaps
#results and pushes the filters into the URL, so a reload keeps them), add two leads to the cart, wander off to
My Leads and back (the cart lives in the session), pay with credits on the cart page, then download the purchase's
CSV: the emails the browse page masked (``p***@domain``) are there in full, the balance dropped by exactly the
cart's total and both leads are in My Leads.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db.models import Sum
from playwright.sync_api import expect

from accounts.models import Workspace
from credits.models import CreditAccount, CreditTransaction
from leads.models import Lead
from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
from tests.marketplace.conftest import fund, make_listing

from .conftest import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (industry, state, first name, last name, email, phone, linkedin, company, title, seniority, price, quality):
# 12 leads over 3 industries and 3 states. Qualities are distinct, so the default sort (best quality first) gives
# one fixed order.
LEADS = [
    (
        "SaaS",
        "CA",
        "Priya",
        "Natarajan",
        "priya.natarajan@brightwave.io",
        "(415) 555-2601",
        "https://www.linkedin.com/in/priya-natarajan",
        "Brightwave",
        "VP of Sales",
        "vp",
        "12.50",
        95,
    ),
    (
        "SaaS",
        "CA",
        "Marcus",
        "Oyelaran",
        "marcus@cloudnimbus.com",
        "(415) 555-2602",
        "",
        "Cloudnimbus",
        "Head of Revenue Operations",
        "director",
        "7.25",
        91,
    ),
    (
        "SaaS",
        "CA",
        "Elena",
        "Sorokina",
        "elena.s@stackpilot.dev",
        "",
        "https://www.linkedin.com/in/elenasorokina",
        "StackPilot",
        "Chief Revenue Officer",
        "c_level",
        "9.00",
        62,
    ),
    (
        "SaaS",
        "NY",
        "Jordan",
        "Whitfield",
        "jwhitfield@quotaflow.com",
        "(212) 555-2633",
        "",
        "QuotaFlow",
        "Sales Manager",
        "manager",
        "11.00",
        88,
    ),
    (
        "SaaS",
        "NY",
        "Aiko",
        "Tanabe",
        "aiko.tanabe@pipelineiq.co",
        "",
        "",
        "PipelineIQ",
        "Account Executive",
        "senior",
        "6.50",
        47,
    ),
    (
        "SaaS",
        "TX",
        "Diego",
        "Alvarez",
        "diego@rampstack.io",
        "(512) 555-2640",
        "",
        "RampStack",
        "VP of Marketing",
        "vp",
        "8.75",
        79,
    ),
    (
        "Fintech",
        "CA",
        "Hannah",
        "Becker",
        "hannah.becker@ledgerly.com",
        "(415) 555-2651",
        "https://www.linkedin.com/in/hannahbecker",
        "Ledgerly",
        "CFO",
        "c_level",
        "14.00",
        93,
    ),
    (
        "Fintech",
        "CA",
        "Samuel",
        "Okafor",
        "sokafor@payloom.com",
        "",
        "",
        "Payloom",
        "Director of Partnerships",
        "director",
        "10.25",
        71,
    ),
    (
        "Fintech",
        "NY",
        "Grace",
        "Liang",
        "grace.liang@vaultline.com",
        "(212) 555-2662",
        "https://www.linkedin.com/in/graceliang",
        "Vaultline",
        "Head of Growth",
        "director",
        "13.75",
        85,
    ),
    ("Fintech", "NY", "Omar", "Haddad", "omar@clearsettle.io", "", "", "ClearSettle", "Sales Engineer", "senior", "9.50", 55),
    (
        "Healthcare",
        "TX",
        "Rachel",
        "Moreno",
        "rachel.moreno@carebridge.health",
        "(512) 555-2671",
        "",
        "CareBridge",
        "VP of Operations",
        "vp",
        "12.00",
        83,
    ),
    (
        "Healthcare",
        "TX",
        "Victor",
        "Nguyen",
        "vnguyen@medisync.com",
        "",
        "https://www.linkedin.com/in/victornguyen",
        "MediSync",
        "IT Director",
        "director",
        "8.00",
        66,
    ),
]
FUNDING = Decimal("100.00")


def _masked(email: str) -> str:
    local, domain = email.split("@")
    return f"{local[0]}***@{domain}"


def _rows_ids(page) -> list[int]:
    return [int(pk) for pk in page.get_by_test_id("listing-row").evaluate_all("rows => rows.map(row => row.dataset.listingId)")]


def test_filter_cart_buy_with_credits_and_download(page, live_server, tenant_factory):
    base = live_server.url
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    buyer = tenant_factory("Harbor Analytics")
    fund(buyer.workspace, FUNDING)
    listings = {}
    for industry, state, first, last, email, phone, linkedin, company, title, seniority, price, quality in LEADS:
        # Every other lead is partner-listed (revenue share); the rest are the house's own.
        listings[email] = make_listing(
            partner=partner.workspace if len(listings) % 2 == 0 else None,
            price=price,
            quality=quality,
            industry=industry,
            state=state,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            linkedin_url=linkedin,
            company_name=company,
            company_domain=email.split("@")[1],
            title=title,
            seniority=seniority,
            city={"CA": "San Francisco", "NY": "New York", "TX": "Austin"}[state],
        )
    by_quality = sorted(listings.values(), key=lambda listing: -listing.quality)
    saas_ca = [listing for listing in by_quality if (listing.industry, listing.state) == ("SaaS", "CA")]
    saas = [listing for listing in by_quality if listing.industry == "SaaS"]
    assert [listing.email for listing in saas_ca] == [
        "priya.natarajan@brightwave.io",
        "marcus@cloudnimbus.com",
        "elena.s@stackpilot.dev",
    ]
    first, second = saas_ca[0], saas_ca[1]  # the two leads bought: 12.50 (partner-listed) + 7.25 (house)
    assert first.partner_id == partner.workspace.pk and second.partner_id is None
    assert (first.phone, first.has_phone, first.has_linkedin) == ("+14155552601", True, True)
    total = first.price + second.price
    assert total == Decimal("19.75")

    # Log in through the real form.
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(buyer.user.email)
    page.get_by_label("Password").fill(buyer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("100.00")

    # Marketplace, through the sidebar: all 12 leads, contact details masked.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Marketplace").click()
    expect(page).to_have_url(f"{base}/marketplace/")
    expect(page.get_by_role("heading", name="Marketplace", exact=True)).to_be_visible()
    count = page.get_by_test_id("result-count")
    rows = page.get_by_test_id("listing-row")
    expect(count).to_have_text("12 leads")
    expect(rows).to_have_count(12)
    assert _rows_ids(page) == [listing.pk for listing in by_quality]
    first_row = page.locator(f'[data-testid="listing-row"][data-listing-id="{first.pk}"]')
    expect(first_row).to_contain_text(_masked(first.email))
    expect(first_row).to_contain_text("********01")  # the phone, masked to its last two digits
    expect(first_row.locator(".li")).to_have_count(1)  # the LinkedIn marker
    html = page.content()
    for email in listings:
        assert email not in html, f"{email} is shown in full before it was bought"
        assert _masked(email) in html
    expect(page.get_by_test_id("cart-summary")).to_contain_text("Cart · 0 leads")

    # Filter: htmx swaps #results in place (no page load) and pushes the filters into the URL.
    page.evaluate("window.__sameDocument = true")
    filters = page.locator("#filters")
    filters.get_by_label("SaaS").check()
    expect(count).to_have_text("6 leads")
    expect(rows).to_have_count(6)
    assert _rows_ids(page) == [listing.pk for listing in saas]
    expect(page).to_have_url(re.compile(r"/marketplace/\?.*\bindustry=SaaS\b"))
    filters.get_by_role("group", name="State").get_by_label("CA").check()
    expect(count).to_have_text("3 leads")
    expect(rows).to_have_count(3)
    assert _rows_ids(page) == [listing.pk for listing in saas_ca]
    expect(page).to_have_url(re.compile(r"/marketplace/\?.*\bstate=CA\b"))
    assert page.evaluate("window.__sameDocument") is True, "filtering reloaded the whole page"
    query = parse_qs(urlsplit(page.url).query)
    assert (query["industry"], query["state"]) == (["SaaS"], ["CA"]), page.url
    for listing in by_quality:
        if listing not in saas_ca:
            expect(page.locator(f'[data-testid="listing-row"][data-listing-id="{listing.pk}"]')).to_have_count(0)

    # A reload of the pushed URL is a full page load with the same filters applied and shown.
    filtered_url = page.url
    page.reload()
    expect(page).to_have_url(filtered_url)
    assert page.evaluate("window.__sameDocument") is None
    expect(count).to_have_text("3 leads")
    expect(rows).to_have_count(3)
    assert _rows_ids(page) == [listing.pk for listing in saas_ca]
    expect(filters.get_by_label("SaaS")).to_be_checked()
    expect(filters.get_by_label("Fintech")).not_to_be_checked()
    expect(filters.get_by_role("group", name="State").get_by_label("CA")).to_be_checked()
    page.screenshot(path=str(artifact_path("marketplace_purchase-browse-filtered.png")), full_page=True)

    # Add two leads to the cart: each button flips in place and the cart summary follows.
    page.evaluate("window.__sameDocument = true")
    for listing, summary in ((first, "Cart · 1 lead · 12.50 credits"), (second, "Cart · 2 leads · 19.75 credits")):
        button = page.locator(f'[data-testid="listing-row"][data-listing-id="{listing.pk}"]').get_by_test_id("cart-toggle")
        expect(button).to_have_text("Add to cart")
        button.click()
        expect(button).to_have_text("✓ In cart")
        expect(page.get_by_test_id("cart-summary")).to_contain_text(summary)
    assert page.evaluate("window.__sameDocument") is True, "adding to the cart reloaded the whole page"
    expect(page).to_have_url(filtered_url)

    # Away to My Leads (nothing bought yet) and back: the cart survived.
    nav.get_by_role("link", name="My Leads").click()
    expect(page).to_have_url(f"{base}/leads/")
    expect(page.get_by_role("heading", name="No leads yet")).to_be_visible()
    nav.get_by_role("link", name="Marketplace").click()
    expect(page).to_have_url(f"{base}/marketplace/")
    expect(count).to_have_text("12 leads")
    expect(page.get_by_test_id("cart-summary")).to_contain_text("Cart · 2 leads · 19.75 credits")
    in_cart = page.get_by_test_id("cart-toggle").filter(has_text="In cart")
    expect(in_cart).to_have_count(2)
    for listing in (first, second):
        expect(
            page.locator(f'[data-testid="listing-row"][data-listing-id="{listing.pk}"]').get_by_test_id("cart-toggle")
        ).to_have_text("✓ In cart")

    # The cart: two leads, the total, the balance, and the credits button for exactly that total.
    page.get_by_test_id("cart-summary").click()
    expect(page).to_have_url(f"{base}/marketplace/cart/")
    cart_rows = page.get_by_test_id("cart-row")
    expect(cart_rows).to_have_count(2)
    expect(cart_rows.nth(0)).to_contain_text(first.company_name)
    expect(cart_rows.nth(1)).to_contain_text(second.company_name)
    expect(page.get_by_test_id("cart-total")).to_have_text("19.75")
    expect(page.locator(".checkout-box")).to_contain_text("100.00 credits")
    buy = page.get_by_test_id("buy-with-credits")
    expect(buy).to_have_text("Buy with 19.75 credits")
    expect(buy).to_be_enabled()
    page.screenshot(path=str(artifact_path("marketplace_purchase-cart.png")), full_page=True)

    # Buy with credits: the purchase page, complete, with full contact details and the new balance.
    buy.click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/marketplace/purchases/") + r"\d+/$"))
    purchase = LeadPurchase.objects.get(workspace=buyer.workspace)
    expect(page).to_have_url(f"{base}/marketplace/purchases/{purchase.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Purchase LP-{purchase.pk}")
    expect(page.locator("#toasts")).to_contain_text("Bought 2 leads.")
    status = page.locator("#purchase-status")
    expect(status).to_contain_text("Complete")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("80.25")
    leads_table = page.locator("section", has=page.get_by_role("heading", name="Leads", exact=True))
    expect(leads_table.locator("tbody tr")).to_have_count(2)
    for listing in (first, second):
        expect(leads_table).to_contain_text(listing.email)
    expect(leads_table).to_contain_text(first.phone)
    page.screenshot(path=str(artifact_path("marketplace_purchase-purchase.png")), full_page=True)

    # Download CSV: both leads with their FULL emails (and the phone), the lead-field columns of docs/marketplace.md.
    with page.expect_download() as download_info:
        page.get_by_test_id("download-csv").click()
    download = download_info.value
    assert download.suggested_filename == f"cursive-purchase-{purchase.pk}.csv"
    with open(download.path(), encoding="utf-8", newline="") as handle:
        text = handle.read()
    records = list(csv.DictReader(io.StringIO(text)))
    assert list(records[0]) == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "seniority",
        "company_name",
        "company_domain",
        "company_size",
        "industry",
        "city",
        "state",
        "zip",
        "country",
        "linkedin_url",
    ]
    assert sorted(record["email"] for record in records) == sorted([first.email, second.email])
    by_email = {record["email"]: record for record in records}
    assert (by_email[first.email]["first_name"], by_email[first.email]["last_name"]) == ("Priya", "Natarajan")
    assert "14155552601" in by_email[first.email]["phone"]
    assert by_email[first.email]["linkedin_url"] == "https://www.linkedin.com/in/priya-natarajan"
    assert "14155552602" in by_email[second.email]["phone"]
    for listing in (first, second):
        assert _masked(listing.email) not in text

    # My Leads, through the sidebar: the two bought leads, full emails, source Marketplace.
    nav.get_by_role("link", name="My Leads").click()
    expect(page).to_have_url(f"{base}/leads/")
    lead_rows = page.locator("#lead-results tbody tr")
    expect(lead_rows).to_have_count(2)
    for listing in (first, second):
        row = lead_rows.filter(has_text=listing.email)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(f"{listing.first_name} {listing.last_name}")
        expect(row).to_contain_text("Marketplace")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("80.25")

    # Back on the marketplace the two sold leads are gone and the cart is empty.
    nav.get_by_role("link", name="Marketplace").click()
    expect(count).to_have_text("10 leads")
    expect(page.get_by_test_id("cart-summary")).to_contain_text("Cart · 0 leads")
    for listing in (first, second):
        expect(page.locator(f'[data-testid="listing-row"][data-listing-id="{listing.pk}"]')).to_have_count(0)

    # The database agrees: a complete credits purchase of 19.75, balance 100 - 19.75 == the ledger's sum,
    # both listings sold once to the buyer, the partner paid its share of the lead it listed.
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment, purchase.total_credits) == (
        LeadPurchase.Status.COMPLETE,
        LeadPurchase.Payment.CREDITS,
        total,
    )
    account = CreditAccount.objects.get(workspace=buyer.workspace)
    assert account.balance == FUNDING - total == Decimal("80.25")
    assert CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] == account.balance
    spend = CreditTransaction.objects.get(account=account, kind=CreditTransaction.Kind.SPEND)
    assert (spend.amount, spend.reference) == (-total, purchase.reference)
    for listing in (first, second):
        listing.refresh_from_db()
        assert (listing.status, listing.buyer_id) == (Listing.Status.SOLD, buyer.workspace.pk)
        assert LeadPurchaseItem.objects.filter(listing=listing, is_sale=True).count() == 1
    bought = Lead.objects.filter(workspace=buyer.workspace)
    assert sorted(bought.values_list("email", flat=True)) == sorted([first.email, second.email])
    assert set(bought.values_list("source", flat=True)) == {Lead.Source.MARKETPLACE}
    partner_account = CreditAccount.objects.get(workspace=partner.workspace)
    assert partner_account.balance == (first.price * first.revenue_share_percent / 100).quantize(Decimal("0.01"))
    out = io.StringIO()
    call_command("check_consistency", stdout=out)  # raises SystemExit(1) on any finding
    assert "No findings" in out.getvalue(), out.getvalue()
