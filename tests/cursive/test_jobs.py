import subprocess
import sys
import time

import pytest
from django.db import transaction
from django.utils import timezone

from cursive.jobs import _dispatch, job_enqueue, job_retry, job_run, jobs_sweep
from cursive.models import Job, WorkerHeartbeat
from tests.servers import REPO, child_env

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.JOB_RETRY_BASE_SECONDS = 0


def test_a_job_from_a_rolled_back_transaction_never_exists(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue("tests.cursive.job_funcs.record", name="never")
        raise RuntimeError("the purchase failed after queueing its receipt")
    assert not Job.objects.exists()
    assert callbacks == []


def test_enqueue_rejects_an_unknown_function():
    with pytest.raises(ImportError):
        job_enqueue("tests.cursive.job_funcs.nope")


def test_a_job_runs_once_however_often_it_is_delivered():
    job = job_enqueue("tests.cursive.job_funcs.record", name="once")
    assert job_run(job.pk) == "succeeded"
    assert job_run(job.pk) == "skipped"
    assert WorkerHeartbeat.objects.filter(name="once").count() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 1)


def test_failures_are_retried_with_backoff_then_left_for_staff(settings):
    settings.JOB_RETRY_BASE_SECONDS = 30
    job = job_enqueue("tests.cursive.job_funcs.explode", message="smtp down")
    assert job_run(job.pk) == "retrying"
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING and "smtp down" in job.last_error
    first_wait = (job.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < first_wait <= 30
    assert job_run(job.pk) == "skipped", "not due yet"
    waits = []
    for _ in range(3):
        Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
        job_run(job.pk)
        job.refresh_from_db()
        waits.append((job.next_attempt_at - timezone.now()).total_seconds())
    assert job.status == Job.Status.FAILED and job.attempts == 4
    assert 110 < waits[0] <= 120 and 470 < waits[1] <= 480, "30 s, 2 min, 8 min"


def test_staff_retry_gives_a_failed_job_new_attempts():
    job = job_enqueue("tests.cursive.job_funcs.fail_until_marked", name="fixed", max_attempts=1)
    assert job_run(job.pk) == "failed"
    WorkerHeartbeat.objects.create(name="fixed")
    job_retry(job_id=job.pk)
    assert job_run(job.pk) == "succeeded"


def test_sweeper_resends_lost_and_stuck_jobs(settings):
    job = job_enqueue("tests.cursive.job_funcs.record", name="lost")
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timezone.timedelta(minutes=5))
    stuck = job_enqueue("tests.cursive.job_funcs.record", name="stuck")
    # Marked running by a worker that is gone: nobody holds its lock.
    Job.objects.filter(pk=stuck.pk).update(status=Job.Status.RUNNING, started_at=timezone.now() - timezone.timedelta(hours=2))
    assert jobs_sweep() == 2
    stuck.refresh_from_db()
    assert stuck.status == Job.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_real_django_q2_worker_runs_queued_jobs_and_retries():
    ok = job_enqueue("tests.cursive.job_funcs.record", name="from-worker")
    flaky = job_enqueue("tests.cursive.job_funcs.fail_until_marked", name="flaky-fixed")
    env = child_env(JOB_RETRY_BASE_SECONDS=0, Q_WORKERS=1)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ok.refresh_from_db()
            flaky.refresh_from_db()
            # The attempt is counted when it starts: wait until it has also ended.
            if ok.status == Job.Status.SUCCEEDED and flaky.attempts >= 1 and flaky.status != Job.Status.RUNNING:
                break
            time.sleep(0.25)
        assert ok.status == Job.Status.SUCCEEDED
        assert WorkerHeartbeat.objects.filter(name="from-worker").count() == 1
        assert flaky.status == Job.Status.PENDING and "unreachable" in flaky.last_error
        # The cause is fixed; the next delivery (the sweeper's, in production) succeeds.
        WorkerHeartbeat.objects.create(name="flaky-fixed")
        _dispatch(flaky.pk)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and flaky.status != Job.Status.SUCCEEDED:
            time.sleep(0.25)
            flaky.refresh_from_db()
        assert flaky.status == Job.Status.SUCCEEDED and flaky.attempts == 2
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_dies_mid_run_is_handed_out_again_by_the_next_sweep():
    job = job_enqueue("tests.cursive.job_funcs.nap", seconds=60)
    runner = subprocess.Popen(
        [sys.executable, "-c", f"import django; django.setup(); from cursive.jobs import job_run; job_run({job.pk})"],
        cwd=REPO,
        env=child_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while Job.objects.get(pk=job.pk).status != Job.Status.RUNNING:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.1)
        jobs_sweep()
        assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING, "a job its worker is still running stays"
    finally:
        runner.kill()
        runner.wait(30)

    jobs_sweep()  # no waiting for Q_TIMEOUT: the dead worker's connection took the job's lock with it
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING and job.attempts == 1
