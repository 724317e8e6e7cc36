from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Workspace
from cursive.errors import NotFound

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
