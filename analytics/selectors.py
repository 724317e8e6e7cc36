"""The numbers of the Analytics page and API: history from the summary tables, rolled up every few minutes, and
the current day read live (a purchase shows at once), in a fixed number of queries whatever the size of the
workspace."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connections, router
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import Workspace
from credits.models import CreditTransaction
from credits.selectors import credit_balance
from leads.models import Lead
from leads.selectors import ideal_customer_profile
from marketplace.models import LeadPurchaseItem
from segments.selectors import segment_performance
from visitors.models import Event
from visitors.selectors import pixel_visitor_figures, visitors_glance, workspace_pixel_ids

from .models import PAGE_OF_URL, QUALITY_BUCKETS, DailyCredits, DailyLeads, DailyPixelPages

PERIODS = (7, 30, 90)
ZERO = Decimal("0.00")


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _today_start() -> datetime:
    # Rollups group by the UTC day (analytics.services); so does the live read of the current day.
    return datetime.combine(timezone.now().astimezone(UTC).date(), time.min, tzinfo=UTC)


def _ledger_today(workspace: Workspace) -> dict[str, Decimal]:
    spend = Q(kind=CreditTransaction.Kind.SPEND)
    return CreditTransaction.objects.filter(account__workspace=workspace, created_at__gte=_today_start()).aggregate(
        spent=-Sum("amount", filter=spend, default=ZERO),
        added=Sum(
            "amount",
            default=ZERO,
            filter=Q(
                amount__gt=0,
                kind__in=[CreditTransaction.Kind.PURCHASE, CreditTransaction.Kind.ADJUSTMENT, CreditTransaction.Kind.REFUND],
            ),
        ),
        earned=Sum("amount", filter=Q(kind=CreditTransaction.Kind.EARN), default=ZERO),
        marketplace=-Sum("amount", filter=spend & Q(reference__startswith="purchase:"), default=ZERO),
        database=-Sum("amount", filter=spend & Q(reference__startswith="segment_run:"), default=ZERO),
        enrichment=-Sum("amount", filter=spend & Q(reference__startswith="enrichment:"), default=ZERO),
    )


def _credits_today(workspace: Workspace) -> tuple[DailyCredits, list[DailyLeads]]:
    """Today's row of each summary table, computed from the ledger and the leads as the rollup would."""
    start = _today_start()
    totals = _ledger_today(workspace)
    sales = (
        LeadPurchaseItem.objects.filter(partner=workspace, is_sale=True, purchase__completed_at__gte=start).count()
        if workspace.is_partner
        else 0
    )
    day = start.date()
    credits = DailyCredits(
        workspace=workspace, day=day, spent=totals["spent"], added=totals["added"], earned=totals["earned"], sales=sales
    )
    bands = {f"score_{low}": Count("id", filter=Q(score__gte=low, score__lte=high)) for low, high in QUALITY_BUCKETS}
    leads = {
        row.pop("source"): row
        for row in Lead.objects.filter(workspace=workspace, created_at__gte=start)
        .values("source")
        .annotate(leads=Count("id"), **bands)
        .order_by()
    }
    costs = {source: totals[source] for source in ("marketplace", "database", "enrichment")}
    lead_rows = [
        DailyLeads(workspace=workspace, day=day, source=source, credits=costs.get(source, ZERO), **leads.get(source, {}))
        for source in sorted(set(leads) | {source for source, cost in costs.items() if cost})
    ]
    return credits, lead_rows


def workspace_summary(*, workspace: Workspace, days: int = 30) -> dict:
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    credits = {row.day: row for row in DailyCredits.objects.filter(workspace=workspace, day__gte=start, day__lt=today)}
    lead_rows = list(DailyLeads.objects.filter(workspace=workspace, day__gte=start, day__lt=today))
    credits_today, leads_today = _credits_today(workspace)
    credits[today] = credits_today
    lead_rows += leads_today
    usage = [
        {
            "day": day,
            "spent": credits[day].spent if day in credits else ZERO,
            "added": credits[day].added if day in credits else ZERO,
        }
        for day in _days(start, today)
    ]
    spent = sum((row["spent"] for row in usage), ZERO)
    burn = (spent / days).quantize(Decimal("0.01"))
    balance = credit_balance(workspace=workspace)
    depletion = today + timedelta(days=math.floor(balance / burn)) if burn > 0 else None

    labels = dict(Lead.Source.choices)
    by_source: dict[str, dict] = {}
    per_day = {day: 0 for day in _days(start, today)}
    for row in lead_rows:
        entry = by_source.setdefault(
            row.source, {"source": row.source, "label": labels.get(row.source, row.source), "leads": 0, "credits": ZERO}
        )
        entry["leads"] += row.leads
        entry["credits"] += row.credits
        per_day[row.day] = per_day.get(row.day, 0) + row.leads
    for entry in by_source.values():
        entry["cost_per_lead"] = (entry["credits"] / entry["leads"]).quantize(Decimal("0.01")) if entry["leads"] else None
    # The score bands of the leads acquired in the period, from the same rows as the sources.
    quality = {low: sum(getattr(row, f"score_{low}") for row in lead_rows) for low, _ in QUALITY_BUCKETS}
    segments = [
        {
            "id": s.pk,
            "name": s.name,
            "runs": s.run_count,
            "people_pulled": s.people_pulled or 0,
            "credits_spent": s.credits_spent or ZERO,
        }
        for s in segment_performance(workspace=workspace).exclude(run_count=0)[:5]
    ]
    summary = {
        "period_days": days,
        "balance": balance,
        "credits_spent": spent,
        "burn_rate_per_day": burn,
        "projected_depletion_date": depletion,
        "credit_usage": usage,
        "lead_sources": sorted(by_source.values(), key=lambda entry: -entry["leads"]),
        "daily_acquisition": [{"day": day, "leads": count} for day, count in sorted(per_day.items())],
        "quality": [{"bucket": f"{low}-{high}", "leads": quality[low]} for low, high in QUALITY_BUCKETS],
        "segments": segments,
        "pixel": pixel_performance(workspace=workspace, start=start),
    }
    if workspace.is_partner:
        summary["partner"] = {
            "by_day": [
                {
                    "day": day,
                    "sales": credits[day].sales if day in credits else 0,
                    "earned": credits[day].earned if day in credits else ZERO,
                }
                for day in _days(start, today)
            ]
        }
    return summary


TOP_PAGES_SHOWN = 10
# Past days from the rollup, today from the events themselves (their (pixel_id, received_at) index).
_TOP_PAGES = f"""
SELECT page, SUM(pageviews)::bigint FROM (
    SELECT page, pageviews FROM analytics_dailypixelpages
    WHERE pixel_id = ANY(%(pixels)s) AND day >= %(start)s AND day < %(today)s AND pageviews > 0
    UNION ALL
    SELECT {PAGE_OF_URL}, COUNT(*) FROM visitors_event
    WHERE pixel_id = ANY(%(pixels)s) AND received_at >= %(today_start)s AND type = 'pageview'
    GROUP BY 1
) pages
GROUP BY page ORDER BY 2 DESC, page LIMIT %(limit)s
"""  # noqa: S608 (PAGE_OF_URL is a constant expression, no input)


def pixel_performance(*, workspace: Workspace, start: date) -> dict | None:
    """The "Pixel performance" figures from the first moment of `start` (UTC) to now, in six queries whatever the
    traffic; None when the workspace has no pixel. Events and pages of past days come from the daily rollup,
    today's are read live; visitors are counted on the visitors themselves (those seen in the period)."""
    pixel_ids = workspace_pixel_ids(workspace=workspace)
    if not pixel_ids:
        return None
    today_start = _today_start()
    past_events = DailyPixelPages.objects.filter(pixel_id__in=pixel_ids, day__gte=start, day__lt=today_start.date()).aggregate(
        events=Sum("events", default=0)
    )["events"]
    events_today = Event.objects.filter(pixel_id__in=pixel_ids, received_at__gte=today_start).count()
    with connections[router.db_for_read(Event)].cursor() as cursor:
        cursor.execute(
            _TOP_PAGES,
            {
                "pixels": pixel_ids,
                "start": start,
                "today": today_start.date(),
                "today_start": today_start,
                "limit": TOP_PAGES_SHOWN,
            },
        )
        top_pages = [{"url": page, "pageviews": pageviews} for page, pageviews in cursor.fetchall()]
    return {
        "events": past_events + events_today,
        **pixel_visitor_figures(pixel_ids=pixel_ids, since=datetime.combine(start, time.min, tzinfo=UTC)),
        "top_pages": top_pages,
    }


def week_glance(*, workspace: Workspace) -> dict:
    """The dashboard's figures for the last 7 days."""
    today = timezone.now().date()
    spent = DailyCredits.objects.filter(workspace=workspace, day__gte=today - timedelta(days=6), day__lt=today).aggregate(
        total=Sum("spent")
    )["total"]
    spent = (spent or ZERO) + _ledger_today(workspace)["spent"]
    # Past days from the rollup, today live: a range on created_at itself, so the (workspace, created_at) index
    # serves it.
    leads = DailyLeads.objects.filter(workspace=workspace, day__gte=today - timedelta(days=6), day__lt=today).aggregate(
        total=Sum("leads", default=0)
    )["total"]
    leads += Lead.objects.filter(workspace=workspace, created_at__gte=_today_start()).count()
    return {"spent": spent, "leads": leads}


def visitors_today(*, workspace: Workspace) -> dict | None:
    """The dashboard's website figures for the current (UTC) day; None without a pixel."""
    return visitors_glance(workspace=workspace, since=_today_start())


def ideal_customer_profile_set(*, workspace: Workspace) -> bool:
    profile = ideal_customer_profile(workspace=workspace)
    return bool(profile and (profile.company_sizes or profile.industries))
