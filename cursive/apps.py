import datetime as dt

from django.apps import AppConfig
from django.db.models import Q
from django.db.models.signals import post_migrate


class CursiveConfig(AppConfig):
    name = "cursive"
    verbose_name = "Operations"

    def ready(self):
        from django.conf import settings
        from django_q.models import Schedule

        from cursive import retention
        from cursive.schedules import Recurring, ensure_schedules, register

        register(Recurring("worker heartbeat", "cursive.tasks.worker_heartbeat", Schedule.MINUTES, minutes=1))
        register(Recurring("dispatch due and lost jobs", "cursive.jobs.jobs_sweep", Schedule.MINUTES, minutes=1))
        register(Recurring("consistency check", "cursive.consistency.run_scheduled", Schedule.DAILY))
        register(Recurring("retention", "cursive.retention.retention_run", Schedule.HOURLY))
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="cursive.ensure_schedules")

        # Hourly limits (password resets) read the window before the current one too: two hours are kept.
        retention.register(
            "rate-limit counters", retention.Rule("cursive.RateLimitCounter", "window_start", lambda: dt.timedelta(hours=2))
        )
        retention.register(
            "idempotency records",
            retention.Rule(
                "cursive.IdempotencyRecord", "created_at", lambda: dt.timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
            ),
        )
        # Pending and running jobs are never old enough: only finished ones have a finished_at.
        retention.register(
            "succeeded jobs",
            retention.Rule("cursive.Job", "finished_at", retention.days("RETENTION_JOB_DAYS"), lambda: Q(status="succeeded")),
        )
        retention.register(
            "failed jobs",
            retention.Rule("cursive.Job", "finished_at", retention.days("RETENTION_FAILED_JOB_DAYS"), lambda: Q(status="failed")),
        )
        # django-q2 keeps Q_CLUSTER's save_limit successes itself but every failure forever; queued messages
        # (django_q_ormq) are the queue itself, deleted when acknowledged, and have no rule.
        retention.register(
            "django-q2 task results", retention.Rule("django_q.Task", "stopped", retention.days("RETENTION_TASK_DAYS"))
        )
        retention.register(
            "request statistics", retention.Rule("cursive.RequestStat", "hour", retention.days("RETENTION_REQUEST_STATS_DAYS"))
        )
        # Staff changes to money (adjustments, refunds, reviews) are accounting records: ten years by default.
        retention.register(
            "audit events", retention.Rule("cursive.AuditEvent", "created_at", retention.days("RETENTION_AUDIT_DAYS"))
        )
        retention.register("expired sessions", retention.Rule("sessions.Session", "expire_date", lambda: dt.timedelta(0)))
        # After the tables that point at events (webhook deliveries), which hold the events they still need.
        retention.register(
            "outbox events",
            retention.Rule("cursive.OutboxEvent", "created_at", retention.days("RETENTION_OUTBOX_EVENT_DAYS"), order=200),
        )
