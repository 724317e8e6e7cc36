import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from cursive.models import IdempotencyRecord, RateLimitCounter, WorkerHeartbeat

HEARTBEAT_NAME = "qcluster"


def worker_heartbeat() -> None:
    WorkerHeartbeat.objects.update_or_create(name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now()})


def prune_rate_limit_counters(max_age_seconds: int = 2 * 3600) -> int:
    # Hourly limits (password resets) read the window before the current one too: keep two hours.
    deleted, _ = RateLimitCounter.objects.filter(window_start__lt=time.time() - max_age_seconds).delete()
    return deleted


def prune_idempotency_records() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
