from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CursiveConfig(AppConfig):
    name = "cursive"
    verbose_name = "Operations"

    def ready(self):
        from django_q.models import Schedule

        from cursive.schedules import Recurring, ensure_schedules, register

        register(Recurring("worker heartbeat", "cursive.tasks.worker_heartbeat", Schedule.MINUTES, minutes=1))
        register(Recurring("dispatch due and lost jobs", "cursive.jobs.jobs_sweep", Schedule.MINUTES, minutes=1))
        register(Recurring("consistency check", "cursive.consistency.run_scheduled", Schedule.DAILY))
        register(Recurring("prune rate-limit counters", "cursive.tasks.prune_rate_limit_counters", Schedule.HOURLY))
        register(Recurring("prune idempotency keys", "cursive.tasks.prune_idempotency_records", Schedule.HOURLY))
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="cursive.ensure_schedules")
