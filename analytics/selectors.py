"""The numbers of the Analytics page and API, read from the summary tables: a fixed number of queries
whatever the size of the workspace."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import Workspace
from credits.selectors import credit_balance
from leads.models import Lead
from leads.selectors import ideal_customer_profile
from segments.selectors import segment_performance

from .models import DailyCredits, DailyLeads

PERIODS = (7, 30, 90)
ZERO = Decimal("0.00")
QUALITY_BUCKETS = [(0, 19), (20, 39), (40, 59), (60, 79), (80, 100)]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def workspace_summary(*, workspace: Workspace, days: int = 30) -> dict:
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    credits = {row.day: row for row in DailyCredits.objects.filter(workspace=workspace, day__gte=start)}
    lead_rows = list(DailyLeads.objects.filter(workspace=workspace, day__gte=start))
    usage = [{"day": day, "spent": credits[day].spent if day in credits else ZERO,
              "added": credits[day].added if day in credits else ZERO} for day in _days(start, today)]
    spent = sum((row["spent"] for row in usage), ZERO)
    burn = (spent / days).quantize(Decimal("0.01"))
    balance = credit_balance(workspace=workspace)
    depletion = today + timedelta(days=math.floor(balance / burn)) if burn > 0 else None

    labels = dict(Lead.Source.choices)
    by_source: dict[str, dict] = {}
    per_day = {day: 0 for day in _days(start, today)}
    for row in lead_rows:
        entry = by_source.setdefault(row.source, {"source": row.source, "label": labels.get(row.source, row.source),
                                                  "leads": 0, "credits": ZERO})
        entry["leads"] += row.leads
        entry["credits"] += row.credits
        per_day[row.day] = per_day.get(row.day, 0) + row.leads
    for entry in by_source.values():
        entry["cost_per_lead"] = (entry["credits"] / entry["leads"]).quantize(Decimal("0.01")) if entry["leads"] else None
    period_start = timezone.now() - timedelta(days=days)
    quality = Lead.objects.filter(workspace=workspace, created_at__gte=period_start).aggregate(**{
        f"q{low}": Count("id", filter=Q(score__gte=low, score__lte=high)) for low, high in QUALITY_BUCKETS})
    segments = [{"id": s.pk, "name": s.name, "runs": s.run_count, "people_pulled": s.people_pulled or 0,
                 "credits_spent": s.credits_spent or ZERO}
                for s in segment_performance(workspace=workspace).exclude(run_count=0)[:5]]
    summary = {
        "period_days": days,
        "balance": balance,
        "credits_spent": spent,
        "burn_rate_per_day": burn,
        "projected_depletion_date": depletion,
        "credit_usage": usage,
        "lead_sources": sorted(by_source.values(), key=lambda entry: -entry["leads"]),
        "daily_acquisition": [{"day": day, "leads": count} for day, count in sorted(per_day.items())],
        "quality": [{"bucket": f"{low}-{high}", "leads": quality[f"q{low}"]} for low, high in QUALITY_BUCKETS],
        "segments": segments,
    }
    if workspace.is_partner:
        summary["partner"] = {"by_day": [
            {"day": day, "sales": credits[day].sales if day in credits else 0,
             "earned": credits[day].earned if day in credits else ZERO} for day in _days(start, today)]}
    return summary


def week_glance(*, workspace: Workspace) -> dict:
    """The dashboard's figures for the last 7 days."""
    since = timezone.now().date() - timedelta(days=6)
    spent = DailyCredits.objects.filter(workspace=workspace, day__gte=since).aggregate(total=Sum("spent"))["total"]
    # A range on created_at itself, so the (workspace, created_at) index serves it.
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)
    leads = Lead.objects.filter(workspace=workspace, created_at__gte=start).count()
    return {"spent": spent or ZERO, "leads": leads}


def ideal_customer_profile_set(*, workspace: Workspace) -> bool:
    profile = ideal_customer_profile(workspace=workspace)
    return bool(profile and (profile.company_sizes or profile.industries))
