from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cursive.pagination import keyset_paginate
from leads.models import Lead
from leads.services import lead_create


@pytest.mark.django_db
def test_rows_within_one_millisecond_are_neither_skipped_nor_repeated(tenant):
    moment = timezone.now().replace(microsecond=500_000)
    for i in range(7):
        lead = lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": f"p{i}@x.example"})
        # Seven rows a few microseconds apart: the same millisecond.
        Lead.objects.filter(pk=lead.pk).update(created_at=moment + timedelta(microseconds=i))
    seen, cursor = [], None
    while True:
        page = keyset_paginate(Lead.objects.all(), ordering=("-created_at", "-id"), cursor=cursor, page_size=2)
        seen += [lead.pk for lead in page.results]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == list(Lead.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert len(seen) == 7


LISTS = [
    "/api/v1/marketplace/leads",
    "/api/v1/marketplace/leads?sort=price",
    "/api/v1/marketplace/leads?sort=-created",
    "/api/v1/leads",
    "/api/v1/leads?sort=-created",
    "/api/v1/credits/transactions",
    "/api/v1/segments",
    "/api/v1/marketplace/purchases",
]


def _b64(raw: str) -> str:
    import base64

    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "raw",
    [
        '["a","b"]',
        "[null,null]",
        "[{},[]]",
        '["2026-01-01",1]',
        '["a"]',
        "[1,2,3]",
        '{"k":"leads.lead:-score,-id","v":[true,1]}',
        "not json",
        "{}",
    ],
)
def test_a_crafted_cursor_is_a_400_on_every_list(tenant, path, raw):
    joiner = "&" if "?" in path else "?"
    response = tenant.api().get(f"{path}{joiner}cursor={_b64(raw)}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.django_db
def test_a_cursor_only_continues_the_list_and_sort_that_made_it(tenant):
    for i in range(3):
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": f"c{i}@x.example"})
    api = tenant.api()
    first = api.get("/api/v1/leads?limit=1").json()
    assert api.get(f"/api/v1/leads?limit=1&cursor={first['next']}").status_code == 200
    assert api.get(f"/api/v1/leads?limit=1&sort=-created&cursor={first['next']}").status_code == 400
    assert api.get(f"/api/v1/credits/transactions?cursor={first['next']}").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("limit,status", [("0", 400), ("-1", 400), ("x", 400), ("1", 200), ("5000", 200)])
def test_page_size_limits(tenant, limit, status):
    assert tenant.api().get(f"/api/v1/leads?limit={limit}").status_code == status


@pytest.mark.django_db
def test_a_next_page_starts_its_scan_at_the_cursor(tenant):
    """A row comparison, which PostgreSQL uses as an index range start, rather than an OR of clauses."""
    for i in range(3):
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": f"s{i}@x.example"})
    page = keyset_paginate(Lead.objects.all(), ordering=("-score", "-id"), cursor=None, page_size=1)
    with CaptureQueriesContext(connection) as captured:
        rest = keyset_paginate(Lead.objects.all(), ordering=("-score", "-id"), cursor=page.next_cursor, page_size=5)
    where = captured.captured_queries[-1]["sql"].split("WHERE", 1)[1]
    assert where.strip().startswith('("leads_lead"."score", "leads_lead"."id") < (15, ')
    expected = list(Lead.objects.order_by("-score", "-id").values_list("pk", flat=True))
    assert [lead.pk for lead in page.results + rest.results] == expected
