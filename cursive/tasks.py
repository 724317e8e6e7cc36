import time

from django.utils import timezone

from cursive.models import RateLimitCounter, WorkerHeartbeat

HEARTBEAT_NAME = "qcluster"


def worker_heartbeat() -> None:
    WorkerHeartbeat.objects.update_or_create(name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now()})


def prune_rate_limit_counters(max_age_seconds: int = 2 * 3600) -> int:
    # Hourly limits (password resets) read the window before the current one too: keep two hours.
    deleted, _ = RateLimitCounter.objects.filter(window_start__lt=time.time() - max_age_seconds).delete()
    return deleted
