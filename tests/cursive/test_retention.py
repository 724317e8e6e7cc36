"""cursive.retention: each rule deletes exactly the expired rows the product no longer needs, in bounded
batches, skipping rows in use, and a second run finds nothing."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import time

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule, Task

from cursive import retention
from cursive.audit import audit_record
from cursive.events import emit
from cursive.jobs import job_enqueue
from cursive.locks import try_lock_for_session, unlock_for_session
from cursive.models import AuditEvent, IdempotencyRecord, Job, OutboxEvent, RateLimitCounter, RequestStat
from cursive.observability import request_stats
from cursive.ratelimit import hit
from cursive.schedules import SCHEDULES
from tests.locking import held_elsewhere

pytestmark = pytest.mark.django_db


def _days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def test_one_hourly_schedule_runs_every_rule():
    recurring = SCHEDULES.get("retention")
    assert recurring.func == "cursive.retention.retention_run"
    replaced = importlib.import_module("cursive.migrations.0008_retention_indexes").REPLACED_SCHEDULES
    assert not set(replaced) & set(SCHEDULES)
    assert not Schedule.objects.filter(name__in=replaced).exists()
    assert Schedule.objects.filter(name="retention", func="cursive.retention.retention_run").exists()


def test_every_table_that_grows_with_traffic_has_a_rule():
    assert set(retention.RULES) == {
        "rate-limit counters",
        "idempotency records",
        "succeeded jobs",
        "failed jobs",
        "django-q2 task results",
        "request statistics",
        "audit events",
        "expired sessions",
        "outbox events",
        "webhook deliveries",
        "slack alert cool-downs",
        "handled events",
        "sequence activities",
        "emails read from mailboxes",
        "pixel event partitions",
    }


def test_rate_limit_counters_older_than_two_hours_go():
    hit("old", limit=10, window=60)
    hit("recent", limit=10, window=60)
    RateLimitCounter.objects.filter(key="old").update(window_start=int(time.time()) - 2 * 3600 - 60)

    assert retention.rule_apply(name="rate-limit counters") == 1
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["recent"]
    assert retention.rule_apply(name="rate-limit counters") == 0


def _job(status: str, finished_days_ago: float | None) -> Job:
    with transaction.atomic():
        job = job_enqueue("cursive.tasks.worker_heartbeat")
    finished_at = _days_ago(finished_days_ago) if finished_days_ago is not None else None
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=finished_at, created_at=_days_ago(400))
    return job


def test_finished_jobs_go_after_their_periods_and_unfinished_ones_never(settings):
    settings.RETENTION_JOB_DAYS, settings.RETENTION_FAILED_JOB_DAYS = 14, 90
    old_success = _job(Job.Status.SUCCEEDED, 15)
    _job(Job.Status.SUCCEEDED, 13)
    old_failure = _job(Job.Status.FAILED, 91)
    _job(Job.Status.FAILED, 15)
    _job(Job.Status.PENDING, None)
    _job(Job.Status.RUNNING, None)

    assert retention.rule_apply(name="succeeded jobs") == 1
    assert retention.rule_apply(name="failed jobs") == 1
    assert not Job.objects.filter(pk__in=[old_success.pk, old_failure.pk]).exists()
    assert Job.objects.count() == 4
    assert retention.rule_apply(name="succeeded jobs") == retention.rule_apply(name="failed jobs") == 0


def test_django_q_task_results_go_after_their_period(settings):
    settings.RETENTION_TASK_DAYS = 30
    for name, days, success in [("old failure", 31, False), ("old success", 31, True), ("recent failure", 29, False)]:
        Task.objects.create(
            id=name.replace(" ", "-"), name=name, func="f", started=_days_ago(days), stopped=_days_ago(days), success=success
        )

    assert retention.rule_apply(name="django-q2 task results") == 2
    assert list(Task.objects.values_list("name", flat=True)) == ["recent failure"]


def test_request_statistics_go_after_their_period(settings):
    settings.RETENTION_REQUEST_STATS_DAYS = 90
    request_stats.add("/old", "GET", 200, 3.0)
    request_stats.add("/recent", "GET", 200, 3.0)
    request_stats.flush()
    RequestStat.objects.filter(route="/old").update(hour=_days_ago(91))

    assert retention.rule_apply(name="request statistics") == 1
    assert list(RequestStat.objects.values_list("route", flat=True)) == ["/recent"]


def test_audit_rows_are_kept_ten_years_by_default_and_zero_keeps_them_all(settings):
    assert settings.RETENTION_AUDIT_DAYS == 3650
    old = audit_record(actor=None, action="credits.adjust", target="workspace:1")
    audit_record(actor=None, action="credits.adjust", target="workspace:2")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=_days_ago(3651))

    settings.RETENTION_AUDIT_DAYS = 0
    assert retention.rule_apply(name="audit events") == 0
    settings.RETENTION_AUDIT_DAYS = 3650
    assert retention.rule_apply(name="audit events") == 1
    assert list(AuditEvent.objects.values_list("target", flat=True)) == ["workspace:2"]


def test_expired_sessions_go():
    expired, live = SessionStore(), SessionStore()
    expired.create()
    live.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=_days_ago(1 / 24))

    assert retention.rule_apply(name="expired sessions") == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_idempotency_records_go_after_their_hours(tenant, settings):
    settings.IDEMPOTENCY_KEY_RETENTION_HOURS = 72
    for key in ("old", "new"):
        IdempotencyRecord.objects.create(workspace=tenant.workspace, key=key, request_fingerprint="f")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(hours=73))

    assert retention.rule_apply(name="idempotency records") == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_outbox_events_go_only_once_dispatched(tenant, settings):
    settings.RETENTION_OUTBOX_EVENT_DAYS = 30
    events = [emit(workspace=tenant.workspace, type="lead.updated", data={"id": n}) for n in range(4)]
    dispatched_old, dispatched_recent, undispatched_old = events[0], events[1], events[2]
    OutboxEvent.objects.exclude(pk=undispatched_old.pk).update(dispatched_at=timezone.now())
    OutboxEvent.objects.exclude(pk=dispatched_recent.pk).update(created_at=_days_ago(31))

    assert retention.rule_apply(name="outbox events") == 2
    assert dispatched_old.pk not in set(OutboxEvent.objects.values_list("pk", flat=True))
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {dispatched_recent.pk, undispatched_old.pk}


def _counters(n: int, *, age_seconds: int) -> None:
    window = int(time.time()) - age_seconds
    RateLimitCounter.objects.bulk_create([RateLimitCounter(key=f"k{i}", window_start=window - i % 3) for i in range(n)])


def test_batches_are_bounded_and_each_is_its_own_transaction():
    _counters(7, age_seconds=3 * 3600)
    _counters(2, age_seconds=60)

    with CaptureQueriesContext(connection) as queries:
        assert retention.rule_apply(name="rate-limit counters", batch_size=3) == 7
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    picks = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]]
    assert len(deletes) == 3 and len(picks) == 3
    assert [len(re.search(r" IN \(([^)]*)\)", sql)[1].split(",")) for sql in deletes] == [3, 3, 1]
    assert all("LIMIT 3" in sql for sql in picks)
    assert RateLimitCounter.objects.count() == 2
    assert retention.rule_apply(name="rate-limit counters", batch_size=3) == 0


def test_a_run_stops_between_batches_at_its_deadline():
    _counters(5, age_seconds=3 * 3600)
    assert retention.rule_apply(name="rate-limit counters", batch_size=2, deadline=time.monotonic() - 1) == 0
    assert RateLimitCounter.objects.count() == 5


def test_the_scheduled_run_applies_every_rule_and_a_second_run_deletes_nothing(tenant):
    _counters(4, age_seconds=3 * 3600)
    old = audit_record(actor=None, action="x", target="y")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=_days_ago(4000))

    removed = retention.retention_run()

    assert set(removed) == set(retention.RULES)
    assert removed["rate-limit counters"] == 4 and removed["audit events"] == 1
    assert not any(retention.retention_run().values())


@pytest.mark.django_db(transaction=True)
def test_a_row_in_use_is_skipped_not_waited_for():
    _counters(3, age_seconds=3 * 3600)
    held = RateLimitCounter.objects.order_by("pk").first()
    with held_elsewhere(lambda: RateLimitCounter.objects.select_for_update().get(pk=held.pk)):
        assert retention.rule_apply(name="rate-limit counters") == 2
        assert list(RateLimitCounter.objects.values_list("pk", flat=True)) == [held.pk]
    assert retention.rule_apply(name="rate-limit counters") == 1


@pytest.mark.django_db(transaction=True)
def test_one_run_at_a_time_across_workers():
    _counters(2, age_seconds=3 * 3600)

    def other_worker_runs() -> None:
        assert try_lock_for_session("cursive.retention")

    with held_elsewhere(other_worker_runs, lambda: unlock_for_session("cursive.retention")):
        assert retention.retention_run() == {}
        assert RateLimitCounter.objects.count() == 2
    assert retention.retention_run()["rate-limit counters"] == 2
