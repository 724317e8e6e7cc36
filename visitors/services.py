"""Every write to pixels, visitors and events."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Workspace
from cursive.errors import NotFound, ValidationFailed

from . import partitions
from .models import Event, Pixel

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DOMAIN_HELP = "Give the site's host name only, such as example.com (no https://, no path); it covers its subdomains."


def domain_normalize(raw: str) -> str:
    """A host name, lower-cased, internationalised names as punycode; ValidationFailed for anything else."""
    domain = (raw or "").strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    labels = domain.split(".")
    valid = (
        0 < len(domain) <= 253
        and all(_LABEL.match(label) for label in labels)
        and (len(labels) >= 2 or domain == "localhost")
        and not labels[-1].isdigit()
    )
    if valid and domain == "localhost" and settings.PRODUCTION:
        raise ValidationFailed(
            "localhost is accepted only for development.", fields={"domain": ["Use the site's public host name."]}
        )
    if not valid:
        raise ValidationFailed(f"'{(raw or '')[:100]}' is not a host name. {DOMAIN_HELP}", fields={"domain": [DOMAIN_HELP]})
    return domain


def _name(raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise ValidationFailed("Give the pixel a name.", fields={"name": ["This field is required."]})
    return name[:120]


def pixel_create(*, workspace: Workspace, name: str, domain: str) -> Pixel:
    return Pixel.objects.create(workspace=workspace, name=_name(name), domain=domain_normalize(domain))


def _pixel_for_update(*, workspace: Workspace, pixel_id) -> Pixel:
    pixel = Pixel.objects.select_for_update().filter(workspace=workspace, pk=pixel_id).first()
    if pixel is None:
        raise NotFound("That pixel does not exist in this workspace.")
    return pixel


@transaction.atomic
def pixel_update(*, workspace: Workspace, pixel_id, name: str | None = None, domain: str | None = None) -> Pixel:
    pixel = _pixel_for_update(workspace=workspace, pixel_id=pixel_id)
    if name is not None:
        pixel.name = _name(name)
    if domain is not None and (domain := domain_normalize(domain)) != pixel.domain:
        # Events from the old site no longer count as an installation on the new one.
        pixel.domain = domain
        pixel.status = Pixel.Status.WAITING
    pixel.save(update_fields=["name", "domain", "status"])
    return pixel


@transaction.atomic
def pixel_delete(*, workspace: Workspace, pixel_id) -> None:
    pixel = _pixel_for_update(workspace=workspace, pixel_id=pixel_id)
    Event.objects.filter(pixel_id=pixel.pk).delete()
    pixel.delete()


_months_ready: set[dt.date] = set()


def _partition_ready(now: dt.datetime) -> None:
    """The month's partition exists before its first insert, even if the daily schedule has not run for
    months: checked once per process and month."""
    month = partitions.month_start(now)
    if month in _months_ready:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(month)])
        if cursor.fetchone()[0] is None:
            partitions.create_partition(cursor, month)
    _months_ready.add(month)


def event_partitions_ensure(*, today: dt.date, ahead: int, retention_months: int) -> tuple[list[str], list[str]]:
    with transaction.atomic(), connection.cursor() as cursor:
        created, dropped = partitions.ensure(cursor, today=today, ahead=ahead, retention_months=retention_months)
    _months_ready.clear()
    return created, dropped


@dataclass
class _VisitorTotals:
    first_seen: object
    pageviews: int = 0
    engaged_ms: int = 0
    last_url: str | None = None
    events: list[dict] = field(default_factory=list)


_VISITOR_UPSERT = """
INSERT INTO visitors_visitor (pixel_id, key, first_seen, last_seen, pageviews, engaged_seconds, last_url)
VALUES {rows}
ON CONFLICT (pixel_id, key) DO UPDATE SET
    last_seen = GREATEST(visitors_visitor.last_seen, EXCLUDED.last_seen),
    pageviews = visitors_visitor.pageviews + EXCLUDED.pageviews,
    engaged_seconds = visitors_visitor.engaged_seconds + EXCLUDED.engaged_seconds,
    last_url = CASE WHEN EXCLUDED.last_url = '' THEN visitors_visitor.last_url ELSE EXCLUDED.last_url END
RETURNING id, pixel_id, key
"""


def events_record(*, events: Sequence[tuple[int, dict]]) -> int:
    """Store one beacon request's accepted events, as (pixel id, cleaned event) pairs: the visitors' totals
    are upserted, the events go in with one insert, and their pixels become active. Returns how many were
    stored."""
    if not events:
        return 0
    now = timezone.now()
    _partition_ready(now)
    visitors: dict[tuple[int, str], _VisitorTotals] = {}
    for pixel_id, event in events:
        if not event.get("visitor"):
            continue
        totals = visitors.setdefault((pixel_id, event["visitor"]), _VisitorTotals(first_seen=now))
        if event["type"] == "pageview":
            totals.pageviews += 1
            totals.last_url = event["url"] or totals.last_url
        totals.engaged_ms += event.get("engaged_ms") or 0
    with transaction.atomic():
        visitor_ids = {}
        if visitors:
            # One statement, rows in key order: concurrent requests lock the same visitors in the same order.
            keys = sorted(visitors)
            params = []
            for pixel_id, key in keys:
                totals = visitors[(pixel_id, key)]
                params += [pixel_id, key, now, now, totals.pageviews, totals.engaged_ms // 1000, totals.last_url or ""]
            sql = _VISITOR_UPSERT.format(rows=", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(keys)))
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                visitor_ids = {(pixel_id, key): pk for pk, pixel_id, key in cursor.fetchall()}
        Event.objects.bulk_create(
            [
                Event(
                    received_at=now,
                    pixel_id=pixel_id,
                    visitor_id=visitor_ids.get((pixel_id, event.get("visitor"))),
                    type=event["type"],
                    url=event["url"],
                    referrer=event["referrer"],
                    title=event["title"],
                    name=event["name"],
                    engaged_ms=event.get("engaged_ms"),
                    data=event.get("data"),
                )
                for pixel_id, event in events
            ]
        )
        # At most one write a second to a pixel's row, which every request of that site would otherwise queue on.
        Pixel.objects.filter(pk__in={pixel_id for pixel_id, _ in events}).exclude(
            status=Pixel.Status.ACTIVE, last_event_at__gt=now - dt.timedelta(seconds=1)
        ).update(status=Pixel.Status.ACTIVE, last_event_at=now)
    return len(events)
