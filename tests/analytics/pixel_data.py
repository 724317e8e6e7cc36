"""Pixel traffic for analytics tests: events go in through the beacon's service; identification fields are
set on the visitor as the identification job leaves them."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import F
from django.utils import timezone

from visitors import partitions
from visitors.models import Event, Pixel, Visitor
from visitors.services import events_record, pixel_create


def make_pixel(workspace, domain="example.com") -> Pixel:
    return pixel_create(workspace=workspace, name="Main site", domain=domain)


def record(pixel: Pixel, visitor: str | None, *urls: str, type: str = "pageview", engaged_ms: int | None = None) -> None:
    """One beacon request of `visitor` with one event per URL (an event without URL when none is given)."""
    events_record(
        events=[
            (
                pixel.pk,
                {
                    "type": type,
                    "visitor": visitor,
                    "url": url,
                    "referrer": "",
                    "title": "",
                    "name": "",
                    "engaged_ms": engaged_ms,
                    "data": None,
                },
            )
            for url in (urls or ("",))
        ]
    )


def identify(pixel: Pixel, key: str, *, by: str, lag_ms: int | None = 1500, at: dt.datetime | None = None, **fields) -> Visitor:
    at = at or timezone.now()
    Visitor.objects.filter(pixel=pixel, key=key).update(
        identified_by=by, identified_at=at, identification_lag_ms=lag_ms, **fields
    )
    return Visitor.objects.get(pixel=pixel, key=key)


def backdate(pixel: Pixel, key: str, *, by: dt.timedelta) -> None:
    """Move a visitor and its events `by` into the past (a test-only rewrite of history)."""
    visitor = Visitor.objects.get(pixel=pixel, key=key)
    events = Event.objects.filter(pixel_id=pixel.pk, visitor_id=visitor.pk)
    with connection.cursor() as cursor:
        for received_at in events.values_list("received_at", flat=True):
            partitions.create_partition(cursor, partitions.month_start(received_at - by))
    events.update(received_at=F("received_at") - by)
    Visitor.objects.filter(pk=visitor.pk).update(first_seen=F("first_seen") - by, last_seen=F("last_seen") - by)
