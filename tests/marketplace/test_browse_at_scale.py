"""The browse page at a million listings: the sidebar's values come from hops through an index, and the count stops
at a cap (and says so) instead of counting every listing on sale."""

import pytest
from django.core.cache import cache

from marketplace import views
from marketplace.selectors import FACETS_CACHE_KEY, listing_facets
from marketplace.services import purchase_create

from .conftest import make_listing

pytestmark = pytest.mark.django_db


def test_facets_are_the_distinct_values_on_sale_in_order(buyer):
    for industry, state in [("SaaS", "CA"), ("Fintech", "NY"), ("SaaS", "NY"), ("Retail", ""), ("", "TX")]:
        make_listing(industry=industry, state=state)
    sold = make_listing(industry="Aerospace", state="AK")
    purchase_create(workspace=buyer.workspace, lead_ids=[sold.pk])
    assert listing_facets() == {"industry": ["Fintech", "Retail", "SaaS"], "state": ["CA", "NY", "TX"]}


def test_no_facets_without_listings(db):
    assert listing_facets() == {"industry": [], "state": []}


def test_facets_are_asked_once_a_minute(db, django_assert_num_queries):
    make_listing(industry="SaaS", state="CA")
    with django_assert_num_queries(2):
        assert listing_facets() == {"industry": ["SaaS"], "state": ["CA"]}
    make_listing(industry="Aerospace", state="AK")
    with django_assert_num_queries(0):
        assert listing_facets() == {"industry": ["SaaS"], "state": ["CA"]}
    cache.delete(FACETS_CACHE_KEY)  # what FACETS_SECONDS later does
    assert listing_facets() == {"industry": ["Aerospace", "SaaS"], "state": ["AK", "CA"]}


def test_the_count_stops_at_the_cap_and_says_so(client, buyer, monkeypatch):
    monkeypatch.setattr(views, "RESULT_COUNT_CAP", 2)
    for state in ("CA", "CA", "NY"):
        make_listing(state=state)
    client.force_login(buyer.user)
    everything = client.get("/marketplace/").content.decode()
    assert ">2+ leads</strong>" in everything
    assert 'title="More than 2 leads match: counting stops there.' in everything
    assert 'data-testid="result-count">2 leads</strong>' in client.get("/marketplace/?state=CA").content.decode()
    assert 'data-testid="result-count">1 lead</strong>' in client.get("/marketplace/?state=NY").content.decode()
