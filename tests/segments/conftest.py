import itertools

import pytest

from leads.models import Company, Person
from leads.normalize import dedup_hash

_n = itertools.count(1)


def make_person(**fields):
    """A person of the shared lead database (written by the demo loader or staff, never by a workspace)."""
    n = next(_n)
    company, _ = Company.objects.get_or_create(
        domain=f"co{n}.example",
        defaults={"name": f"Co {n}", "size": fields.get("company_size", "51-200"), "industry": fields.get("industry", "SaaS")},
    )
    values = {
        "first_name": f"P{n}",
        "last_name": "Test",
        "email": f"p{n}@co{n}.example",
        "phone": "",
        "title": "VP of Sales",
        "seniority": "vp",
        "company_name": company.name,
        "company_domain": company.domain,
        "company_size": "51-200",
        "industry": "SaaS",
        "city": "Austin",
        "state": "TX",
        "score": 50,
        "has_email": True,
        "email_verified": False,
        "linkedin_url": "",
    }
    values.update(fields)
    values.setdefault("has_phone", bool(values["phone"]))
    values.setdefault("has_linkedin", bool(values["linkedin_url"]))
    return Person.objects.create(company=company, dedup_hash=dedup_hash(values["email"], values["phone"]), **values)


@pytest.fixture
def people(db):
    return [make_person(score=90 - i) for i in range(30)]
