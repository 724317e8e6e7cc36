import time

from django.utils import timezone

from cursive.models import RateLimitCounter, WorkerHeartbeat

HEARTBEAT_NAME = "qcluster"


def worker_heartbeat() -> None:
    WorkerHeartbeat.objects.update_or_create(name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now()})


def prune_rate_limit_counters(max_age_seconds: int = 3600) -> int:
    deleted, _ = RateLimitCounter.objects.filter(window_start__lt=time.time() - max_age_seconds).delete()
    return deleted
