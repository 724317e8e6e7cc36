from datetime import timedelta

import pytest
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
