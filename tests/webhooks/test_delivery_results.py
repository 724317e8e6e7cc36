"""What a delivery row records once its batch succeeded (written in one statement for the whole batch)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cursive.events import emit
from webhooks.models import Delivery

from .test_delivery import deliver_all, make_endpoint

pytestmark = pytest.mark.django_db


def test_a_batch_that_succeeds_records_each_delivery_and_clears_the_retry(tenant, receiver):
    make_endpoint(tenant, receiver)
    receiver.answer_next(500)
    for n in range(3):
        emit(workspace=tenant.workspace, type="lead.created", data={"lead_id": n})
    start = timezone.now()
    assert deliver_all(now=start) == 0
    first = Delivery.objects.order_by("event_id").first()
    assert (first.attempts, first.response_status, first.response_body) == (1, 500, "receiver says no")

    assert deliver_all(now=first.next_attempt_at) == 3
    rows = list(Delivery.objects.order_by("event_id"))
    assert [row.attempts for row in rows] == [2, 1, 1]
    for row in rows:
        assert (row.status, row.next_attempt_at, row.response_status, row.error) == ("succeeded", None, 200, "")
        assert row.response_body == '{"ok": true}' and row.duration_ms is not None
        assert row.last_attempt_at == first.next_attempt_at
    assert [received.json()["data"]["lead_id"] for received in receiver.got] == [0, 0, 1, 2]
