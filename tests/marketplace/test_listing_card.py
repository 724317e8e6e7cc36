"""The lines of a listing's card on the browse page, each part shown only when the listing has it."""

import pytest

from marketplace.models import Listing


@pytest.mark.parametrize(
    ("seniority", "city", "state", "expected"),
    [
        ("vp", "Austin", "TX", "VP · Austin, TX"),
        ("vp", "", "TX", "VP · TX"),
        ("vp", "Austin", "", "VP · Austin"),
        ("", "Austin", "TX", "Austin, TX"),
        ("director", "", "", "Director"),
        ("", "", "", ""),
    ],
)
def test_role_and_place(seniority, city, state, expected):
    assert Listing(seniority=seniority, city=city, state=state).role_and_place == expected


@pytest.mark.parametrize(
    ("industry", "size", "expected"),
    [("SaaS", "51-200", "SaaS · 51-200"), ("SaaS", "", "SaaS"), ("", "51-200", "51-200"), ("", "", "")],
)
def test_company_line(industry, size, expected):
    assert Listing(industry=industry, company_size=size).company_line == expected


@pytest.mark.parametrize(("quality", "band"), [(100, "ok"), (75, "ok"), (74, "warn"), (50, "warn"), (49, "bad"), (0, "bad")])
def test_quality_band(quality, band):
    assert Listing(quality=quality).quality_band == band


def _row(**fields) -> str:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from marketplace.templatetags.listing_cards import listing_rows

    data = {
        "pk": 7,
        "title": "VP of Sales",
        "seniority": "vp",
        "city": "Austin",
        "state": "TX",
        "company_name": "Acme",
        "industry": "SaaS",
        "company_size": "51-200",
        "email": "pat@acme.example",
        "phone": "+1 415 555 0123",
        "quality": 80,
        "has_phone": True,
        "has_linkedin": False,
        "price": Decimal("1500.00"),
        "listed_at": timezone.now() - timedelta(days=3),
        **fields,
    }
    return str(listing_rows([Listing(**data)], {3}, "/marketplace/cart/toggle/"))


def test_a_row_shows_the_card_masked_and_escaped():
    row = _row(title="<b>Boss</b>", company_name="Tom & Jerry's")
    assert row.startswith('<tr data-testid="listing-row" data-listing-id="7">')
    assert "<strong>&lt;b&gt;Boss&lt;/b&gt;</strong>" in row and "Tom &amp; Jerry&#x27;s" in row
    assert '<div class="small muted">VP · Austin, TX</div>' in row and '<div class="small muted">SaaS · 51-200</div>' in row
    assert '<div class="mono small">p***@acme.example</div><div class="mono small">*********23</div>' in row
    assert '<span class="badge badge-ok" title="Quality score">80</span>' in row
    assert 'aria-label="phone"' in row and 'aria-label="LinkedIn"' not in row
    assert '<span class="mono">1,500.00</span><div class="small muted">listed 3 days ago</div>' in row
    assert 'name="listing" value="7"' in row and ">Add to cart</button>" in row and "in-cart" not in row


def test_a_row_without_a_title_or_phone_and_in_the_cart():
    row = _row(pk=3, title="", phone="", has_phone=False, has_linkedin=True, quality=40)
    assert "<strong>—</strong>" in row and "*****" not in row and 'aria-label="phone"' not in row
    assert 'aria-label="LinkedIn"' in row and "badge-bad" in row
    assert 'class="btn btn-small cart-toggle in-cart"' in row and ">✓ In cart</button>" in row
