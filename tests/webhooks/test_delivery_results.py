"""What a delivery row records once its batch succeeded (written in one statement for the whole batch)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cursive.events import emit
from cursive.models import OutboxEvent
from webhooks import services
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


def test_dispatch_queues_one_pending_delivery_per_endpoint_due_when_its_event_happened(tenant, receiver):
    first, _ = make_endpoint(tenant, receiver)
    second, _ = make_endpoint(tenant, receiver, events=["purchase.completed"])
    third, _ = make_endpoint(tenant, receiver)
    event = emit(workspace=tenant.workspace, type="lead.created", data={"lead_id": 7})
    assert services.outbox_dispatch() == 1
    rows = list(Delivery.objects.order_by("endpoint_id"))
    assert [row.endpoint_id for row in rows] == [first.pk, third.pk]
    for row in rows:
        assert (row.event_id, row.status, row.attempts, row.next_attempt_at) == (event.pk, "pending", 0, event.created_at)
        assert (row.response_status, row.response_body, row.error, row.duration_ms, row.last_attempt_at) == (
            None,
            "",
            "",
            None,
            None,
        )
        assert row.created_at is not None
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    assert services.outbox_dispatch() == 1
    assert Delivery.objects.count() == 2, "dispatching an event again adds no delivery"


def test_each_enabled_endpoint_waits_for_its_oldest_pending_delivery(tenant, receiver):
    due_now, _ = make_endpoint(tenant, receiver)
    waiting, _ = make_endpoint(tenant, receiver)
    disabled, _ = make_endpoint(tenant, receiver)
    make_endpoint(tenant, receiver)  # everything delivered: no head
    for n in range(3):
        emit(workspace=tenant.workspace, type="lead.created", data={"lead_id": n})
    services.outbox_dispatch()
    now = timezone.now()
    later = now + dt.timedelta(minutes=5)
    Delivery.objects.filter(endpoint__in=[due_now, waiting, disabled]).update(next_attempt_at=now)
    oldest = Delivery.objects.filter(endpoint=waiting).order_by("event_id").first()
    Delivery.objects.filter(pk=oldest.pk).update(next_attempt_at=later)
    Delivery.objects.exclude(endpoint__in=[due_now, waiting, disabled]).update(status="succeeded")
    services.endpoint_update(workspace=tenant.workspace, endpoint_id=disabled.pk, status="disabled")

    assert services.due_endpoints(now=now) == [due_now.pk], "the waiting endpoint's later deliveries do not jump its head"
    assert services.next_due_at() == now
    Delivery.objects.filter(endpoint=due_now).update(status="succeeded")
    assert services.due_endpoints(now=now) == []
    assert services.next_due_at() == later
