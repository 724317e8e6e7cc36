import itertools
from decimal import Decimal

import pytest

from accounts.models import Workspace
from credits.services import credits_adjust
from marketplace.services import listing_create

_n = itertools.count(1)


def make_listing(*, partner=None, price="10.00", quality=80, **fields):
    n = next(_n)
    data = {
        "first_name": f"Pat{n}",
        "last_name": "Lee",
        "email": f"pat{n}@lead{n}.example",
        "title": "VP of Sales",
        "seniority": "vp",
        "company_name": f"Company {n}",
        "company_size": "51-200",
        "industry": "SaaS",
        "state": "CA",
        "city": "San Francisco",
        "phone": "",
        "linkedin_url": "",
    }
    data.update(fields)
    return listing_create(data=data, price=price, quality=quality, partner=partner)


def fund(workspace, amount) -> None:
    credits_adjust(workspace=workspace, amount=Decimal(str(amount)), actor=None, reason="test funding")


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)


@pytest.fixture
def buyer(tenant_factory):
    buyer = tenant_factory("Buyer Co")
    fund(buyer.workspace, 1000)
    return buyer
