# Indexes on the age fields retention deletes by, built CONCURRENTLY: these tables take writes all the time.

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# The schedules that cursive.retention's one hourly job replaces.
REPLACED_SCHEDULES = ["prune rate-limit counters", "prune idempotency keys", "prune webhook deliveries", "prune handled events"]


def remove_replaced_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=REPLACED_SCHEDULES).delete()


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('accounts', '0005_onboarding_steps_backfill'),
        ('cursive', '0007_replica_fence'),
        ('django_q', '0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='auditevent',
            index=models.Index(fields=['created_at'], name='audit_created_idx'),
        ),
        AddIndexConcurrently(
            model_name='job',
            index=models.Index(condition=models.Q(('finished_at__isnull', False)), fields=['finished_at'], name='job_finished_idx'),
        ),
        # django-q2's task results, by when they finished (its own migrations have no such index).
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS cursive_q_task_stopped_idx ON django_q_task (stopped)",
            "DROP INDEX CONCURRENTLY IF EXISTS cursive_q_task_stopped_idx",
        ),
        migrations.RunPython(remove_replaced_schedules, migrations.RunPython.noop),
    ]
