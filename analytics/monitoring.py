"""The staff monitoring page (linked from the admin index): is Cursive healthy right now?"""

from datetime import datetime, timedelta

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, F, FloatField, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import render
from django.utils import timezone
from django_q.models import OrmQ

from credits.models import CreditPurchase, StripeEvent
from credits.selectors import REFUND_WAIT_ALERT_AFTER, refunds_waiting
from cursive.models import Job, RequestStat
from cursive.observability import request_stats
from marketplace.models import LeadPurchase
from visitors.selectors import collection_rate, identification_lag

PURCHASE_ROUTES = ("api-marketplace-purchases", "marketplace:checkout")
# The issue promises identification in seconds; a p95 over a minute means the identify jobs are falling behind.
PIXEL_LAG_WARNING_MS = 60_000


def pixel_health(*, now: datetime) -> dict:
    lag = identification_lag(since=now - timedelta(hours=1))
    return {
        **collection_rate(now=now),
        "lag": lag,
        "lag_warning_ms": PIXEL_LAG_WARNING_MS,
        "lag_warning": lag["p95_ms"] is not None and lag["p95_ms"] > PIXEL_LAG_WARNING_MS,
    }


def monitoring_snapshot(*, hours: int = 24) -> dict:
    request_stats.flush()
    now = timezone.now()
    since = now - timedelta(hours=hours)
    recent = RequestStat.objects.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
    totals = recent.aggregate(requests=Sum("count"), errors=Sum("count", filter=Q(status__gte=500)))
    purchase_posts = recent.filter(route__in=PURCHASE_ROUTES, method="POST").aggregate(
        total=Sum("count"), conflicts=Sum("count", filter=Q(status=409))
    )
    slowest = (
        recent.values("route", "method")
        .annotate(
            requests=Sum("count"), avg_ms=Sum("total_ms") / Sum(F("count"), output_field=FloatField()), max_ms=Max("max_ms")
        )
        .order_by("-avg_ms")[:10]
    )
    purchases = (
        LeadPurchase.objects.filter(status=LeadPurchase.Status.COMPLETE, completed_at__gte=timezone.now() - timedelta(days=14))
        .annotate(day=TruncDate("completed_at"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("-day")
    )

    def rate(part, whole):
        return round(100 * (part or 0) / whole, 2) if whole else None

    return {
        "hours": hours,
        "requests": totals["requests"] or 0,
        "error_rate": rate(totals["errors"], totals["requests"]),
        "conflict_rate": rate(purchase_posts["conflicts"], purchase_posts["total"]),
        "purchase_attempts": purchase_posts["total"] or 0,
        "failed_webhooks": StripeEvent.objects.filter(status=StripeEvent.Status.FAILED).count(),
        "refunds_waiting_too_long": refunds_waiting(too_long=True).count(),
        "refund_wait_alert_days": REFUND_WAIT_ALERT_AFTER.days,
        "credit_purchases_to_review": CreditPurchase.objects.filter(needs_review=True).count(),
        "lead_purchases_to_review": LeadPurchase.objects.filter(needs_review=True).count(),
        "failed_jobs": Job.objects.filter(status=Job.Status.FAILED).count(),
        "queue_backlog": OrmQ.objects.count(),
        "pending_jobs": Job.objects.filter(status__in=[Job.Status.PENDING, Job.Status.RUNNING]).count(),
        "slowest": list(slowest),
        "purchases_per_day": list(purchases),
        "pixel": pixel_health(now=now),
    }


@staff_member_required
def monitoring(request):
    from django.contrib import admin

    return render(
        request, "admin/monitoring.html", {**admin.site.each_context(request), "title": "Monitoring", "m": monitoring_snapshot()}
    )
