import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from . import services

logger = logging.getLogger("cursive.visitors")


PARTITIONS_AHEAD = 2


def event_partitions_ensure() -> None:
    """Daily: this month's and the next two months' event partitions exist."""
    created, _ = services.event_partitions_ensure(today=timezone.now().date(), ahead=PARTITIONS_AHEAD, retention_months=None)
    if created:
        logger.info("pixel event partitions", extra={"partitions_created": created})


def event_partitions_drop_expired(now: dt.datetime) -> int:
    """The retention rule of pixel events (cursive.retention): the months past PIXEL_EVENT_RETENTION_MONTHS are
    dropped whole; returns how many partitions went."""
    _, dropped = services.event_partitions_ensure(
        today=now.date(), ahead=PARTITIONS_AHEAD, retention_months=settings.PIXEL_EVENT_RETENTION_MONTHS
    )
    if dropped:
        logger.info("pixel event partitions", extra={"partitions_dropped": dropped})
    return len(dropped)


def visitors_identify(*, items: list[dict]) -> None:
    """Identify the visitors of one beacon request (services.events_record): each item in its own transaction,
    and each idempotent, so a retry after a failure redoes nothing wrong."""
    for item in items:
        seen_at = dt.datetime.fromisoformat(item["at"])
        if item["method"] == "ip":
            services.visitor_identify_company(visitor_id=item["visitor"], ip=item["ip"], seen_at=seen_at)
        elif item["method"] == "email_click":
            services.visitor_identify_click(visitor_id=item["visitor"], click_id=item["click_id"], seen_at=seen_at)
        else:
            services.visitor_identify_person(
                visitor_id=item["visitor"], method=item["method"], traits=item["traits"], seen_at=seen_at
            )


ENGAGEMENT_SYNC_WINDOW = dt.timedelta(minutes=3)


def visitors_engagement_sync() -> None:
    """Every minute: identified visitors' new pages and time reach their leads' scores. The window overlaps the
    schedule's period, so a late or skipped run loses nothing."""
    services.visitors_engagement_sync(since=timezone.now() - ENGAGEMENT_SYNC_WINDOW)
