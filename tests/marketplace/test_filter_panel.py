"""The Marketplace filter panel lists long facets without scroll boxes: ticked values first, a few others, the rest
folded under "Show N more"; on a narrow screen the panel folds behind a Filters button that counts what is applied."""

import re

import pytest

from marketplace.views import FACET_SHOWN, facet_choices

from .conftest import make_listing

pytestmark = pytest.mark.django_db

INDUSTRIES = [f"Industry {letter}" for letter in "ABCDEFGHIJ"]


def test_ticked_values_come_first_and_the_rest_fold():
    choices = facet_choices(INDUSTRIES, ["Industry J", "Industry C"])
    assert choices["shown"][:2] == ["Industry C", "Industry J"]
    assert len(choices["shown"]) == FACET_SHOWN
    assert choices["shown"] + choices["more"] == ["Industry C", "Industry J"] + [
        value for value in INDUSTRIES if value not in ("Industry C", "Industry J")
    ]


def test_every_ticked_value_shows_even_past_the_limit():
    ticked = INDUSTRIES[:8]
    choices = facet_choices(INDUSTRIES, ticked)
    assert choices["shown"] == ticked and choices["more"] == INDUSTRIES[8:]


def test_a_short_facet_folds_nothing():
    assert facet_choices(["SaaS", "Fintech"], []) == {"shown": ["SaaS", "Fintech"], "more": []}


def test_the_page_shows_the_ticked_industry_first_and_no_multi_select(client, buyer):
    client.force_login(buyer.user)
    for industry in INDUSTRIES:
        make_listing(industry=industry, state="CA")
    page = client.get("/marketplace/", {"industry": "Industry J", "state": "CA"}).content.decode()
    industry_boxes = re.findall(r'name="industry" value="([^"]+)"( checked)?', page)
    assert industry_boxes[0] == ("Industry J", " checked")
    more = page[page.index('data-testid="more-industry"') :]
    assert "Show 4 more" in more and 'value="Industry J"' not in more
    assert " multiple" not in page[page.index('id="filters"') : page.index('name="price_min"')], "no multi-select box"
    assert 'class="filter-actions"' in page
    assert re.search(r"data-filters-toggle>Filters \(2\)</button>", page)


def test_the_filters_button_counts_every_applied_filter(client, buyer):
    client.force_login(buyer.user)
    make_listing()
    assert "data-filters-toggle>Filters</button>" in client.get("/marketplace/", {"sort": "price", "q": "vp"}).content.decode()
    page = client.get("/marketplace/", {"has_phone": "false", "quality_min": "0", "industry": "SaaS"}).content.decode()
    assert "data-filters-toggle>Filters (3)</button>" in page
