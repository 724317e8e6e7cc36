from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Workspace
from cursive.errors import NotFound
from leads.models import Company, IdealCustomerProfile

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


# --- The Pixels and Visitors pages ------------------------------------------------------------------------

TEST_PAGEVIEW_WINDOW = dt.timedelta(minutes=15)
PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days"}


@dataclass(frozen=True)
class VisitorFilters:
    period: str = "7d"
    identified: bool = False
    company: str = ""
    page: str = ""
    pixel_id: int | None = None


def period_start(period: str, now: dt.datetime) -> dt.datetime:
    if period == "today":
        return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=30 if period == "30d" else 7)


def live_visitors(*, workspace: Workspace, filters: VisitorFilters, now: dt.datetime) -> QuerySet[Visitor]:
    """The Visitors page: visitors active in the period, narrowed by the page's filters. "Page contains"
    looks for an event of the visitor in the same period, so the scan follows the (visitor_id, received_at)
    index and touches only that period's partitions."""
    since = period_start(filters.period, now)
    visitors = workspace_visitors(
        workspace=workspace, pixel_id=filters.pixel_id, identified=True if filters.identified else None
    ).filter(last_seen__gte=since)
    if filters.company:
        visitors = visitors.filter(
            Q(company_name__icontains=filters.company)
            | Q(company_domain__icontains=filters.company)
            | Q(person_company_name__icontains=filters.company)
        )
    if filters.page:
        visitors = visitors.filter(
            Exists(Event.objects.filter(visitor_id=OuterRef("pk"), received_at__gte=since, url__icontains=filters.page))
        )
    return visitors.select_related("pixel", "lead")


def workspace_has_visitors(*, workspace: Workspace) -> bool:
    return workspace_visitors(workspace=workspace).exists()


def test_pageview_seen(*, pixel: Pixel, token: str, now: dt.datetime) -> Event | None:
    """The latest event of the pixel, in the last 15 minutes, whose page URL carries the test token."""
    return (
        Event.objects.filter(pixel_id=pixel.pk, received_at__gte=now - TEST_PAGEVIEW_WINDOW, url__contains=token)
        .order_by("-received_at", "-id")
        .only("url", "received_at", "type")
        .first()
    )


@dataclass(frozen=True)
class IcpFit:
    """How well a visitor's company fits: the lead's score when Cursive made a lead of the visitor, else the
    ideal customer profile against the company's size and industry in the lead database."""

    score: int | None = None
    matched: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()


def visitors_icp_fit(*, workspace: Workspace, visitors: list[Visitor]) -> dict[int, IcpFit]:
    fits = {visitor.pk: IcpFit(score=visitor.lead.score) for visitor in visitors if visitor.lead_id and visitor.lead}
    domains = {v.company_domain.lower() for v in visitors if v.pk not in fits and v.company_domain}
    profile = IdealCustomerProfile.objects.filter(workspace=workspace).first()
    if not domains or profile is None or not (profile.company_sizes or profile.industries):
        return fits
    companies = {c.domain.lower(): c for c in Company.objects.filter(domain__in=domains).only("domain", "size", "industry")}
    for visitor in visitors:
        company = companies.get((visitor.company_domain or "").lower())
        if visitor.pk in fits or company is None:
            continue
        checked, matched = [], []
        if profile.company_sizes:
            checked.append("size")
            if company.size in profile.company_sizes:
                matched.append("size")
        if profile.industries:
            checked.append("industry")
            if company.industry in profile.industries:
                matched.append("industry")
        fits[visitor.pk] = IcpFit(matched=tuple(matched), checked=tuple(checked))
    return fits
