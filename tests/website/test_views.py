import re
from decimal import Decimal

import pytest
from django.urls import reverse

from credits.models import CreditPackage
from credits.packages import ensure_default_packages
from marketplace.services import listing_create
from website.views import DEFAULT_HEADLINE

pytestmark = pytest.mark.django_db

HEADLINE_HTML = DEFAULT_HEADLINE.replace("'", "&#x27;")


@pytest.fixture
def packages():
    ensure_default_packages(CreditPackage)
    return list(CreditPackage.objects.filter(active=True))


def test_anonymous_visitors_get_the_public_home(client, packages):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert HEADLINE_HTML in html
    assert html.count('data-testid="start-free"') == 1
    assert 'href="/signup/"' in html
    # The price of credits comes from the packages in the database: Enterprise, 5,000 for $1,499, is the cheapest.
    assert "$0.30" in html and "$49.00" in html
    for benefit in ("Identify your visitors", "Find and buy leads", "Reach them first"):
        assert benefit in html


def test_the_home_price_follows_the_packages(client, packages):
    CreditPackage.objects.all().update(active=False)
    CreditPackage.objects.create(label="Solo", credits=Decimal("10"), price_cents=900, position=1)
    html = client.get("/").content.decode()
    assert "$0.90" in html and "$9.00" in html


def test_logged_in_users_get_the_dashboard_at_the_same_url(client, tenant):
    assert reverse("dashboard") == "/"
    tenant.browser_client(client)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Getting started" in response.content
    assert HEADLINE_HTML.encode() not in response.content


def test_a_user_without_a_workspace_is_sent_to_create_one(client, django_user_model):
    from accounts.services import user_create

    user = user_create(email="lone@example.com", password="correct-horse-battery-9")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302 and response.url == reverse("accounts:workspace_new")


@pytest.mark.parametrize("path", ["/", "/pricing", "/services", "/terms", "/privacy-policy", "/refund-policy"])
def test_public_pages_load_nothing_from_another_host(client, packages, path):
    html = client.get(path).content.decode()
    for attribute in re.findall(r'(?:src|href|action)="([^"]*)"', html):
        assert not attribute.startswith(("http:", "https:", "//")), (path, attribute)
    assert 'lang="en"' in html and "<main" in html and "<header" in html and "<footer" in html


def test_the_home_page_runs_no_script(client, packages):
    assert "<script" not in client.get("/").content.decode()


def test_the_footer_links_the_legal_pages_the_opt_out_and_the_docs(client, packages):
    html = client.get("/pricing").content.decode()
    for href in ("/terms", "/privacy-policy", "/refund-policy", reverse("privacy:opt_out"), "/docs/"):
        assert f'href="{href}"' in html


def test_pricing_lists_packages_with_price_per_credit_and_savings(client):
    CreditPackage.objects.all().delete()
    CreditPackage.objects.create(label="Small", credits=Decimal("100"), price_cents=5000, position=1)
    CreditPackage.objects.create(label="Big", credits=Decimal("1000"), price_cents=40000, popular=True, position=2)
    CreditPackage.objects.create(label="Hidden", credits=Decimal("50"), price_cents=100, active=False, position=3)
    response = client.get("/pricing")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Small" in html and "Big" in html and "Hidden" not in html
    assert "$50.00" in html and "$0.50 per credit" in html
    assert "$400.00" in html and "$0.40 per credit" in html
    assert "Save 20%" in html
    assert "Credits never expire" in html


def test_pricing_shows_an_empty_state_without_packages(client):
    CreditPackage.objects.all().delete()
    response = client.get("/pricing")
    assert response.status_code == 200
    assert b'data-testid="no-packages"' in response.content


def test_pricing_reads_what_a_credit_buys_from_settings_and_listings(client, packages, settings):
    settings.SEGMENT_PULL_PRICE = Decimal("1.50")
    settings.ENRICHMENT_PRICE_PER_ROW = Decimal("0.35")
    settings.VISITOR_ENRICHMENT_PRICE = Decimal("2.25")
    settings.BOUNCE_REFUND_DAYS = 45
    for n, price in enumerate(["3.00", "12.50"]):
        listing_create(data={"first_name": "P", "email": f"p{n}@lead.example", "company_name": "Co"}, price=price, quality=60)
    html = client.get("/pricing").content.decode()
    assert re.search(r'data-testid="price-pull">\s*1\.50 per person', html)
    assert re.search(r'data-testid="price-enrichment">\s*0\.35 per row', html)
    assert re.search(r'data-testid="price-visitor">\s*2\.25 per person', html)
    assert re.search(r'data-testid="price-listing">\s*3\.00 – 12\.50 each', html)
    assert "within 45 days" in html


def test_public_pages_answer_within_a_few_queries(client, packages, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        client.get("/")
    with django_assert_max_num_queries(4):
        client.get("/pricing")
