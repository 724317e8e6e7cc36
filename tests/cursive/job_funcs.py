"""Functions the job tests queue (a job's func must be importable by dotted path)."""

import time

from cursive.models import WorkerHeartbeat


def record(*, name: str) -> None:
    WorkerHeartbeat.objects.create(name=name)


def explode(*, message: str) -> None:
    raise RuntimeError(message)


def fail_until_marked(*, name: str) -> None:
    if not WorkerHeartbeat.objects.filter(name=name).exists():
        raise ConnectionError("mail server unreachable")


def nap(*, seconds: float) -> None:
    time.sleep(seconds)
