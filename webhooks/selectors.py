from __future__ import annotations

import datetime as dt

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.models import Workspace
from cursive.errors import NotFound
from cursive.models import OutboxEvent

from .models import Delivery, Endpoint


def workspace_endpoints(*, workspace: Workspace) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(workspace=workspace)


def endpoint_get(*, workspace: Workspace, endpoint_id) -> Endpoint:
    endpoint = workspace_endpoints(workspace=workspace).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("That webhook endpoint does not exist in this workspace.")
    return endpoint


def endpoint_deliveries(*, endpoint: Endpoint, status: str | None = None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


def delivery_get(*, endpoint: Endpoint, delivery_id) -> Delivery:
    delivery = endpoint_deliveries(endpoint=endpoint).filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound("That delivery does not exist for this endpoint.")
    return delivery


def endpoints_with_last_delivery(*, workspace: Workspace) -> QuerySet[Endpoint]:
    """The workspace's endpoints, newest first, each with its last delivery's result (one query for any number)."""
    last = Delivery.objects.filter(endpoint=OuterRef("pk")).order_by("-id")
    return (
        workspace_endpoints(workspace=workspace)
        .annotate(
            last_delivery_status=Subquery(last.values("status")[:1]),
            last_delivery_response_status=Subquery(last.values("response_status")[:1]),
            last_delivery_error=Subquery(last.values("error")[:1]),
            last_delivery_at=Subquery(last.values("last_attempt_at")[:1]),
        )
        .order_by("-created_at", "-id")
    )


def endpoint_missed_events(*, endpoint: Endpoint, since: dt.datetime) -> QuerySet[OutboxEvent]:
    """What services.endpoint_replay would deliver again: the events since `since` that the endpoint wants and
    did not receive."""
    events = OutboxEvent.objects.filter(workspace_id=endpoint.workspace_id, created_at__gte=since).exclude(type="webhook.test")
    if endpoint.events:
        events = events.filter(type__in=endpoint.events)
    received = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.SUCCEEDED).values("event_id")
    return events.exclude(pk__in=received)
