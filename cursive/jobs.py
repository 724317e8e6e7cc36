"""Side effects that must happen after a commit, retried, and visible to staff when they fail for good.

`job_enqueue()` writes a Job row in the caller's transaction (so a rolled-back
purchase sends no receipt) and hands it to django-q2 once that transaction
commits. `job_run()` runs it at most once at a time, retries a failure with
exponential backoff, and after the last attempt leaves it FAILED for the
"Failed operations" admin view, whose Retry action calls `job_retry()`.
A sweeper re-dispatches jobs whose hand-off was lost (a crash right after
commit), jobs whose worker died mid-run (the worker holds the job's advisory
lock, which goes with its connection) and retries that are due, so nothing
depends on one process living.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from cursive.locks import try_lock_for_session, unlock_for_session
from cursive.models import Job
from cursive.replicas import replica_fence

logger = logging.getLogger("cursive.jobs")


def _dispatch(job_id: int) -> None:
    async_task("cursive.jobs.job_run", job_id, task_name=f"job-{job_id}")


def job_enqueue(func: str, *, max_attempts: int | None = None, **kwargs) -> Job:
    import_string(func)  # fail now, in the caller's transaction, on a typo
    job = Job.objects.create(
        func=func,
        kwargs=kwargs,
        max_attempts=max_attempts or settings.JOB_MAX_ATTEMPTS,
        next_attempt_at=timezone.now(),
    )
    job_dispatch_on_commit(job.pk)
    return job


def job_dispatch_on_commit(job_id: int) -> None:
    """A Job row written by SQL in this transaction (the marketplace's purchase function queues its confirmation
    itself): handed to django-q2 once the transaction commits, as `job_enqueue()` does."""
    transaction.on_commit(lambda: _dispatch(job_id))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.JOB_RETRY_BASE_SECONDS * 4 ** (attempts - 1))


def _runner_lock(job_id: int) -> str:
    return f"cursive.job:{job_id}"


def job_run(job_id: int) -> str:
    """Run one attempt of a job; safe to call twice (a second call finds nothing to do). The worker holds the
    job's advisory lock while it runs, so the sweep can tell a job still running from one whose worker died."""
    lock = _runner_lock(job_id)
    if not try_lock_for_session(lock):
        return "skipped"  # another worker is running it right now
    try:
        with transaction.atomic():
            job = (
                Job.objects.select_for_update(skip_locked=True)
                .filter(pk=job_id, status=Job.Status.PENDING, next_attempt_at__lte=timezone.now())
                .first()
            )
            if job is None:
                return "skipped"
            job.status = Job.Status.RUNNING
            job.attempts += 1
            job.started_at = timezone.now()
            job.save(update_fields=["status", "attempts", "started_at", "updated_at"])
        try:
            import_string(job.func)(**job.kwargs)
        except Exception as exc:  # any failure of the side effect is recorded, retried, then surfaced
            return _record_failure(job, exc)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.SUCCEEDED, finished_at=timezone.now(), last_error="", updated_at=timezone.now()
        )
        if "workspace_id" in job.kwargs:  # what a job wrote for a workspace is read back like a request's write
            replica_fence(workspace_id=job.kwargs["workspace_id"])
        return "succeeded"
    finally:
        with suppress(DatabaseError):  # a connection lost meanwhile took the lock with it
            unlock_for_session(lock)


def _record_failure(job: Job, exc: Exception) -> str:
    error = f"{exc.__class__.__name__}: {exc}"
    now = timezone.now()
    if job.attempts >= job.max_attempts:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, last_error=error, finished_at=now, updated_at=now)
        logger.error("job failed for good", extra={"job_id": job.pk, "func": job.func, "error": error}, exc_info=exc)
        return "failed"
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.PENDING, last_error=error, next_attempt_at=now + _backoff(job.attempts), updated_at=now
    )
    logger.warning(
        "job attempt failed; will retry", extra={"job_id": job.pk, "func": job.func, "attempt": job.attempts, "error": error}
    )
    return "retrying"


@transaction.atomic
def job_retry(*, job_id: int) -> Job:
    """Staff's Retry: give a failed job a fresh set of attempts, now."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if job.status != Job.Status.FAILED:
        return job
    job.status = Job.Status.PENDING
    job.attempts = 0
    job.next_attempt_at = timezone.now()
    job.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    transaction.on_commit(lambda: _dispatch(job.pk))
    return job


def _orphans_requeue() -> list[int]:
    """Running jobs whose worker died (killed, timed out, its machine gone): its connection closed and took the
    job's lock with it. They go back to pending, due now."""
    requeued = []
    for job_id in Job.objects.filter(status=Job.Status.RUNNING).values_list("pk", flat=True):
        lock = _runner_lock(job_id)
        if not try_lock_for_session(lock):
            continue  # its worker is still at it
        try:
            now = timezone.now()
            if Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
                status=Job.Status.PENDING, next_attempt_at=now, updated_at=now
            ):
                requeued.append(job_id)
        finally:
            unlock_for_session(lock)
    return requeued


def jobs_sweep() -> int:
    """Dispatch due retries, jobs whose hand-off was lost and jobs whose worker died; runs every minute."""
    requeued = _orphans_requeue()
    # A job queued less than 30 s ago may still be on its way to a worker: not lost yet.
    due = requeued + list(
        Job.objects.filter(status=Job.Status.PENDING, next_attempt_at__lte=timezone.now() - timedelta(seconds=30))
        .exclude(pk__in=requeued)
        .values_list("pk", flat=True)[:500]
    )
    for job_id in due:
        _dispatch(job_id)
    return len(due)
