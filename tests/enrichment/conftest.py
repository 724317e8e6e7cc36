import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from credits.services import credits_adjust
from enrichment.services import enrichment_create, enrichment_match
from leads.models import Company, Person
from leads.normalize import dedup_hash

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def make_person(*, domain: str | None = None, company_name: str | None = None, **fields) -> Person:
    """A person of the shared lead database (the demo loader or staff write these, never a workspace)."""
    n = next(_n)
    domain = domain or f"co{n}.example"
    company, _ = Company.objects.get_or_create(
        domain=domain, defaults={"name": company_name or f"Co {n}", "size": "51-200", "industry": "SaaS"}
    )
    values = {
        "first_name": f"Pat{n}",
        "last_name": f"Lee{n}",
        "email": f"pat{n}@{domain}",
        "phone": "",
        "title": "VP of Sales",
        "seniority": "vp",
        "company_name": company.name,
        "company_domain": company.domain,
        "company_size": "51-200",
        "industry": "SaaS",
        "city": "Austin",
        "state": "TX",
        "zip": "73301",
        "score": 50,
        "email_verified": False,
        "linkedin_url": "",
    }
    values.update(fields)
    values["has_email"] = bool(values["email"])
    values.setdefault("has_phone", bool(values["phone"]))
    values.setdefault("has_linkedin", bool(values["linkedin_url"]))
    return Person.objects.create(company=company, dedup_hash=dedup_hash(values["email"], values["phone"]), **values)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(tenant, content: bytes, *, name="list.csv", mapping=None, match=True):
    enrichment = enrichment_create(
        workspace=tenant.workspace, file=SimpleUploadedFile(name, content, "text/csv"), mapping=mapping, created_by=tenant.user
    )
    if match:
        enrichment_match(enrichment_id=enrichment.pk)
        enrichment.refresh_from_db()
    return enrichment


def fund(tenant, amount) -> None:
    credits_adjust(workspace=tenant.workspace, amount=str(amount), actor=None, reason="test funds")


def make_people(count: int, *, prefix: str, **fields) -> list[Person]:
    """`count` people at companies of their own, in two inserts (a person's fields as make_person's)."""
    companies = Company.objects.bulk_create(
        [
            Company(domain=f"{prefix}{i}.example", name=f"{prefix.title()} Works {i}", size="51-200", industry="SaaS")
            for i in range(count)
        ]
    )
    people = []
    for i, company in enumerate(companies):
        values = {
            "first_name": f"{prefix.title()}{i}",
            "last_name": f"Morgan{i}",
            "email": f"{prefix}{i}@{company.domain}",
            "phone": "",
            "title": "Head of Growth",
            "seniority": "director",
            "company_name": company.name,
            "company_domain": company.domain,
            "company_size": "51-200",
            "industry": "SaaS",
            "city": "Denver",
            "state": "CO",
            "score": 40,
            "linkedin_url": "",
        }
        values.update({key: value(i) if callable(value) else value for key, value in fields.items()})
        values.update(has_email=bool(values["email"]), has_phone=bool(values["phone"]), has_linkedin=bool(values["linkedin_url"]))
        people.append(Person(company=company, dedup_hash=dedup_hash(values["email"], values["phone"]), **values))
    return Person.objects.bulk_create(people)
