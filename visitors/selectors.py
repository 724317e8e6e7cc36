from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Aggregate, Count, Exists, FloatField, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Workspace
from cursive.errors import NotFound
from leads.models import Company, IdealCustomerProfile

from .models import Event, Pixel, Visitor, VisitorEnrichment

VISITOR_EVENTS_SHOWN = 200


def workspace_pixels(*, workspace: Workspace) -> QuerySet[Pixel]:
    return Pixel.objects.filter(workspace=workspace)


def pixel_get(*, workspace: Workspace, pixel_id) -> Pixel:
    pixel = workspace_pixels(workspace=workspace).filter(pk=pixel_id).first()
    if pixel is None:
        raise NotFound("That pixel does not exist in this workspace.")
    return pixel


def pixels_by_site_key(*, site_keys: set[str]) -> dict[str, tuple[int, str]]:
    """The pixels a beacon names, as site key -> (pixel id, domain) (no workspace: the site key is the
    snippet's only credential)."""
    rows = Pixel.objects.filter(site_key__in=site_keys).values_list("site_key", "pk", "domain")
    return {site_key: (pk, domain) for site_key, pk, domain in rows}


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


PERSON_METHODS = (Visitor.IdentifiedBy.IDENTIFY, Visitor.IdentifiedBy.FORM, Visitor.IdentifiedBy.EMAIL_CLICK)
TOP_COMPANIES_SHOWN = 10


class _Percentile(Aggregate):
    """PostgreSQL's percentile_cont: the interpolated value below which `fraction` of the non-null values lie."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def workspace_pixel_ids(*, workspace: Workspace) -> list[int]:
    """The ids to read events and visitors by: a literal list, not a subquery, so that each id becomes an index
    condition on (pixel_id, received_at DESC) and only the period's rows of these pixels are read."""
    return list(workspace_pixels(workspace=workspace).values_list("pk", flat=True))


def pixel_visitor_figures(*, pixel_ids: list[int], since: dt.datetime) -> dict:
    """The visitors of these pixels seen from `since` to now, how many of them are identified (at any time) by
    each method, people apart from companies named by their IP only, and the companies seen most, in two
    queries."""
    seen = Visitor.objects.filter(pixel_id__in=pixel_ids, last_seen__gte=since)
    counts = seen.aggregate(
        visitors=Count("id"),
        **{method: Count("id", filter=Q(identified_by=method)) for method in Visitor.IdentifiedBy.values},
    )
    visitors = counts["visitors"]
    people = sum(counts[method] for method in PERSON_METHODS)
    companies = counts[Visitor.IdentifiedBy.IP]
    top_companies = (
        seen.annotate(company=Coalesce("company_name", "person_company_name"))
        .exclude(company=None)
        .exclude(company="")
        .values("company")
        .annotate(
            domain=Max("company_domain"),
            visitors=Count("id"),
            people=Count("id", filter=Q(identified_by__in=PERSON_METHODS)),
            pageviews=Sum("pageviews"),
        )
        .order_by("-visitors", "company")[:TOP_COMPANIES_SHOWN]
    )
    return {
        "visitors": visitors,
        "identified_people": people,
        "identified_people_rate": _rate(people, visitors),
        "identified_companies_only": companies,
        "identified_companies_only_rate": _rate(companies, visitors),
        "by_method": [
            {
                "method": method,
                "label": label,
                "person": method in PERSON_METHODS,
                "visitors": counts[method],
                "rate": _rate(counts[method], visitors),
            }
            for method, label in Visitor.IdentifiedBy.choices
        ],
        "top_companies": [
            {
                "name": row["company"],
                "domain": row["domain"] or None,
                "visitors": row["visitors"],
                "people": row["people"],
                "pageviews": row["pageviews"],
            }
            for row in top_companies
        ],
    }


def visitors_glance(*, workspace: Workspace, since: dt.datetime) -> dict | None:
    """The Dashboard's figures: visitors seen since `since` and how many of them are identified people; None
    when the workspace has no pixel."""
    pixel_ids = workspace_pixel_ids(workspace=workspace)
    if not pixel_ids:
        return None
    return Visitor.objects.filter(pixel_id__in=pixel_ids, last_seen__gte=since).aggregate(
        visitors=Count("id"), identified_people=Count("id", filter=Q(identified_by__in=PERSON_METHODS))
    )


def collection_rate(*, now: dt.datetime) -> dict:
    """Events stored across all pixels in the last minute and the last hour (staff monitoring)."""
    hour_ago, minute_ago = now - dt.timedelta(hours=1), now - dt.timedelta(minutes=1)
    # events_record stamps a pixel's last_event_at at most a second behind its newest event, so the pixels
    # with an event in the last hour are among these, and the events are read through (pixel_id, received_at)
    # rather than by scanning the month's partition.
    active = list(Pixel.objects.filter(last_event_at__gte=hour_ago - dt.timedelta(seconds=5)).values_list("pk", flat=True))
    counts = {"hour": 0, "minute": 0}
    if active:
        counts = Event.objects.filter(pixel_id__in=active, received_at__gte=hour_ago, received_at__lte=now).aggregate(
            hour=Count("id"), minute=Count("id", filter=Q(received_at__gte=minute_ago))
        )
    return {
        "active_pixels": len(active),
        "events_last_minute": counts["minute"],
        "events_last_hour": counts["hour"],
        "per_second_last_minute": round(counts["minute"] / 60, 2),
        "per_second_last_hour": round(counts["hour"] / 3600, 2),
    }


def identification_lag(*, since: dt.datetime) -> dict:
    """How many visitors were identified since `since`, and the median and 95th percentile of the time from the
    identifying event to the identification, in milliseconds (None when there were none)."""
    lag = Visitor.objects.filter(identified_at__gte=since).aggregate(
        identified=Count("id"),
        median_ms=_Percentile("identification_lag_ms", fraction=0.5),
        p95_ms=_Percentile("identification_lag_ms", fraction=0.95),
    )
    return {
        "identified": lag["identified"],
        "median_ms": None if lag["median_ms"] is None else round(lag["median_ms"]),
        "p95_ms": None if lag["p95_ms"] is None else round(lag["p95_ms"]),
    }


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


def visitor_enriched(*, workspace: Workspace, visitor: Visitor) -> bool:
    """Whether the workspace has paid to fill this visitor's person from the lead database."""
    return (
        visitor.person_id is not None
        and VisitorEnrichment.objects.filter(workspace=workspace, person_id=visitor.person_id).exists()
    )
