import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Workspace
from partners.services import upload_create, upload_process

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory(f"LeadForge {next(_n)}", kind=Workspace.Kind.PARTNER)


def upload_bytes(partner, content: bytes, *, name="leads.csv", price="5.00", mapping=None, process=True):
    upload = upload_create(
        workspace=partner.workspace,
        file=SimpleUploadedFile(name, content, "text/csv"),
        price_per_lead=price,
        mapping=mapping,
        created_by=partner.user,
    )
    if process:
        upload_process(upload_id=upload.pk)
        upload.refresh_from_db()
    return upload


def csv_text(rows, header="first_name,last_name,email,phone,title,company_name", sep=","):
    return header.replace(",", sep) + "\n" + "\n".join(sep.join(row) for row in rows) + "\n"


def person(i, **overrides):
    row = {
        "first_name": f"Ann{i}",
        "last_name": "Lee",
        "email": f"ann{i}@company{i}.example",
        "phone": f"(415) 555-{2000 + i % 8000:04d}",
        "title": "VP Sales",
        "company_name": f"Company {i}",
    }
    row.update(overrides)
    return [row["first_name"], row["last_name"], row["email"], row["phone"], row["title"], row["company_name"]]
