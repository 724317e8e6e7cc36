import logging

from django.conf import settings
from django.utils import timezone

from . import services

logger = logging.getLogger("cursive.visitors")


def event_partitions_ensure() -> None:
    """Daily: this month's and the next two months' event partitions exist; months past the retention go."""
    created, dropped = services.event_partitions_ensure(
        today=timezone.now().date(), ahead=2, retention_months=settings.PIXEL_EVENT_RETENTION_MONTHS
    )
    if created or dropped:
        logger.info("pixel event partitions", extra={"partitions_created": created, "partitions_dropped": dropped})
