from decimal import Decimal

import pytest

from enrichment.models import Enrichment
from enrichment.services import enrichment_build_result, enrichment_confirm
from leads.models import Lead

from .conftest import csv_bytes, fund, make_person, upload

pytestmark = pytest.mark.django_db


def test_smoke(tenant):
    a = make_person(phone="+12125550101", linkedin_url="https://www.linkedin.com/in/jane-doe-1")
    b = make_person(phone="+12125550102")
    c = make_person(first_name="Robert", last_name="Smithson", domain="acme.example", company_name="Acme Inc.")
    d = make_person(linkedin_url="https://linkedin.com/in/Zed-Q")
    content = csv_bytes(
        ["First", "Last", "Email", "Phone", "Company", "Website", "LinkedIn"],
        [
            ["", "", a.email.upper(), "", "", "", ""],
            ["", "", "", "(212) 555-0102", "", "", ""],
            ["Bob", "Smithson", "", "", "Acme", "https://www.acme.example/", ""],
            ["", "", "", "", "", "", "http://uk.linkedin.com/in/zed-q/?trk=x"],
            ["", "", "nobody@nowhere.example", "", "", "", ""],
            ["=cmd", "", "", "", "", "", ""],
        ],
    )
    enrichment = upload(tenant, content)
    assert enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION, enrichment.failure_message
    assert enrichment.total_rows == 6
    assert enrichment.matched_rows == 4
    assert enrichment.unusable_rows == 1
    assert enrichment.matched_by == {"email": 1, "phone": 1, "linkedin": 1, "name": 1}
    assert enrichment.credits_quote == Decimal("0.80")
    fund(tenant, 10)
    enrichment = enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    assert enrichment.credits_charged == Decimal("0.80")
    assert Lead.objects.filter(workspace=tenant.workspace, source="enrichment").count() == 4
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.COMPLETE
    text = enrichment.result_file.open("rb").read().decode()
    print(text)
    assert c.title in text and d.email in text and b.email in text
