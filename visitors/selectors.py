from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Workspace
from cursive.errors import NotFound

from .models import Event, Pixel, Visitor

VISITOR_EVENTS_SHOWN = 200


def workspace_pixels(*, workspace: Workspace) -> QuerySet[Pixel]:
    return Pixel.objects.filter(workspace=workspace)


def pixel_get(*, workspace: Workspace, pixel_id) -> Pixel:
    pixel = workspace_pixels(workspace=workspace).filter(pk=pixel_id).first()
    if pixel is None:
        raise NotFound("That pixel does not exist in this workspace.")
    return pixel


def pixels_by_site_key(*, site_keys: set[str]) -> dict[str, Pixel]:
    """The pixels a beacon names (no workspace: the site key is the snippet's only credential)."""
    return {pixel.site_key: pixel for pixel in Pixel.objects.filter(site_key__in=site_keys).only("pk", "site_key", "domain")}


def workspace_visitors(*, workspace: Workspace, pixel_id: int | None = None, identified: bool | None = None) -> QuerySet[Visitor]:
    visitors = Visitor.objects.filter(pixel__workspace=workspace)
    if pixel_id is not None:
        visitors = visitors.filter(pixel_id=pixel_id)
    if identified is not None:
        visitors = visitors.filter(identified_by__isnull=not identified)
    return visitors


def visitor_get(*, workspace: Workspace, visitor_id) -> Visitor:
    visitor = workspace_visitors(workspace=workspace).filter(pk=visitor_id).first()
    if visitor is None:
        raise NotFound("That visitor does not exist in this workspace.")
    return visitor


def visitor_events(*, visitor: Visitor) -> list[Event]:
    """The visitor's latest events, newest first."""
    return list(
        Event.objects.filter(visitor_id=visitor.pk, pixel_id=visitor.pixel_id)
        .order_by("-received_at", "-id")
        .only("type", "url", "received_at")[:VISITOR_EVENTS_SHOWN]
    )
