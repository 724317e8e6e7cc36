import pytest

from marketplace.models import LeadPurchase

from .conftest import fund, make_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, buyer):
    client.force_login(buyer.user)
    return client


def test_browse_page_filters_and_partials(browser):
    make_listing(industry="SaaS", state="CA", email="alpha@one.example")
    make_listing(industry="Fintech", state="NY")
    page = browser.get("/marketplace/").content.decode()
    assert "2 leads" in page and "a***@one.example" in page and "alpha@one.example" not in page
    assert 'name="industry" value="SaaS"' in page and 'hx-push-url="true"' in page
    partial = browser.get("/marketplace/?industry=Fintech&q=&price_min=", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    body = partial.content.decode()
    assert partial.headers["HX-Push-Url"] == "/marketplace/?industry=Fintech"
    assert "1 lead" in body and "<html" not in body and "Fintech" in body
    assert partial.headers["Vary"].count("HX-Request")


def test_bad_filters_show_a_message_instead_of_failing(browser):
    make_listing()
    page = browser.get("/marketplace/?quality_min=500").content.decode()
    assert "were not applied" in page and "Minimum quality: " in page and "1 lead" in page


@pytest.fixture
def fintech_and_others():
    for price in ("12.00", "15.00"):
        make_listing(industry="Fintech", state="CO", price=price)
    make_listing(industry="Fintech", state="NY", price="3.00")
    make_listing(industry="SaaS", state="CO", price="20.00")


def test_a_max_price_below_the_min_is_reported_and_the_other_filters_still_apply(browser, fintech_and_others):
    assert "2 leads" in browser.get("/marketplace/?industry=Fintech&price_min=10").content.decode()
    response = browser.get("/marketplace/?industry=Fintech&price_min=10&price_max=5")
    page = response.content.decode()
    assert "2 leads" in page, "Fintech and min price 10 still apply"
    assert response.context["errors"] == {"price_max": ["Max price must be at least the min price."]}
    assert 'id="price_max-error"' in page and "Max price must be at least the min price." in page
    assert "price_max" not in page.split('id="price_max-error"')[1].split("</")[0]


def test_a_bogus_sort_keeps_the_filters(browser, fintech_and_others):
    response = browser.get("/marketplace/?industry=Fintech&state=CO&sort=bogus", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    assert "2 leads" in response.content.decode()
    assert list(response.context["errors"]) == ["sort"] and response.context["errors"]["sort"][0].startswith("Sort by:")
    assert len(response.context["page"].results) == 2
    body = response.content.decode()
    assert '<p class="field-error" id="sort-error" role="alert" hx-swap-oob="true">Sort by: ' in body, "next to the field"
    assert '<p class="field-error" id="price_max-error" role="alert" hx-swap-oob="true" hidden>' in body


def test_the_api_still_answers_400_naming_the_field(buyer):
    response = buyer.api().get("/api/v1/marketplace/leads?price_min=10&price_max=5")
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["price_max"]


def test_empty_marketplace(browser):
    assert b"No leads for sale right now" in browser.get("/marketplace/").content
    assert b"No leads match these filters" in browser.get("/marketplace/?industry=Fintech").content


def test_cart_survives_navigation_and_checkout_with_credits(browser, buyer):
    a, b = make_listing(price="10.00"), make_listing(price="5.00")
    browser.post("/marketplace/cart/toggle/", {"listing": a.pk})
    response = browser.post("/marketplace/cart/toggle/", {"listing": b.pk}, HTTP_HX_REQUEST="true")
    assert b"In cart" in response.content and response.headers["HX-Trigger"] == "cart-changed"
    browser.get("/leads/")
    cart = browser.get("/marketplace/cart/").content.decode()
    assert cart.count('data-testid="cart-row"') == 2 and "15.00" in cart
    # Removing on the cart page reloads it with the new total.
    response = browser.post("/marketplace/cart/toggle/", {"listing": b.pk, "next": "/marketplace/cart/"}, follow=True)
    assert response.content.decode().count('data-testid="cart-row"') == 1 and b"10.00" in response.content
    browser.post("/marketplace/cart/toggle/", {"listing": b.pk, "next": "https://evil.example/"})
    done = browser.post("/marketplace/cart/checkout/", {"payment": "credits"}, follow=True)
    assert b"Bought 2 leads" in done.content and b"Download CSV" in done.content
    assert browser.get("/marketplace/cart/").content.count(b'data-testid="cart-row"') == 0
    purchase = LeadPurchase.objects.get()
    csv_body = b"".join(browser.get(f"/marketplace/purchases/{purchase.pk}/download/").streaming_content).decode()
    assert a.email in csv_body and b.email in csv_body


def test_a_page_of_listings_carries_one_cart_form_that_each_button_submits(browser):
    listings = [make_listing() for _ in range(3)]
    page = browser.get("/marketplace/?industry=SaaS").content.decode()
    assert page.count('<form id="cart-toggle" method="post" action="/marketplace/cart/toggle/"') == 1
    assert '<input type="hidden" name="next" value="/marketplace/?industry=SaaS">' in page
    assert 'name="csrfmiddlewaretoken"' in page
    for listing in listings:
        assert f'form="cart-toggle" name="listing" value="{listing.pk}" hx-post="/marketplace/cart/toggle/"' in page
    # The button that comes back from htmx submits the same form.
    swapped = browser.post("/marketplace/cart/toggle/", {"listing": listings[0].pk}, HTTP_HX_REQUEST="true").content.decode()
    assert f'form="cart-toggle" name="listing" value="{listings[0].pk}"' in swapped and "✓ In cart" in swapped


@pytest.mark.parametrize("value", [None, "", "abc", "0", "-3", "1.5", "99999999999999999999"])
def test_toggling_no_listing_is_a_404(browser, value):
    make_listing()
    response = browser.post("/marketplace/cart/toggle/", {} if value is None else {"listing": value})
    assert response.status_code == 404
    assert browser.get("/marketplace/cart/").content.count(b'data-testid="cart-row"') == 0


def test_cart_explains_unavailable_leads_and_missing_credits(browser, buyer, tenant_factory):
    gone, kept = make_listing(price="10.00"), make_listing(price="2000.00")
    browser.post("/marketplace/cart/toggle/", {"listing": gone.pk})
    browser.post("/marketplace/cart/toggle/", {"listing": kept.pk})
    rival = tenant_factory("Rival")
    fund(rival.workspace, 50)
    from marketplace.services import purchase_create

    purchase_create(workspace=rival.workspace, lead_ids=[gone.pk])
    cart = browser.get("/marketplace/cart/").content.decode()
    assert "bought by someone else" in cart and "no longer available" in cart
    assert "You need 1,000.00 more credits" in cart
    response = browser.post("/marketplace/cart/checkout/", {"payment": "credits"}, follow=True)
    assert b"no longer available" in response.content
    browser.post("/marketplace/cart/clear-unavailable/")
    assert browser.get("/marketplace/cart/").content.count(b'data-testid="cart-row"') == 1
    response = browser.post("/marketplace/cart/checkout/", {"payment": "credits"}, follow=True)
    assert b"1,000.00 more credits" in response.content
    assert not LeadPurchase.objects.filter(workspace=buyer.workspace).exists()


def test_card_checkout_from_the_cart_goes_to_the_checkout_page(browser, settings):
    settings.STRIPE_SECRET_KEY = ""
    listing = make_listing()
    browser.post("/marketplace/cart/toggle/", {"listing": listing.pk})
    response = browser.post("/marketplace/cart/checkout/", {"payment": "card"})
    assert "/checkout/local/" in response.url
    purchase = LeadPurchase.objects.get()
    detail = browser.get(f"/marketplace/purchases/{purchase.pk}/").content.decode()
    assert "Waiting for the card payment" in detail and 'hx-trigger="every 2s"' in detail
    assert browser.get(f"/marketplace/purchases/{purchase.pk}/download/").status_code == 302


def test_purchases_page(browser, buyer):
    assert b"No purchases yet" in browser.get("/marketplace/purchases/").content
    from marketplace.services import purchase_create

    purchase_create(workspace=buyer.workspace, lead_ids=[make_listing().pk])
    assert browser.get("/marketplace/purchases/").content.count(b'data-testid="purchase-row"') == 1


def test_staff_refund_from_admin(client, buyer):
    from accounts.services import user_create
    from marketplace.services import purchase_create

    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[make_listing(price="10").pk])
    client.force_login(staff)
    assert b"Refund" in client.get("/admin/marketplace/leadpurchase/").content
    url = f"/admin/marketplace/leadpurchase/{purchase.pk}/refund/"
    assert b"required" in client.post(url, {"reason": ""}).content.lower()
    client.post(url, {"reason": "Wrong industry", "return_to_market": "on"})
    purchase.refresh_from_db()
    assert purchase.status == LeadPurchase.Status.REFUNDED
    assert b"Only complete purchases" in client.post(url, {"reason": "again"}).content
