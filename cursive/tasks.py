from django.utils import timezone

from cursive.models import WorkerHeartbeat

HEARTBEAT_NAME = "qcluster"


def worker_heartbeat() -> None:
    WorkerHeartbeat.objects.update_or_create(name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now()})
