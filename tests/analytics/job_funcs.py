"""Functions the Jobs page tests queue (a job's func must be importable by dotted path)."""

from cursive.models import WorkerHeartbeat


def fail_until_marked(*, name: str, workspace_id: int | None = None) -> None:
    if not WorkerHeartbeat.objects.filter(name=name).exists():
        raise ConnectionError("mail server unreachable")
