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
