"""Rollups into the analytics summary tables: set-based upserts over the last days (every few minutes)
or over all history (nightly). The analytics pages read only these tables and a few indexed counts.
And staff's retry of a failed background job from the Jobs page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from cursive.audit import audit_record
from cursive.errors import PermissionDenied

from . import jobs
from .models import PAGE_OF_URL, QUALITY_BUCKETS

_CREDITS = """
INSERT INTO analytics_dailycredits (workspace_id, day, spent, added, earned, sales)
SELECT a.workspace_id, (t.created_at AT TIME ZONE 'UTC')::date,
       COALESCE(SUM(-t.amount) FILTER (WHERE t.kind = 'spend'), 0),
       COALESCE(SUM(t.amount) FILTER (WHERE t.amount > 0 AND t.kind IN ('purchase', 'adjustment', 'refund')), 0),
       COALESCE(SUM(t.amount) FILTER (WHERE t.kind = 'earn'), 0), 0
FROM credits_credittransaction t JOIN credits_creditaccount a ON a.id = t.account_id
WHERE t.created_at >= %(since)s
GROUP BY 1, 2
ON CONFLICT (workspace_id, day) DO UPDATE SET spent = EXCLUDED.spent, added = EXCLUDED.added, earned = EXCLUDED.earned
"""
_SALES = """
INSERT INTO analytics_dailycredits (workspace_id, day, spent, added, earned, sales)
SELECT i.partner_id, (p.completed_at AT TIME ZONE 'UTC')::date, 0, 0, 0, COUNT(*)
FROM marketplace_leadpurchaseitem i JOIN marketplace_leadpurchase p ON p.id = i.purchase_id
WHERE i.is_sale AND i.partner_id IS NOT NULL AND p.completed_at >= %(since)s
GROUP BY 1, 2
ON CONFLICT (workspace_id, day) DO UPDATE SET sales = EXCLUDED.sales
"""
# How many leads of a group fall in each score band, as the score_* columns.
_BAND_COLUMNS = [f"score_{low}" for low, _ in QUALITY_BUCKETS]
_BANDS = ", ".join(
    f"COUNT(*) FILTER (WHERE score BETWEEN {low} AND {high}) AS {column}"
    for (low, high), column in zip(QUALITY_BUCKETS, _BAND_COLUMNS, strict=True)
)
_LEADS = f"""
INSERT INTO analytics_dailyleads (workspace_id, day, source, leads, credits, {", ".join(_BAND_COLUMNS)})
SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, source, COUNT(*), 0, {_BANDS}
FROM leads_lead WHERE created_at >= %(since)s
GROUP BY 1, 2, 3
ON CONFLICT (workspace_id, day, source) DO UPDATE SET leads = EXCLUDED.leads,
    {", ".join(f"{column} = EXCLUDED.{column}" for column in _BAND_COLUMNS)}
"""  # noqa: S608 (constant expressions, no input)
# One workspace's score bands after its leads were re-scored, for the days the Analytics page shows.
_SCORE_BANDS = f"""
UPDATE analytics_dailyleads d SET ({", ".join(_BAND_COLUMNS)}) = ({", ".join(f"b.{column}" for column in _BAND_COLUMNS)})
FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, source, {_BANDS}
      FROM leads_lead WHERE workspace_id = %(workspace)s AND created_at >= %(since)s GROUP BY 1, 2) b
WHERE d.workspace_id = %(workspace)s AND d.day = b.day AND d.source = b.source
"""  # noqa: S608 (constant expressions, no input)
# What each source cost: marketplace purchases, segment pulls and enrichments are the ledger spends with those
# references.
_LEAD_CREDITS = """
INSERT INTO analytics_dailyleads (workspace_id, day, source, leads, credits)
SELECT a.workspace_id, (t.created_at AT TIME ZONE 'UTC')::date,
       CASE WHEN t.reference LIKE 'purchase:%%' THEN 'marketplace'
            WHEN t.reference LIKE 'enrichment:%%' THEN 'enrichment' ELSE 'database' END, 0, SUM(-t.amount)
FROM credits_credittransaction t JOIN credits_creditaccount a ON a.id = t.account_id
WHERE t.kind = 'spend' AND t.created_at >= %(since)s
  AND (t.reference LIKE 'purchase:%%' OR t.reference LIKE 'segment_run:%%' OR t.reference LIKE 'enrichment:%%')
GROUP BY 1, 2, 3
ON CONFLICT (workspace_id, day, source) DO UPDATE SET credits = EXCLUDED.credits
"""

# Only pixels with an event since `since` (events_record keeps last_event_at within a second of the newest
# event), each named, so the scan goes through the (pixel_id, received_at) index instead of whole partitions.
_PIXEL_PAGES = f"""
INSERT INTO analytics_dailypixelpages (pixel_id, day, page, events, pageviews)
SELECT pixel_id, (received_at AT TIME ZONE 'UTC')::date, {PAGE_OF_URL}, COUNT(*), COUNT(*) FILTER (WHERE type = 'pageview')
FROM visitors_event
WHERE pixel_id = ANY(ARRAY(SELECT id FROM visitors_pixel WHERE last_event_at >= %(since)s)) AND received_at >= %(since)s
GROUP BY 1, 2, 3
ON CONFLICT (pixel_id, day, md5(page)) DO UPDATE SET events = EXCLUDED.events, pageviews = EXCLUDED.pageviews
"""  # noqa: S608 (PAGE_OF_URL is a constant expression, no input)
# The Analytics page shows at most this much pixel history; older events are not rolled up again.
PIXEL_HISTORY_DAYS = 90


@transaction.atomic
def analytics_rollup(*, days: int | None = 2) -> None:
    """Recompute the summary rows of the last `days` days (None: all of history)."""
    since = (timezone.now() - timedelta(days=days)).date() if days is not None else date(2000, 1, 1)
    with connection.cursor() as cursor:
        # Counts can go down (refunds, deleted leads): clear the window, then fill it again.
        cursor.execute("UPDATE analytics_dailycredits SET sales = 0 WHERE day >= %s", [since])
        cursor.execute("DELETE FROM analytics_dailyleads WHERE day >= %s", [since])
        for statement in (_CREDITS, _SALES, _LEADS, _LEAD_CREDITS):
            cursor.execute(statement, {"since": since})
        # Events are never changed once stored (a deleted pixel's rows go with it), so an upsert of the window
        # is enough; rows for days before it are final.
        pixel_since = max(since, (timezone.now() - timedelta(days=PIXEL_HISTORY_DAYS)).date())
        cursor.execute(_PIXEL_PAGES, {"since": datetime.combine(pixel_since, time.min, tzinfo=UTC)})


def daily_leads_score_bands_refresh(*, workspace, days: int = PIXEL_HISTORY_DAYS) -> None:
    """Recount the score bands of the workspace's summary rows of the last `days` days (as far back as the
    Analytics page looks) from its leads: after a re-scoring of the whole workspace (a new ideal customer profile,
    the nightly recency pass) the quality chart shows the new scores at once, not after the nightly rollup."""
    since = datetime.combine((timezone.now() - timedelta(days=days)).date(), time.min, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute(_SCORE_BANDS, {"workspace": workspace.pk, "since": since})


def leads_rescored_receiver(sender, *, workspace, **kwargs) -> None:
    """leads.signals.leads_rescored, inside the re-scoring's transaction."""
    daily_leads_score_bands_refresh(workspace=workspace)


def analytics_rollup_recent() -> None:
    analytics_rollup(days=2)


def analytics_rollup_all() -> None:
    analytics_rollup(days=None)


@transaction.atomic
def staff_job_retry(*, source: str, job_id: str, actor) -> None:
    """Staff's Retry on the Jobs page: the app that owns the job queues it again through its own service, and an
    audit row says who asked."""
    if not actor.is_staff:
        raise PermissionDenied("Only staff can retry jobs.")
    workspace = jobs.source_get(source).retry(job_id=job_id)
    audit_record(actor=actor, action="jobs.retry", target=f"{source}:{job_id}", workspace=workspace)
